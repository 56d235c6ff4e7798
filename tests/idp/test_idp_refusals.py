"""Every way the test IdPs refuse a flow: each refusal checked, none leaking a code or a token."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
import pytest
from idp_serving import ServedIdp, served_app
from oidc_steps import Flow, code_after_login, discover, exchange, log_in, open_login_page, query_of
from serving import free_port

from samen.auth import pkce
from samen.idp.http import create_idp_app
from samen.idp.identities import Citizens
from samen.idp.keys import IdpKey
from samen.idp.provider import Client, OidcProvider

CLIENT, REDIRECT = "test-app", "http://127.0.0.1:9/callback"
BSN = "999990019"


def authorize(http: httpx.Client, flow: Flow, **overrides: str | None) -> httpx.Response:
    endpoint = discover(http, flow.issuer)["authorization_endpoint"]
    return http.get(f"{endpoint}?{urlencode(flow.authorize_params(**overrides))}")


def redirected_error(answer: httpx.Response, flow: Flow) -> str:
    """The error an authorization request is sent back to the client with (its state echoed)."""
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(flow.redirect_uri + "?")
    params = query_of(location)
    assert params["state"] == flow.state and "code" not in params
    return params["error"]


@pytest.mark.parametrize("overrides, error", [
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE missing
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),  # RFC 7636 default: plain
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "profile"}, "invalid_scope"),
])
def test_bad_authorization_requests_go_back_with_an_error(
    idp: ServedIdp, browser_less: httpx.Client, overrides: dict, error: str
) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    assert redirected_error(authorize(browser_less, flow, **overrides), flow) == error


@pytest.mark.parametrize("overrides", [
    {"client_id": "unknown-app"},
    {"redirect_uri": "http://127.0.0.1:9/elsewhere"},
    {"redirect_uri": REDIRECT + "?extra=1"},
    {"client_id": None},
])
def test_unknown_client_or_redirect_uri_gets_a_page_not_a_redirect(
    idp: ServedIdp, browser_less: httpx.Client, overrides: dict
) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    answer = authorize(browser_less, flow, **overrides)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert '<html lang="nl">' in answer.text and "Inloggen is niet mogelijk" in answer.text


@pytest.mark.parametrize("bsn, message", [
    ("", "Vul een burgerservicenummer in."),
    ("123456782", "Dit is geen geldig BSN"),  # elfproef holds, but not the unissued 9 series
    ("999990018", "Dit is geen geldig BSN"),  # elfproef fails
    ("99999001", "Dit is geen geldig BSN"),
])
def test_citizen_login_refuses_other_bsns(idp: ServedIdp, browser_less: httpx.Client, bsn: str, message: str) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    page = open_login_page(browser_less, flow)
    answer = log_in(browser_less, page, bsn=bsn)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert message in answer.text and 'role="alert"' in answer.text
    assert log_in(browser_less, page, bsn=BSN).status_code == 303  # the request is still pending


def test_professional_login_refuses_an_unknown_uzi(idp: ServedIdp, browser_less: httpx.Client) -> None:
    flow = Flow(idp.professional.issuer, CLIENT, REDIRECT)
    answer = log_in(browser_less, open_login_page(browser_less, flow), uzi="123456789")
    assert answer.status_code == 400 and "Kies een testzorgverlener." in answer.text


def test_cancel_tells_the_client_access_denied(idp: ServedIdp, browser_less: httpx.Client) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    answer = log_in(browser_less, open_login_page(browser_less, flow), action="cancel")
    assert redirected_error(answer, flow) == "access_denied"


def test_a_login_request_is_used_once(idp: ServedIdp, browser_less: httpx.Client) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    page = open_login_page(browser_less, flow)
    assert log_in(browser_less, page, bsn=BSN).status_code == 303
    again = log_in(browser_less, page, bsn=BSN)
    assert again.status_code == 400 and "location" not in again.headers


@pytest.mark.parametrize("overrides", [
    {"code_verifier": pkce.new_verifier()},  # wrong verifier
    {"code_verifier": ""},  # no verifier
    {"redirect_uri": "http://127.0.0.1:9/elsewhere"},
    {"grant_type": "client_credentials"},
    {"client_id": "unknown-app"},
])
def test_code_exchange_refusals(idp: ServedIdp, browser_less: httpx.Client, overrides: dict) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    answer = exchange(browser_less, flow, code_after_login(browser_less, flow, bsn=BSN), **overrides)
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] in ("invalid_grant", "unsupported_grant_type", "invalid_client")
    assert "id_token" not in answer.text and "access_token" not in answer.text


def test_a_code_is_used_once(idp: ServedIdp, browser_less: httpx.Client) -> None:
    flow = Flow(idp.citizen.issuer, CLIENT, REDIRECT)
    code = code_after_login(browser_less, flow, bsn=BSN)
    assert exchange(browser_less, flow, code).status_code == 200
    again = exchange(browser_less, flow, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_expires(browser_less: httpx.Client) -> None:
    port = free_port()
    key = IdpKey.generate()
    issuer = f"http://127.0.0.1:{port}/citizen"
    provider = OidcProvider(issuer, Citizens(key.derived_secret("pairwise")), key, (Client(CLIENT, (REDIRECT,)),),
                            code_lifetime_s=0.5)
    with served_app(create_idp_app({"/citizen": provider}), port):
        flow = Flow(issuer, CLIENT, REDIRECT)
        code = code_after_login(browser_less, flow, bsn=BSN)
        time.sleep(0.6)
        answer = exchange(browser_less, flow, code)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_token_request_must_be_a_form(idp: ServedIdp, browser_less: httpx.Client) -> None:
    endpoint = discover(browser_less, idp.citizen.issuer)["token_endpoint"]
    answer = browser_less.post(endpoint, json={"grant_type": "authorization_code"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
