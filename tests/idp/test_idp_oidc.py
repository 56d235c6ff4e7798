"""The test IdPs as OpenID Connect providers: discovery, the code flow with PKCE, tokens, userinfo."""

from __future__ import annotations

import time

import httpx
import pytest
from idp_serving import ServedIdp
from oidc_steps import Flow, code_after_login, discover, exchange

from samen.auth import jose
from samen.auth.attestations import MAX_LIFETIME_S
from samen.auth.jwks import parse_jwks

CLIENT, REDIRECT = "test-app", "http://127.0.0.1:9/callback"
BSN = "999990019"


def verified(http: httpx.Client, issuer: str, token: str) -> dict:
    """The claims of ``token`` checked against the key published at the issuer's jwks_uri."""
    keys = parse_jwks(http.get(discover(http, issuer)["jwks_uri"]).json())
    return jose.verify(token, keys[jose.unverified_header(token)["kid"]])


@pytest.mark.parametrize("path", ["/citizen", "/professional"])
def test_discovery_names_endpoints_and_pkce(idp: ServedIdp, browser_less: httpx.Client, path: str) -> None:
    metadata = discover(browser_less, idp.base_url + path)
    issuer = idp.base_url + path
    assert metadata["issuer"] == issuer
    for endpoint in ("authorization", "token", "userinfo"):
        assert metadata[f"{endpoint}_endpoint"].startswith(issuer + "/")
    assert metadata["jwks_uri"] == issuer + "/jwks.json"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["id_token_signing_alg_values_supported"] == ["ES256"]
    keys = browser_less.get(metadata["jwks_uri"]).json()["keys"]
    assert keys and all("d" not in key for key in keys)


def test_citizen_logs_in_with_bsn(idp: ServedIdp, browser_less: httpx.Client) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    answer = exchange(browser_less, flow, code_after_login(browser_less, flow, bsn=BSN))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and "professional_attestation" not in tokens
    claims = verified(browser_less, flow.issuer, tokens["id_token"])
    assert claims["iss"] == flow.issuer and claims["aud"] == CLIENT and claims["nonce"] == flow.nonce
    assert claims["bsn"] == BSN
    assert claims["sub"] != BSN and len(claims["sub"]) == 43  # pairwise, not the BSN
    assert claims["exp"] > time.time() >= claims["iat"] - 1
    userinfo = browser_less.get(discover(browser_less, flow.issuer)["userinfo_endpoint"],
                                headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json() == {"sub": claims["sub"], "bsn": BSN}


def test_pairwise_subject_is_stable_per_client_host(idp: ServedIdp, browser_less: httpx.Client) -> None:
    subjects = []
    for _ in range(2):
        flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
        tokens = exchange(browser_less, flow, code_after_login(browser_less, flow, bsn=BSN)).json()
        subjects.append(verified(browser_less, flow.issuer, tokens["id_token"])["sub"])
    assert subjects[0] == subjects[1]


def test_professional_gets_id_token_and_attestation(idp: ServedIdp, browser_less: httpx.Client) -> None:
    flow = Flow(idp.professional.issuer, CLIENT, REDIRECT)
    answer = exchange(browser_less, flow, code_after_login(browser_less, flow, uzi="900000001"))
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    claims = verified(browser_less, flow.issuer, tokens["id_token"])
    assert (claims["sub"], claims["role"], claims["ura"]) == ("900000001", "01.015", "90000001")
    attestation = verified(browser_less, flow.issuer, tokens["professional_attestation"])
    assert attestation["iss"] == flow.issuer
    assert attestation["sub"] == attestation["uzi"] == "900000001"
    assert (attestation["role"], attestation["ura"], attestation["name"]) == ("01.015", "90000001", "dr. A. de Vries")
    assert 0 < attestation["exp"] - attestation["iat"] <= MAX_LIFETIME_S
    assert jose.unverified_header(tokens["professional_attestation"])["kid"]


def test_userinfo_needs_a_valid_access_token(idp: ServedIdp, browser_less: httpx.Client) -> None:
    endpoint = discover(browser_less, idp.citizen.issuer)["userinfo_endpoint"]
    for headers in ({}, {"Authorization": "Bearer made-up"}, {"Authorization": "Basic eDp5"}):
        answer = browser_less.get(endpoint, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
