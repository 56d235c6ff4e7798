"""Web applications served by a node on top of the network: the clinician view (:mod:`samen.apps.clinician`)."""
