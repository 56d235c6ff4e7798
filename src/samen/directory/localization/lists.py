"""The IG's localization List (nl-gf-localization-list): reading a registration out of one, writing one back.

Only what the profile allows is accepted, so nothing but the columns of a registration can reach the
index (an extra element could carry a name or a BSN, and the index keeps no resource bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from samen.directory.categories import SYSTEM as CATEGORY_SYSTEM
from samen.directory.categories import category, codes
from samen.directory.localization.storage import Registration
from samen.directory.localization_client import CUSTODIAN_EXTENSION, LIST_PROFILE, registration_list
from samen.directory.pseudonyms import TOKEN_SYSTEM, is_ura
from samen.fhir import outcome
from samen.sample import URA

_ALLOWED = frozenset({"resourceType", "id", "meta", "extension", "status", "mode", "code", "subject", "emptyReason",
                      "date", "title"})
_WITHHELD = "withheld"


@dataclass(frozen=True)
class Submitted:
    """A registration as sent: the transport token (still sealed), the category and the custodian's URA."""

    token: str
    category: str
    custodian: str


def read_submission(body: Any) -> Submitted:
    """The registration a List asks for; 400/422 with the element at fault otherwise."""
    if not isinstance(body, dict) or body.get("resourceType") != "List":
        raise outcome.bad_request("Send one List resource (nl-gf-localization-list)")
    unknown = sorted(set(body) - _ALLOWED)
    if unknown:
        raise _invalid(f"List.{unknown[0]} is not part of nl-gf-localization-list", f"List.{unknown[0]}")
    if body.get("status") != "current":
        raise _invalid("List.status must be 'current'", "List.status")
    if body.get("mode") != "working":
        raise _invalid("List.mode must be 'working'", "List.mode")
    reason = body.get("emptyReason")
    if reason is not None and _codes(reason) != [_WITHHELD]:
        raise _invalid("List.emptyReason must be 'withheld' when present", "List.emptyReason")
    return Submitted(_token(body.get("subject")), _category(body.get("code")), _custodian(body.get("extension")))


def search_token(value: str) -> str:
    """The transport token of a ``subject:identifier`` search value (``system|value``)."""
    system, bar, token = value.partition("|")
    if not bar or system != TOKEN_SYSTEM or not token:
        raise outcome.bad_request(f"subject:identifier must be {TOKEN_SYSTEM}|[transport token]")
    return token


def search_category(value: str) -> str:
    system, bar, code = value.rpartition("|")
    if (bar and system != CATEGORY_SYSTEM) or code not in codes():
        raise outcome.bad_request(f"code '{value}' is not a code of {CATEGORY_SYSTEM}")
    return code


def search_custodian(value: str) -> str:
    system, bar, ura = value.rpartition("|")
    if (bar and system != URA) or not is_ura(ura):
        raise outcome.bad_request(f"custodian '{value}' is not a URA ({URA}|[8 digits])")
    return ura


def as_list(registration: Registration, token: str | None) -> dict[str, Any]:
    """A registration as the IG's List; ``subject`` carries ``token`` (the requester's own) when given."""
    resource = registration_list(token or "", registration.category, registration.custodian)
    registered = datetime.fromtimestamp(registration.registered_ms / 1000, UTC).isoformat(timespec="milliseconds")
    resource["id"] = registration.id
    resource["meta"] = {"profile": [LIST_PROFILE], "lastUpdated": registered.replace("+00:00", "Z")}
    concept = category(registration.category)
    if concept is not None:
        resource["code"]["coding"][0]["display"] = concept.display
    if token is None:
        del resource["subject"]
    return resource


def _token(subject: Any) -> str:
    identifier = subject.get("identifier") if isinstance(subject, dict) else None
    if not isinstance(identifier, dict) or identifier.get("system") != TOKEN_SYSTEM:
        raise _invalid(f"List.subject.identifier must have system {TOKEN_SYSTEM}", "List.subject.identifier")
    value = identifier.get("value")
    if not isinstance(value, str) or not value:
        raise _invalid("List.subject.identifier.value must hold the transport token", "List.subject.identifier.value")
    if "reference" in subject:
        raise _invalid("List.subject names the person by identifier only", "List.subject.reference")
    return value


def _category(code: Any) -> str:
    found = [c.get("code") for c in _codings(code) if c.get("system") == CATEGORY_SYSTEM]
    if len(found) != 1 or not isinstance(found[0], str) or found[0] not in codes():
        raise _invalid(f"List.code must hold one code of {CATEGORY_SYSTEM}", "List.code")
    return found[0]


def _custodian(extensions: Any) -> str:
    listed = extensions if isinstance(extensions, list) else []
    found = [e for e in listed if isinstance(e, dict) and e.get("url") == CUSTODIAN_EXTENSION]
    if not isinstance(extensions, list) or len(found) != 1 or len(found) != len(extensions):
        raise _invalid(f"List.extension must be exactly one {CUSTODIAN_EXTENSION}", "List.extension")
    reference = found[0].get("valueReference")
    identifier = reference.get("identifier") if isinstance(reference, dict) else None
    value = identifier.get("value") if isinstance(identifier, dict) else None
    if (not isinstance(identifier, dict) or identifier.get("system") != URA or not isinstance(value, str)
            or not is_ura(value)):
        raise _invalid(f"the custodian must be a reference by identifier {URA}|[8 digits]", "List.extension")
    return value


def _codes(concept: Any) -> list[str]:
    return [c.get("code") for c in _codings(concept)]


def _codings(concept: Any) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept that are objects; none when it is malformed (a 4xx, never a 500)."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _invalid(diagnostics: str, expression: str) -> outcome.FhirError:
    return outcome.unprocessable(diagnostics, [expression])
