"""The medication overview: agreements (MedicationRequest), dispenses (MedicationDispense) and use
(MedicationStatement) of one person from every custodian (GP, pharmacy, hospital), in one chronological list.

Fetched with purpose ``medication-transfer`` (the custodians' ``medication-transfer`` rule: pharmacies, GP
practices and hospitals; physicians and pharmacists), de-duplicated by the rule of :mod:`samen.exchange.merge`,
newest first by the date that fits each kind (agreement: ``authoredOn`` or the start of its period of use;
dispense: ``whenHandedOver`` or ``whenPrepared``; use: ``effective[x]`` or ``dateAsserted``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from samen.auth.policy import MEDICATION
from samen.exchange.bgz_queries import MEDICATION_SECTION, scopes
from samen.exchange.merge import CustodianReport, Entry, Source, collection_bundle, merge, report

if TYPE_CHECKING:
    from samen.exchange.bgz import Exchange

MEDICATION_SCOPES = scopes((MEDICATION_SECTION,))
KINDS = {"MedicationRequest": "agreement", "MedicationDispense": "dispense", "MedicationStatement": "use"}


@dataclass(frozen=True)
class MedicationLine:
    kind: str  # "agreement" (MedicationRequest) | "dispense" | "use" (MedicationStatement)
    date: str  # FHIR date/dateTime used for the chronological order (newest first)
    medication: str  # display text
    status: str
    details: str  # dosage text etc.
    sources: tuple[Source, ...]
    resource: dict[str, Any]


@dataclass(frozen=True)
class MedicationOverview:
    bsn: str
    lines: tuple[MedicationLine, ...]
    custodians: tuple[CustodianReport, ...]
    elapsed_ms: float

    def to_bundle(self) -> dict[str, Any]:
        """A collection Bundle of the lines' resources in the overview's order, with their sources, and an
        OperationOutcome with an issue per custodian (how it answered or why not)."""
        entries = ((Entry(line.resource, line.sources), {}) for line in self.lines)
        return collection_bundle(entries, self.custodians, "medication overview")


def overview(exchange: Exchange, bsn: str, *, attestation: str, timeout_s: float | None) -> MedicationOverview:
    started = time.perf_counter()
    answers = exchange.fetch(bsn, MEDICATION, MEDICATION_SCOPES, attestation, (MEDICATION_SECTION,), timeout_s)
    medications = {(fetched.custodian.ura, f"Medication/{r.get('id')}"): r for fetched in answers
                   for r in fetched.resources.get(MEDICATION_SECTION.code, []) if r.get("resourceType") == "Medication"}
    entries = [entry for entry in merge((fetched, fetched.resources.get(MEDICATION_SECTION.code, []))
                                        for fetched in answers)  # with the Medications the agreements refer to
               if entry.resource.get("resourceType") in KINDS]
    lines = sorted((line(entry, medications) for entry in entries), key=lambda ln: ln.date, reverse=True)
    return MedicationOverview(bsn, tuple(lines), tuple(report(fetched) for fetched in answers),
                              round((time.perf_counter() - started) * 1000, 1))


def line(entry: Entry, medications: dict[tuple[str, str], dict[str, Any]]) -> MedicationLine:
    resource = entry.resource
    res_type = resource["resourceType"]
    if res_type == "MedicationRequest":
        period = _first(resource.get("dosageInstruction")).get("timing", {}).get("repeat", {}).get("boundsPeriod", {})
        date = resource.get("authoredOn") or period.get("start", "")
        details = _dosage(resource.get("dosageInstruction"))
    elif res_type == "MedicationDispense":
        date = resource.get("whenHandedOver") or resource.get("whenPrepared", "")
        quantity = resource.get("quantity") or {}
        amount = " ".join(str(quantity[k]) for k in ("value", "unit") if quantity.get(k) is not None)
        details = "; ".join(part for part in (_dosage(resource.get("dosageInstruction")), amount) if part)
    else:
        date = (resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
                or resource.get("dateAsserted", ""))
        details = _dosage(resource.get("dosage"))
    return MedicationLine(KINDS[res_type], date, _medication_text(resource, entry.sources[0].ura, medications),
                          resource.get("status", ""), details, entry.sources, resource)


def _medication_text(resource: dict[str, Any], ura: str, medications: dict[tuple[str, str], dict[str, Any]]) -> str:
    concept = resource.get("medicationCodeableConcept")
    reference = resource.get("medicationReference") or {}
    if concept is None:
        concept = medications.get((ura, reference.get("reference", "")), {}).get("code")
    if concept:
        return concept.get("text") or next((c.get("display") for c in concept.get("coding") or []
                                            if c.get("display")), "") or next(
            (c.get("code") for c in concept.get("coding") or [] if c.get("code")), "")
    return reference.get("display", "")


def _dosage(dosages: Any) -> str:
    return "; ".join(d["text"] for d in dosages or [] if isinstance(d, dict) and d.get("text"))


def _first(items: Any) -> dict[str, Any]:
    return items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
