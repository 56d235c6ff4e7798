"""SMART App Launch at a node: a citizen's app gets a token for that citizen's own data, nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from launch_env import APP, CITIZEN_BSN, OTHER_BSN, LaunchEnv, launch_env
from launch_steps import Launch, app_code

from samen.auth import jose
from samen.auth.jwks import parse_jwks
from samen.fhir.model import Model


@pytest.fixture
def env(database_url: str, model: Model, tmp_path: Path) -> Iterator[LaunchEnv]:
    with launch_env(database_url, model, tmp_path) as served:
        yield served


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A browser without redirects: it keeps cookies, each step is checked."""
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        yield client


def test_smart_configuration_offers_the_standalone_patient_launch(env: LaunchEnv, http: httpx.Client) -> None:
    config = http.get(f"{env.base_url}/.well-known/smart-configuration").json()
    assert config["authorization_endpoint"] == f"{env.base_url}/auth/authorize"
    assert config["token_endpoint"] == f"{env.base_url}/auth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-standalone", "client-public", "context-standalone-patient", "permission-v2"} <= set(
        config["capabilities"])
    assert {"authorization_code", "client_credentials"} <= set(config["grant_types_supported"])
    assert {"patient/*.rs", "openid", "fhirUser", "launch/patient"} <= set(config["scopes_supported"])


def test_citizen_app_reads_own_data(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    answer = launch.token(http, app_code(http, launch, CITIZEN_BSN))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    own = env.patients[CITIZEN_BSN]
    assert tokens["patient"] == own and tokens["token_type"] == "Bearer"
    assert tokens["scope"].split() == ["launch/patient", "openid", "fhirUser", "patient/*.rs"]
    keys = parse_jwks(http.get(f"{env.base_url}/.well-known/jwks.json").json())
    identity = jose.verify(tokens["id_token"], keys[jose.unverified_header(tokens["id_token"])["kid"]])
    assert identity["fhirUser"] == f"{env.base_url}/Patient/{own}" and identity["aud"] == APP
    assert identity["iss"] == env.base_url
    bearer = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/fhir+json"}
    patient = http.get(f"{env.base_url}/Patient/{own}", headers=bearer)
    assert patient.status_code == 200 and patient.json()["id"] == own
    observations = http.get(f"{env.base_url}/Observation", params={"patient": own}, headers=bearer)
    assert observations.status_code == 200
    assert {entry["resource"]["subject"]["reference"] for entry in observations.json()["entry"]} == {f"Patient/{own}"}


def test_citizen_app_is_refused_another_patient(env: LaunchEnv, http: httpx.Client) -> None:
    launch = Launch(env)
    tokens = launch.token(http, app_code(http, launch, CITIZEN_BSN)).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/fhir+json"}
    other = env.patients[OTHER_BSN]
    read = http.get(f"{env.base_url}/Patient/{other}", headers=bearer)
    assert read.status_code in (403, 404) and OTHER_BSN not in read.text
    search = http.get(f"{env.base_url}/Observation", params={"patient": other}, headers=bearer)
    assert search.status_code == 403 or search.json().get("entry", []) == []
    assert other not in search.text or search.status_code == 403
