"""The medication overview across GP, pharmacy and hospital on real nodes: chronological, with source and status."""

from __future__ import annotations

from pathlib import Path

from auth.orgs import TEST_BSN
from bgz_network import HOSPITAL_URA, NURSING_URA, PHARMACY_URA, PRACTICE_URA, bundle_resources, network

from samen.fhir.model import Model


def test_agreements_dispenses_and_use_newest_first_with_sources(tmp_path: Path, database_url: str,
                                                                model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        overview = net.requester.services["exchange"].medication_overview(TEST_BSN, attestation=net.attestation())
    lines = [(ln.kind, ln.date, ln.medication, ln.status, ln.details, [s.ura for s in ln.sources])
             for ln in overview.lines]
    assert lines == [
        ("dispense", "2026-10-02T10:00:00+02:00", "Metformine 500 mg tablet", "completed",
         "2 maal daags 1 tablet; 90 tablet", [PHARMACY_URA]),
        ("agreement", "2026-09-15", "Metformine 500 mg tablet", "active", "2 maal daags 1 tablet", [HOSPITAL_URA]),
        ("use", "2025-02-01", "Simvastatine 20 mg tablet", "active", "1 maal daags 1 tablet, 's avonds", [PRACTICE_URA]),
        ("agreement", "2025-01-10", "Simvastatine 20 mg tablet", "active", "1 maal daags 1 tablet", [PRACTICE_URA]),
    ]
    reports = {r.ura: r.status for r in overview.custodians}
    assert reports == {HOSPITAL_URA: "ok", PRACTICE_URA: "ok", PHARMACY_URA: "ok", NURSING_URA: "refused"}
    bundle = overview.to_bundle()
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "MedicationDispense", "MedicationRequest", "MedicationStatement", "MedicationRequest", "OperationOutcome"]
    assert NURSING_URA in bundle_resources(bundle, "OperationOutcome")[0]["issue"][0]["diagnostics"]
