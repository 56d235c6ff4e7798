"""FHIR Bulk Data: asynchronous ``$export`` (Bulk Data Access IG v2) and ``samen import``."""
