"""The token endpoint over real HTTP: SMART Backend Services with private_key_jwt client assertions.

Every refusal is an OAuth error (RFC 6749 section 5.2) that names no internal detail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from joserfc.jwk import ECKey, RSAKey
from orgs import TEST_BSN, Organisation, ProfessionalIdp, get_token, request_token, write_trust_list
from serving import served_node

from samen.auth.context import Professional
from samen.fhir.model import Model
from samen.node import Node


def refused(answer: httpx.Response, status: int, error: str) -> str:
    """Assert an OAuth error answer; its description, which must not reveal internals."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    assert answer.headers["cache-control"] == "no-store"
    for internal in ("Traceback", ".py", "kid", "jwks", "Error", "signature", "trust list"):
        assert internal not in body["error_description"], body
    return body["error_description"]


def endpoint(node: Node) -> str:
    return f"{node.settings.base_url}/auth/token"


def test_a_trusted_organisation_gets_a_token_bound_to_its_context(node: Node, practice: Organisation,
                                                                    dezi: ProfessionalIdp) -> None:
    base = node.settings.base_url
    answer = request_token(base, practice, scopes="system/Patient.rs system/Observation.rs", purpose="bgz",
                           professional=dezi.attestation(practice, uzi="900000001", role="01.015"),
                           patient=TEST_BSN, task="task-1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/Observation.rs system/Patient.rs"
    assert answer.headers["cache-control"] == "no-store"
    context = node.auth.validator.validate(body["access_token"], audience=base)
    assert context.kind == "system" and context.client_ura == practice.ura and context.client_type == "Z3"
    assert context.professional == Professional("900000001", "01.015", practice.ura, "Dr. A. Jansen")
    assert context.purpose == "bgz" and context.patient_bsn == TEST_BSN and context.task == "task-1"
    assert context.scopes == frozenset({"system/Patient.rs", "system/Observation.rs"})


def test_without_professional_or_patient_the_token_is_bound_to_neither(node: Node, practice: Organisation) -> None:
    token = get_token(node.settings.base_url, practice, scopes="system/Organization.rs", purpose="directory-query")
    context = node.auth.validator.validate(token, audience=node.settings.base_url)
    assert context.professional is None and not context.patient_bound and context.purpose == "directory-query"


def test_discovery_advertises_private_key_jwt_with_es256_and_the_public_keys(node: Node,
                                                                            hospital: Organisation) -> None:
    base = node.settings.base_url
    configuration = httpx.get(f"{base}/.well-known/smart-configuration").json()
    assert configuration["token_endpoint"] == f"{base}/auth/token"
    assert configuration["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert configuration["token_endpoint_auth_signing_alg_values_supported"] == ["ES256"]
    assert configuration["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in configuration["capabilities"]
    assert configuration["jwks_uri"] == f"{base}/.well-known/jwks.json"
    published = httpx.get(configuration["jwks_uri"]).json()
    assert published == hospital.keys.public_jwks()
    assert all("d" not in key for key in published["keys"])


# -- client authentication: 401 invalid_client --------------------------------------------------


def test_a_forged_signature_is_refused(node: Node, practice: Organisation) -> None:
    impostor = ECKey.generate_key("P-256", {"kid": practice.keys.current().kid}, private=True)
    assertion = practice.assertion(endpoint(node), key=impostor)
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_an_organisation_not_in_the_trust_list_is_refused(node: Node, tmp_path: Path) -> None:
    stranger = Organisation.create(tmp_path, "11112222", "Onbekende Kliniek")
    refused(request_token(node.settings.base_url, stranger), 401, "invalid_client")


def test_a_revoked_organisation_is_refused(node: Node, practice: Organisation, dezi: ProfessionalIdp,
                                           trust_file: Path) -> None:
    assert request_token(node.settings.base_url, practice).status_code == 200
    write_trust_list(trust_file, [practice.entry(active=False)], [dezi.entry()])
    time.sleep(1.1)  # the trust list is looked at again once a second
    refused(request_token(node.settings.base_url, practice), 401, "invalid_client")


def test_an_expired_assertion_is_refused(node: Node, practice: Organisation) -> None:
    past = int(time.time()) - 600
    assertion = practice.assertion(endpoint(node), iat=past, nbf=past, exp=past + 60)
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_an_assertion_valid_for_more_than_five_minutes_is_refused(node: Node, practice: Organisation) -> None:
    assertion = practice.assertion(endpoint(node), lifetime_s=3600)
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_an_assertion_for_another_token_endpoint_is_refused(node: Node, practice: Organisation) -> None:
    assertion = practice.assertion("https://elders.test/fhir/auth/token")
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_an_assertion_whose_subject_is_not_its_issuer_is_refused(node: Node, practice: Organisation) -> None:
    assertion = practice.assertion(endpoint(node), sub="11112222")
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_a_replayed_assertion_is_refused(node: Node, practice: Organisation) -> None:
    assertion = practice.assertion(endpoint(node))
    assert request_token(node.settings.base_url, practice, assertion=assertion).status_code == 200
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_an_assertion_without_jti_is_refused(node: Node, practice: Organisation) -> None:
    assertion = practice.assertion(endpoint(node), jti="")
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_the_none_algorithm_is_refused(node: Node, practice: Organisation) -> None:
    assertion = resigned(practice.assertion(endpoint(node)), {"alg": "none", "kid": practice.keys.current().kid},
                         lambda _: b"")
    assert assertion.endswith(".")
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


@pytest.mark.parametrize("secret", ["pem", "jwk"])
def test_hs256_with_the_public_key_as_secret_is_refused(node: Node, practice: Organisation, secret: str) -> None:
    key = practice.keys.current()
    public = key.as_pem(private=False) if secret == "pem" else orjson.dumps(key.as_dict(private=False))
    assertion = resigned(practice.assertion(endpoint(node)), {"alg": "HS256", "kid": key.kid, "typ": "JWT"},
                         lambda signing_input: hmac.new(public, signing_input, hashlib.sha256).digest())
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def resigned(token: str, header: dict, signature: Callable[[bytes], bytes]) -> str:
    """``token``'s claims under another header and signature (the algorithm confusion attacks)."""
    head = base64.urlsafe_b64encode(orjson.dumps(header)).decode().rstrip("=")
    signing_input = f"{head}.{token.split('.')[1]}"
    return f"{signing_input}.{base64.urlsafe_b64encode(signature(signing_input.encode())).decode().rstrip('=')}"


def test_rs256_is_refused(node: Node, practice: Organisation) -> None:
    rsa = RSAKey.generate_key(2048, {"kid": practice.keys.current().kid}, private=True)
    assertion = practice.assertion(endpoint(node), header={"alg": "RS256", "kid": rsa.kid}, key=rsa)
    refused(request_token(node.settings.base_url, practice, assertion=assertion), 401, "invalid_client")


def test_a_request_without_client_assertion_is_refused(node: Node) -> None:
    answer = httpx.post(endpoint(node), data={"grant_type": "client_credentials", "scope": "system/Patient.rs",
                                              "purpose_of_use": "bgz"})
    refused(answer, 401, "invalid_client")
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_client"'


def test_a_client_id_other_than_the_assertion_issuer_is_refused(node: Node, practice: Organisation) -> None:
    refused(request_token(node.settings.base_url, practice, client_id="11112222"), 401, "invalid_client")


# -- the requested context: 400 -------------------------------------------------------------------


@pytest.mark.parametrize("scopes", ["", "system/Unknown.rs", "patient/Patient.rs", "user/Patient.rs",
                                    "system/Patient.read", "system/Patient.sr", "system/Patient.rs?code=x", "admin"])
def test_a_missing_or_invalid_scope_is_refused(node: Node, practice: Organisation, scopes: str) -> None:
    refused(request_token(node.settings.base_url, practice, scopes=scopes), 400, "invalid_scope")


@pytest.mark.parametrize("purpose", [None, "", "research", "BGZ"])
def test_a_missing_or_unknown_purpose_is_refused(node: Node, practice: Organisation, purpose: str | None) -> None:
    description = refused(request_token(node.settings.base_url, practice, purpose=purpose), 400, "invalid_request")
    assert "purpose_of_use" in description


@pytest.mark.parametrize("bsn", ["999911121", "12345678", "abcdefghi", "000000000", ""])
def test_a_patient_that_is_not_a_valid_bsn_is_refused(node: Node, practice: Organisation, bsn: str) -> None:
    refused(request_token(node.settings.base_url, practice, patient=bsn), 400, "invalid_request")


def test_a_task_that_is_not_a_resource_id_is_refused(node: Node, practice: Organisation) -> None:
    refused(request_token(node.settings.base_url, practice, task="Task/1?x"), 400, "invalid_request")


def test_an_attestation_for_another_organisation_is_refused(node: Node, practice: Organisation,
                                                              dezi: ProfessionalIdp) -> None:
    answer = request_token(node.settings.base_url, practice, professional=dezi.attestation("11112222"))
    refused(answer, 400, "invalid_grant")


def test_an_attestation_by_an_untrusted_identity_provider_is_refused(node: Node, practice: Organisation) -> None:
    rogue = ProfessionalIdp.create("https://dezi.test")  # the trusted issuer's name, but another key
    refused(request_token(node.settings.base_url, practice, professional=rogue.attestation(practice)),
            400, "invalid_grant")
    unknown = ProfessionalIdp.create("https://elders.test")
    refused(request_token(node.settings.base_url, practice, professional=unknown.attestation(practice)),
            400, "invalid_grant")


def test_an_attestation_by_a_citizen_identity_provider_is_refused(node: Node, practice: Organisation,
                                                                    dezi: ProfessionalIdp, trust_file: Path) -> None:
    digid = ProfessionalIdp.create("https://digid.test")
    write_trust_list(trust_file, [practice.entry()], [dezi.entry(), digid.entry(kind="citizen")])
    time.sleep(1.1)
    refused(request_token(node.settings.base_url, practice, professional=digid.attestation(practice)),
            400, "invalid_grant")


@pytest.mark.parametrize("claims", [{"exp": int(time.time()) - 120}, {"exp": int(time.time()) + 7200},
                                    {"uzi": ""}, {"sub": "900000002"}, {"iat": None}])
def test_an_expired_too_long_or_incomplete_attestation_is_refused(node: Node, practice: Organisation,
                                                                    dezi: ProfessionalIdp, claims: dict) -> None:
    attestation = dezi.attestation(practice, **claims)
    refused(request_token(node.settings.base_url, practice, professional=attestation), 400, "invalid_grant")


# -- the form itself -----------------------------------------------------------------------------


def test_only_the_client_credentials_grant_is_supported(node: Node, practice: Organisation) -> None:
    refused(request_token(node.settings.base_url, practice, grant_type="password"), 400, "unsupported_grant_type")


def test_a_parameter_given_twice_is_refused(node: Node, practice: Organisation) -> None:
    form = urlencode([("grant_type", "client_credentials"), ("scope", "system/Patient.rs"), ("scope", "system/*.rs")])
    answer = httpx.post(endpoint(node), content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    refused(answer, 400, "invalid_request")


def test_a_body_that_is_not_a_form_is_refused(node: Node) -> None:
    refused(httpx.post(endpoint(node), json={"grant_type": "client_credentials"}), 400, "invalid_request")


def test_a_node_without_identity_issues_no_tokens(tmp_path: Path, model: Model, practice: Organisation,
                                                   trust_file: Path) -> None:
    with served_node(str(tmp_path / "open.db"), model, trust_list=str(trust_file)) as bare:
        description = refused(request_token(bare.settings.base_url, practice), 503, "temporarily_unavailable")
        assert "no organisation identity" in description
        assert httpx.get(f"{bare.settings.base_url}/.well-known/jwks.json").json() == {"keys": []}
