"""How the NL Generic Functions IG (care services, IHE mCSD) lists directories and endpoints: the codes the root
directory, the update client and the trust list export read and write.

The IG's LRZa example lists an organisation's administration directory as an Endpoint with payload type
``nl-gf-data-exchange-capabilities#…/CapabilityStatement/nl-gf-admin-directory-update-client`` and connection
type ``hl7-fhir-rest``, referred to from the organisation's ``Organization.endpoint``. Older versions of the IG
were published under the nuts-foundation canonical; a coding is recognised by the code's last path segment,
whichever canonical it has. An authorization server is an Endpoint whose ``connectionType`` comes from
``nl-gf-authorization-server-cs`` (``oauth2``); samen publishes the organisation's public keys (JWKS) as such an
Endpoint with ``payloadMimeType`` ``application/jwk-set+json`` (RFC 7517), since the IG names no JWKS element.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from samen.directory.codes import AUTHORIZATION_SERVER, CONNECTION_TYPE, IG_CANONICAL

DATA_EXCHANGE_CAPABILITIES = f"{IG_CANONICAL}/CodeSystem/nl-gf-data-exchange-capabilities"
ADMIN_DIRECTORY_CAPABILITY = f"{IG_CANONICAL}/CapabilityStatement/nl-gf-admin-directory-update-client"
FHIR_REST = "hl7-fhir-rest"
OAUTH2 = "oauth2"
JWK_SET_MIME = "application/jwk-set+json"
FHIR_JSON_MIME = "application/fhir+json"


def codings(value: Any) -> Iterable[dict[str, Any]]:
    """The codings of a Coding or a CodeableConcept (or a list of them), skipping anything malformed."""
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, dict):
            continue
        if "coding" in item:
            yield from (c for c in item.get("coding") or [] if isinstance(c, dict))
        else:
            yield item


def is_admin_directory(endpoint: dict[str, Any]) -> bool:
    """An Endpoint that lists an administration directory (its payload type names the update client's capability)."""
    suffix = ADMIN_DIRECTORY_CAPABILITY.rsplit("/", 1)[1]
    return any(str(c.get("code", "")).rsplit("/", 1)[-1] == suffix for c in codings(endpoint.get("payloadType")))


def connection_code(endpoint: dict[str, Any]) -> tuple[str, str]:
    coding = next(iter(codings(endpoint.get("connectionType"))), {})
    return str(coding.get("system", "")), str(coding.get("code", ""))


def is_fhir_rest(endpoint: dict[str, Any]) -> bool:
    return connection_code(endpoint) == (CONNECTION_TYPE, FHIR_REST)


def is_authorization_server(endpoint: dict[str, Any]) -> bool:
    system, _ = connection_code(endpoint)
    return system.rsplit("/", 1)[-1] == AUTHORIZATION_SERVER.rsplit("/", 1)[-1]


def is_jwks(endpoint: dict[str, Any]) -> bool:
    return JWK_SET_MIME in (endpoint.get("payloadMimeType") or [])


def admin_directory_endpoint(res_id: str, address: str, managing_ura: str) -> dict[str, Any]:
    """The Endpoint of an administration directory, as the IG's LRZa example shapes it."""
    return {
        "resourceType": "Endpoint", "id": res_id, "status": "active",
        "connectionType": {"system": CONNECTION_TYPE, "code": FHIR_REST},
        "payloadType": [{"coding": [{"system": DATA_EXCHANGE_CAPABILITIES, "code": ADMIN_DIRECTORY_CAPABILITY,
                                     "display": "Care Services Directory for Update Client"}]}],
        "payloadMimeType": [FHIR_JSON_MIME],
        "address": address,
        "managingOrganization": {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/ura",
                                                "value": managing_ura}},
    }
