"""Every way a SMART App Launch is refused; none hands out a code or a token, none says more than why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urljoin

import httpx
import pytest
from idp_serving import served_app
from launch_env import CITIZEN_BSN, LaunchEnv, launch_env, served_launch_node
from launch_steps import Launch, app_code, to_node_callback
from oidc_steps import log_in, query_of
from serving import free_port

from samen.auth import pkce
from samen.auth.app_launch import AppLaunch
from samen.fhir.model import Model
from samen.idp.http import create_idp_app
from samen.idp.identities import Citizens
from samen.idp.keys import IdpKey
from samen.idp.provider import Client, OidcProvider

UNKNOWN_BSN = "999990032"  # a valid synthetic BSN the node holds no record of


@pytest.fixture
def env(model: Model, tmp_path: Path) -> Iterator[LaunchEnv]:
    with launch_env(str(tmp_path / "node.db"), model, tmp_path) as served:
        yield served


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        yield client


def app_error(answer: httpx.Response, launch: Launch) -> str:
    """The OAuth error the app receives at its redirect URI, its state echoed, no code."""
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(launch.env.app_redirect + "?")
    params = query_of(answer.headers["location"])
    assert params["state"] == launch.state and "code" not in params
    return params["error"]


def refused_page(answer: httpx.Response) -> None:
    """A refusal that must not go to any redirect URI: a page, no redirect, no details."""
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "Aanmelden niet mogelijk" in answer.text and "Sign-in not possible" in answer.text


@pytest.mark.parametrize("overrides, error", [
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE missing
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"aud": "http://127.0.0.1:9/other/fhir"}, "invalid_request"),  # wrong aud
    ({"aud": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "system/*.rs"}, "invalid_scope"),
    ({"scope": "patient/*.read"}, "invalid_scope"),  # SMART v1
    ({"scope": "openid fhirUser"}, "invalid_scope"),  # nothing to read
    ({"scope": "patient/Nonsense.rs"}, "invalid_scope"),
])
def test_bad_authorization_requests_go_back_to_the_app(env: LaunchEnv, http: httpx.Client, overrides: dict,
                                                       error: str) -> None:
    launch = Launch(env)
    assert app_error(launch.authorize(http, **overrides), launch) == error


def test_state_is_required(env: LaunchEnv, http: httpx.Client) -> None:
    answer = Launch(env).authorize(http, state=None)
    assert answer.status_code == 302 and query_of(answer.headers["location"])["error"] == "invalid_request"


@pytest.mark.parametrize("overrides", [
    {"client_id": "unknown-app"}, {"client_id": None},
    {"redirect_uri": "http://127.0.0.1:9/elsewhere"}, {"redirect_uri": "http://127.0.0.1:9/callback/"},
])
def test_unknown_app_or_redirect_uri_gets_a_page(env: LaunchEnv, http: httpx.Client, overrides: dict) -> None:
    refused_page(Launch(env).authorize(http, **overrides))


def test_a_repeated_parameter_gets_a_page(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    query = urlencode(launch.authorize_params()) + "&" + urlencode({"redirect_uri": "https://attacker.example/cb"})
    refused_page(http.get(f"{env.base_url}/auth/authorize?{query}"))


def test_scopes_are_narrowed_to_reading(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    scope = "launch/patient patient/Observation.cruds patient/Patient.r offline_access"
    to_idp = launch.authorize(http, scope=scope)
    assert to_idp.status_code == 302 and to_idp.headers["location"].startswith(env.idp.citizen.issuer)
    app_launch = env.node.auth.app_launch
    assert isinstance(app_launch, AppLaunch)
    assert app_launch.granted_scopes(scope) == ["launch/patient", "patient/Observation.rs", "patient/Patient.r"]


def test_the_callback_needs_the_browser_that_started(env: LaunchEnv, http: httpx.Client) -> None:
    back = to_node_callback(http, Launch(env), CITIZEN_BSN)
    with httpx.Client(follow_redirects=False, timeout=30) as other_browser:
        refused_page(other_browser.get(back.headers["location"]))


def test_an_unknown_launch_gets_a_page(env: LaunchEnv, http: httpx.Client) -> None:
    refused_page(http.get(f"{env.base_url}/auth/callback", params={"state": "made-up", "code": "x"}))


def test_a_launch_is_finished_once(env: LaunchEnv, http: httpx.Client) -> None:
    back = to_node_callback(http, Launch(env), CITIZEN_BSN)
    assert http.get(back.headers["location"]).status_code == 302
    refused_page(http.get(back.headers["location"]))


def test_cancelled_login_is_access_denied(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    to_login = http.get(launch.authorize(http).headers["location"])
    page = http.get(urljoin(str(to_login.url), to_login.headers["location"]))
    back = log_in(http, page, action="cancel")
    assert app_error(http.get(back.headers["location"]), launch) == "access_denied"


def test_a_mixed_up_issuer_is_access_denied(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    back = to_node_callback(http, launch, CITIZEN_BSN).headers["location"]
    forged = back.replace("iss=", "iss=http%3A%2F%2F127.0.0.1%3A9%2Fother&was=")
    assert app_error(http.get(forged), launch) == "access_denied"


def test_a_citizen_without_a_record_here_is_access_denied(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    back = to_node_callback(http, launch, UNKNOWN_BSN)
    assert app_error(http.get(back.headers["location"]), launch) == "access_denied"


@pytest.mark.parametrize("overrides", [
    {"code_verifier": pkce.new_verifier()},  # wrong verifier
    {"code_verifier": ""},
    {"redirect_uri": "http://127.0.0.1:9/elsewhere"},
    {"client_id": "unknown-app"},
])
def test_code_exchange_refusals(env: LaunchEnv, http: httpx.Client, overrides: dict) -> None:
    launch = Launch(env)
    answer = launch.token(http, app_code(http, launch, CITIZEN_BSN), **overrides)
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] in ("invalid_grant", "invalid_client")
    assert "access_token" not in answer.text and CITIZEN_BSN not in answer.text


def test_a_code_is_redeemed_once(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    code = app_code(http, launch, CITIZEN_BSN)
    assert launch.token(http, code).status_code == 200
    again = launch.token(http, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_expires(env: LaunchEnv, http: httpx.Client) -> None:
    app_launch = env.node.auth.app_launch
    assert isinstance(app_launch, AppLaunch)
    app_launch.code_lifetime_s = 0.5
    launch = Launch(env)
    code = app_code(http, launch, CITIZEN_BSN)
    time.sleep(0.6)
    answer = launch.token(http, code)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


class _SignsWithAnotherKey:
    """An identity provider's keys gone wrong: it publishes one key and signs with another."""

    def __init__(self) -> None:
        self.published, self.signing = IdpKey.generate(), IdpKey.generate()

    def current(self):  # noqa: ANN201 - the joserfc key of the signing key
        return self.signing.current()

    def public_jwks(self) -> dict:
        return self.published.public_jwks()


@pytest.mark.parametrize("rogue", ["unpublished key", "other issuer"])
def test_an_id_token_the_node_cannot_trust_is_refused(model: Model, tmp_path: Path, http: httpx.Client,
                                                      rogue: str) -> None:
    idp_port, node_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{node_port}/fhir"
    served_at = f"http://127.0.0.1:{idp_port}/citizen"
    key = IdpKey.generate()
    keys = _SignsWithAnotherKey() if rogue == "unpublished key" else key
    issuer = served_at if rogue == "unpublished key" else f"http://127.0.0.1:{free_port()}/citizen"
    provider = OidcProvider(issuer, Citizens(key.derived_secret("pairwise")), keys,
                            (Client(base_url, (f"{base_url}/auth/callback",)),))
    with served_app(create_idp_app({"/citizen": provider}), idp_port), \
            served_launch_node(str(tmp_path / "node.db"), model, tmp_path, node_port, served_at) as (node, redirect):
        env = LaunchEnv(node, None, redirect, {})  # type: ignore[arg-type]
        launch = Launch(env)
        first = launch.authorize(http)
        if rogue == "other issuer":  # discovery names another issuer: the node never sends anyone there
            assert app_error(first, launch) == "temporarily_unavailable"
            return
        to_login = http.get(first.headers["location"])
        page = http.get(urljoin(str(to_login.url), to_login.headers["location"]))
        back = log_in(http, page, bsn=CITIZEN_BSN)
        assert app_error(http.get(back.headers["location"]), launch) == "access_denied"
