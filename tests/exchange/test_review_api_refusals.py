"""Review of the $bgz API: a refusal of the operation itself (after the policy) is on the requester's audit trail."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
from bgz_network import network
from directory.localization_nodes import BSNS

from samen.api.messages import FhirRequest
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.fhir.model import Model


def test_a_refused_bgz_call_is_audited(tmp_path: Path, database_url: str, model: Model) -> None:
    with network(tmp_path, database_url, model) as net:
        base = net.requester.settings.base_url
        answer = httpx.post(f"{base}/$bgz", headers={"Authorization": f"Bearer {net.own_token()}"}, timeout=60,
                            json={"resourceType": "Parameters", "parameter": [
                                {"name": "patient", "valueString": BSNS[1]},
                                {"name": "attestation", "valueString": net.attestation()}]})
        assert answer.status_code == 403, answer.text
        request = FhirRequest("GET", "AuditEvent", [("_count", "100")], base_url=base, access=OPERATOR_CONTEXT)
        events = [e["resource"] for e in orjson.loads(net.requester.router.handle(request).payload())["entry"]]
        calls = [e for e in events if "$bgz" in orjson.dumps(e).decode()]
        assert [e["outcome"] for e in calls] == ["8"]
