"""samen: the Dutch national network for health-data exchange, one FHIR R4 node package."""

__version__ = "0.1.0"
