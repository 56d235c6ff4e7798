"""One de-duplicated list of entries from the answers of several custodians; every entry names all its sources.

Two resources are the same entry when they are of the same type and

1. share a business identifier (``identifier`` with system and value: the Patient by BSN, a medication
   agreement copied from the GP's system into the hospital's with its original identifier), or
2. have the same content for the same clinical fact: equal after leaving out what differs per custodian by
   construction — ``id``, ``meta``, the narrative ``text``, and the literal ``reference`` strings (local ids
   at each custodian), keeping the identifiers and displays of references. A reference to a resource in the
   same answer (the Medication of an agreement) counts by that resource's content, so agreements for two
   different medications stay two entries; a reference to the Patient counts as the person (answers are
   screened to be about the person, :mod:`samen.exchange.screening`).

Anything else is kept apart, even if it looks alike (two blood pressures with different values are two
facts). Within one custodian a resource found by two queries is one entry. The first custodian (in the
index's order) to send a resource provides the copy that is shown; the order of entries is the order in
which they were first seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from samen.exchange.retrieval import OK, Fetched
from samen.fhir.outcome import Issue, operation_outcome
from samen.sample import URA

SOURCE_EXTENSION = "http://samen.nl/fhir/StructureDefinition/exchange-source"  # entry: a custodian holding it
SECTION_EXTENSION = "http://samen.nl/fhir/StructureDefinition/exchange-section"  # entry: its BgZ section
_ISSUE_CODES = {"refused": "forbidden", "timeout": "timeout", "unreachable": "transient", "not-found": "not-found",
                "error": "exception"}


@dataclass(frozen=True)
class CustodianReport:
    """How one custodian the index named answered."""

    ura: str
    name: str
    fhir_base: str
    status: str  # "ok" | "refused" | "timeout" | "unreachable" | "error" | "not-found" (no endpoint)
    reason: str  # human-readable (English), e.g. the OperationOutcome text of a 403 consent deny
    elapsed_ms: float
    entries: int


@dataclass(frozen=True)
class Source:
    """Where an entry came from: the custodian and the resource's "Type/id" there."""

    ura: str
    name: str
    reference: str


@dataclass(frozen=True)
class Entry:
    resource: dict[str, Any]  # the FHIR resource as the (first) custodian sent it
    sources: tuple[Source, ...]  # every custodian that holds it (de-duplicated copies)


def report(fetched: Fetched) -> CustodianReport:
    custodian = fetched.custodian
    return CustodianReport(custodian.ura, custodian.name, custodian.fhir_base, fetched.status, fetched.reason,
                           round(fetched.elapsed_ms, 1), fetched.count)


def merge(answers: Iterable[tuple[Fetched, list[dict[str, Any]]]]) -> list[Entry]:
    """The entries of ``answers`` (a custodian and what it sent, in order), de-duplicated."""
    entries: list[tuple[dict[str, Any], list[Source]]] = []
    by_key: dict[str, int] = {}
    for fetched, resources in answers:
        custodian = fetched.custodian
        targets = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources if r.get("resourceType") != "Patient"}
        for resource in resources:
            reference = f"{resource.get('resourceType')}/{resource.get('id')}"
            source = Source(custodian.ura, custodian.name, reference)
            keys = _keys(resource, custodian.ura, targets)
            index = next((by_key[key] for key in keys if key in by_key), None)
            if index is None:
                index = len(entries)
                entries.append((resource, [source]))
            elif source not in entries[index][1]:
                entries[index][1].append(source)
            for key in keys:
                by_key.setdefault(key, index)
    return [Entry(resource, tuple(sources)) for resource, sources in entries]


def _keys(resource: dict[str, Any], ura: str, targets: dict[str, dict[str, Any]]) -> list[str]:
    """The keys under which ``resource`` is the same entry as another (see the module's rule); ``targets``: the
    custodian's resources by "Type/id" (but its Patients), what a reference counts by."""
    res_type = resource.get("resourceType", "")
    keys = [f"local|{ura}|{res_type}/{resource.get('id')}"]
    keys.extend(f"identifier|{res_type}|{i['system']}|{i['value']}" for i in resource.get("identifier") or []
                if isinstance(i, dict) and i.get("system") and i.get("value"))
    keys.append("content|" + orjson.dumps(_comparable(resource, targets), option=orjson.OPT_SORT_KEYS).decode())
    return keys


def _comparable(value: Any, targets: dict[str, dict[str, Any]], top: bool = True) -> Any:
    """``value`` without what differs per custodian; a reference to one of ``targets`` by the target's content
    (one level deep: the target's own references are left out)."""
    if isinstance(value, dict):
        if top:
            return {key: _comparable(item, targets, False) for key, item in value.items()
                    if key not in ("id", "meta", "text")}
        comparable = {key: _comparable(item, targets, False) for key, item in value.items() if key != "reference"}
        target = targets.get(value["reference"]) if isinstance(value.get("reference"), str) else None
        if target is not None:
            comparable["reference"] = _comparable(target, {})
        return comparable
    if isinstance(value, list):
        return [_comparable(item, targets, False) for item in value]
    return value


def source_extensions(entry: Entry, bases: dict[str, str]) -> list[dict[str, Any]]:
    """One extension per source: the custodian (URA identifier and name) and the resource's URL there."""
    return [{"url": SOURCE_EXTENSION, "extension": [
        {"url": "custodian", "valueReference": {"identifier": {"system": URA, "value": source.ura},
                                                "display": source.name or source.ura}},
        {"url": "resource", "valueUri": f"{bases.get(source.ura, '')}/{source.reference}"},
    ]} for source in entry.sources]


def collection_bundle(entries: Iterable[tuple[Entry, dict[str, Any]]], reports: tuple[CustodianReport, ...],
                      what: str) -> dict[str, Any]:
    """A Bundle of type collection: each entry (with extra entry extensions) with its fullUrl at its first
    custodian and an extension per source, then one OperationOutcome with an issue per custodian (first those
    that did not answer, then those that did) and a summary."""
    bases = {r.ura: r.fhir_base for r in reports}
    bundle_entries = []
    for entry, extra in entries:
        first = entry.sources[0]
        bundle_entries.append({"fullUrl": f"{bases.get(first.ura, '')}/{first.reference}",
                               "extension": [*source_extensions(entry, bases), *extra.get("extension", [])],
                               "resource": entry.resource})
    issues = [Issue("warning" if r.status == "refused" else "error", _ISSUE_CODES.get(r.status, "exception"),
                    f"{r.name or r.ura} (URA {r.ura}): {r.status}: {r.reason}")
              for r in reports if r.status != OK]
    issues.extend(Issue("information", "informational", f"{r.name or r.ura} (URA {r.ura}): ok: {r.entries} resources "
                                                        f"in {r.elapsed_ms:.0f} ms{'; ' + r.reason if r.reason else ''}")
                  for r in reports if r.status == OK)
    ok = sum(1 for r in reports if r.status == OK)
    issues.append(Issue("information", "informational", f"{what}: {ok} of {len(reports)} custodians answered"))
    bundle_entries.append({"resource": operation_outcome(issues)})
    return {"resourceType": "Bundle", "type": "collection", "entry": bundle_entries}
