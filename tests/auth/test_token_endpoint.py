"""The token endpoint over real HTTP: SMART Backend Services with private_key_jwt client assertions."""

from __future__ import annotations

import httpx
from orgs import TEST_BSN, Organisation, ProfessionalIdp, get_token, request_token

from samen.auth.context import Professional
from samen.node import Node


def test_a_trusted_organisation_gets_a_token_bound_to_its_context(node: Node, practice: Organisation,
                                                                    dezi: ProfessionalIdp) -> None:
    base = node.settings.base_url
    answer = request_token(base, practice, scopes="system/Patient.rs system/Observation.rs", purpose="bgz",
                           professional=dezi.attestation(practice, uzi="900000001", role="01.015"),
                           patient=TEST_BSN)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Observation.rs system/Patient.rs"
    assert answer.headers["cache-control"] == "no-store"
    context = node.auth.validator.validate(body["access_token"], audience=base)
    assert context.kind == "system" and context.client_ura == practice.ura and context.client_type == "Z3"
    assert context.professional == Professional("900000001", "01.015", practice.ura, "Dr. A. Jansen")
    assert context.purpose == "bgz" and context.patient_bsn == TEST_BSN
    assert context.scopes == frozenset({"system/Patient.rs", "system/Observation.rs"})
