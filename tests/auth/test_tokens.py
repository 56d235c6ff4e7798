"""Access tokens: issued with the node's current key, validated against its published keys."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import orjson
import pytest
from orgs import TEST_BSN, Organisation, get_token
from serving import served_node

from samen.auth.context import AccessContext, Professional
from samen.auth.jose import sign
from samen.auth.keys import KeyStore
from samen.auth.tokens import AuthError, TokenIssuer, TokenValidator, authenticate
from samen.fhir.model import Model
from samen.node import Node

BASE = "https://oost.test/fhir"
CONTEXT = AccessContext(
    kind="system", scopes=frozenset({"system/Patient.rs", "system/Observation.rs"}), client_ura="87654321",
    client_type="Z3", professional=Professional("900000001", "01.015", "87654321", "Dr. A. Jansen"),
    purpose="eoverdracht-receiver", patient_bsn=TEST_BSN, patient_ids=frozenset({"p1"}), task="task-7",
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(tmp_path: Path, clock: Clock) -> KeyStore:
    store = KeyStore(tmp_path / "keys", clock=clock)
    store.create("12345678")
    return store


def issuer_and_validator(keys: KeyStore, clock: Clock, issuer: str = BASE) -> tuple[TokenIssuer, TokenValidator]:
    return TokenIssuer(keys, issuer, clock=clock), TokenValidator(keys, BASE, clock=clock)


def refusal(validator: TokenValidator, token: str, audience: str = BASE) -> AuthError:
    with pytest.raises(AuthError) as refused:
        validator.validate(token, audience=audience)
    assert refused.value.status == 401
    return refused.value


def test_a_token_carries_the_whole_context(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    token = issuer.issue(CONTEXT, audience=BASE)
    context = validator.validate(token, audience=BASE)
    assert context.token_id and context == AccessContext(**{**CONTEXT.__dict__, "token_id": context.token_id})
    assert validator.validate(token, audience=BASE) is context  # cached by its exact text
    header = orjson.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": keys.current().kid, "typ": "at+jwt"}


def test_an_open_context_is_never_put_in_a_token(keys: KeyStore, clock: Clock) -> None:
    issuer, _ = issuer_and_validator(keys, clock)
    with pytest.raises(ValueError):
        issuer.issue(AccessContext(kind="open", scopes=frozenset()), audience=BASE)


def test_an_expired_token_is_refused_also_when_cached(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    token = issuer.issue(CONTEXT, audience=BASE, lifetime_s=300)
    validator.validate(token, audience=BASE)
    clock.now += 300 + 31  # past exp and the clock leeway
    assert refusal(validator, token).reason == "The access token has expired"


def test_a_token_not_yet_valid_is_refused(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    token = issuer.issue(CONTEXT, audience=BASE)
    clock.now -= 120
    refusal(validator, token)


def test_a_token_for_another_audience_is_refused_also_when_cached(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    token = issuer.issue(CONTEXT, audience=BASE)
    assert refusal(validator, token, "https://west.test/fhir").reason == "The access token is not for this server"
    validator.validate(token, audience=BASE)
    refusal(validator, token, "https://west.test/fhir")


def test_a_token_of_another_issuer_is_refused(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock, issuer="https://west.test/fhir")
    assert "issuer" in refusal(validator, issuer.issue(CONTEXT, audience=BASE)).detail


def test_a_token_signed_by_another_node_is_refused(tmp_path: Path, keys: KeyStore, clock: Clock) -> None:
    other = KeyStore(tmp_path / "other", clock=clock)
    other.create("11112222")
    token = TokenIssuer(other, BASE, clock=clock).issue(CONTEXT, audience=BASE)
    assert "no published key" in refusal(TokenValidator(keys, BASE, clock=clock), token).detail


def test_a_forged_token_is_refused(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    head, payload, signature = issuer.issue(CONTEXT, audience=BASE).split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["patient_bsn"] = "999912032"
    forged_payload = base64.urlsafe_b64encode(orjson.dumps(claims)).decode().rstrip("=")
    assert "signature" in refusal(validator, f"{head}.{forged_payload}.{signature}").detail


def test_a_token_with_the_none_algorithm_is_refused(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    _, payload, _ = issuer.issue(CONTEXT, audience=BASE).split(".")
    header = base64.urlsafe_b64encode(orjson.dumps({"alg": "none", "kid": keys.current().kid, "typ": "at+jwt"}))
    refusal(validator, f"{header.decode().rstrip('=')}.{payload}.")


def test_another_kind_of_jwt_signed_with_the_node_key_is_no_access_token(keys: KeyStore, clock: Clock) -> None:
    _, validator = issuer_and_validator(keys, clock)
    token = sign({"iss": BASE, "aud": BASE, "exp": clock.now + 60, "jti": "x", "kind": "system", "scope": ""},
                 keys.current())
    assert "typ" in refusal(validator, token).detail


def test_tokens_signed_before_a_rotation_stay_valid_until_the_old_key_expires(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    old_kid = keys.current().kid
    before = issuer.issue(CONTEXT, audience=BASE, lifetime_s=300)
    keys.rotate(overlap_s=120)
    after = issuer.issue(CONTEXT, audience=BASE)
    assert keys.current().kid != old_kid
    assert validator.validate(before, audience=BASE).client_ura == "87654321"
    clock.now += 100
    assert validator.validate(before, audience=BASE).purpose == "eoverdracht-receiver"
    assert old_kid in {key["kid"] for key in keys.public_jwks()["keys"]}
    clock.now += 21  # the old key's not-after has passed: the token ends with it, cached or not
    refusal(validator, before)
    assert old_kid not in {key["kid"] for key in keys.public_jwks()["keys"]}
    assert refusal(TokenValidator(keys, BASE, clock=clock), before).detail.startswith("access token: no published key")
    assert validator.validate(after, audience=BASE).task == "task-7"


def test_removing_a_compromised_key_ends_its_tokens_at_once(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    compromised = keys.current().kid
    token = issuer.issue(CONTEXT, audience=BASE)
    validator.validate(token, audience=BASE)
    keys.rotate(overlap_s=3600)
    (keys.directory / f"{compromised}.json").unlink()
    time.sleep(1.1)  # the key directory is looked at again once a second
    refusal(validator, token)


def test_no_token_outlives_the_key_that_signed_it(keys: KeyStore, clock: Clock) -> None:
    keys.rotate(overlap_s=0, validity_s=60)
    issuer, validator = issuer_and_validator(keys, clock)
    token = issuer.issue(CONTEXT, audience=BASE, lifetime_s=300)
    claims = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 60


def test_authenticate_reads_bearer_tokens_only(keys: KeyStore, clock: Clock) -> None:
    issuer, validator = issuer_and_validator(keys, clock)
    token = issuer.issue(CONTEXT, audience=BASE)
    assert authenticate(None, validator, audience=BASE) is None
    assert authenticate(f"Bearer {token}", validator, audience=BASE).task == "task-7"
    assert authenticate(f"bearer  {token} ", validator, audience=BASE).task == "task-7"
    for header in ("Basic dXNlcjpwdw==", "Bearer", token):
        with pytest.raises(AuthError) as refused:
            authenticate(header, validator, audience=BASE)
        assert refused.value.status == 401
        assert refused.value.challenge.startswith('Bearer error="invalid_token"')


def test_the_fhir_api_refuses_a_bad_token_with_401_and_a_challenge(node: Node, practice: Organisation) -> None:
    base = node.settings.base_url
    token = get_token(base, practice)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    for authorization in (f"Bearer {forged}", "Bearer nonsense", "Basic dXNlcjpwdw=="):
        answer = httpx.get(f"{base}/Patient", headers={"Authorization": authorization})
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "login"
        assert "signature" not in answer.text and "kid" not in answer.text


def test_a_token_of_one_node_is_refused_by_another(node: Node, practice: Organisation, tmp_path: Path,
                                                   model: Model) -> None:
    other = Organisation.create(tmp_path, "11112222", "Ziekenhuis West")
    token = get_token(node.settings.base_url, practice)
    with served_node(str(tmp_path / "west.db"), model, keys_dir=str(other.keys.directory)) as west:
        answer = httpx.get(f"{west.settings.base_url}/Patient", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
