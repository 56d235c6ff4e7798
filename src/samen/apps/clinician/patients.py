"""Finding a patient among this node's own Patients, through the node's Router as the signed-in professional.

Going through the Router (policy, enforcement, audit) rather than the store means every search and read of a
clinician is in the node's audit trail under the professional's UZI number, as NEN 7513 asks. The access is the
organisation's own (purpose ``admin``: the policy lets an organisation read its own data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from samen.api.messages import FhirRequest
from samen.api.router import Router
from samen.auth import policy
from samen.auth.context import AccessContext, Professional
from samen.fhir.outcome import FhirError
from samen.sample import BSN, elfproef

MAX_RESULTS = 50


@dataclass(frozen=True)
class PatientSummary:
    id: str
    name: str
    birth_date: str
    gender: str
    bsn: str


class SearchError(ValueError):
    """The search form is not usable; the message is a key of the page texts, ``fields`` the inputs it is about."""

    def __init__(self, message: str, fields: tuple[str, ...]) -> None:
        super().__init__(message)
        self.fields = fields


class Patients:
    def __init__(self, router: Router, base_url: str, ura: str) -> None:
        self.router = router
        self.base_url = base_url
        self.ura = ura

    def by_bsn(self, professional: Professional, bsn: str) -> list[PatientSummary]:
        bsn = "".join(bsn.split())
        if not elfproef(bsn):
            raise SearchError("bsn_invalid", ("bsn",))
        return self._search(professional, [("identifier", f"{BSN}|{bsn}")], ("bsn",))

    def by_name(self, professional: Professional, name: str, birth_date: str) -> list[PatientSummary]:
        name, birth_date = " ".join(name.split()), birth_date.strip()
        if not name or not birth_date:
            empty = tuple(field for field, value in (("name", name), ("birth_date", birth_date)) if not value)
            raise SearchError("name_and_birth_date", empty)
        if len(birth_date) != 10 or birth_date[4] != "-" or birth_date[7] != "-":
            raise SearchError("birth_date_invalid", ("birth_date",))
        return self._search(professional, [("name", name), ("birthdate", birth_date)], ("name", "birth_date"))

    def get(self, professional: Professional, patient_id: str) -> PatientSummary | None:
        """The node's Patient ``patient_id``, or None when it has none by that id."""
        try:
            resource = self._call(professional, "GET", f"Patient/{patient_id}", [])
        except FhirError as error:
            if error.status in (404, 410):
                return None
            raise
        return summary(resource)

    def _search(self, professional: Professional, params: list[tuple[str, str]],
                fields: tuple[str, ...]) -> list[PatientSummary]:
        try:
            bundle = self._call(professional, "GET", "Patient", [*params, ("_count", str(MAX_RESULTS))])
        except FhirError as error:
            if error.status == 400:
                raise SearchError("search_invalid", fields) from error
            raise
        return [summary(entry["resource"]) for entry in bundle.get("entry") or () if "resource" in entry]

    def _call(self, professional: Professional, method: str, path: str,
              params: list[tuple[str, str]]) -> dict[str, Any]:
        access = AccessContext(kind=policy.SYSTEM, client_ura=self.ura, purpose=policy.ADMINISTRATION,
                               professional=professional, scopes=frozenset({"system/Patient.rs"}))
        request = FhirRequest(method, path, params, base_url=self.base_url, access=access, client="clinician-view")
        return orjson.loads(self.router.handle(request).payload() or b"{}")


def summary(patient: dict[str, Any]) -> PatientSummary:
    """The lines the pages show of a Patient."""
    bsn = next((i.get("value", "") for i in patient.get("identifier") or () if i.get("system") == BSN), "")
    return PatientSummary(patient.get("id", ""), person_name(patient), patient.get("birthDate", ""),
                          patient.get("gender", ""), bsn)


def person_name(resource: dict[str, Any]) -> str:
    names = resource.get("name") or []
    if not names:
        return ""
    name = next((n for n in names if n.get("use") == "official"), names[0])
    if name.get("text"):
        return str(name["text"])
    return " ".join([*name.get("given", []), name.get("family", "")]).strip()
