"""Organisations, identity providers and trust lists for tests, with real keys and real signatures.

For other test suites too (from outside tests/auth: ``from auth.orgs import ...``)::

    hospital = Organisation.create(tmp_path, "12345678", "Ziekenhuis Oost", "V4")  # runs the node
    practice = Organisation.create(tmp_path, "87654321", "Huisartsenpraktijk De Linde", "Z3")  # asks it
    dezi = ProfessionalIdp.create("https://dezi.test")
    trust = write_trust_list(tmp_path / "trust.json", [practice.entry()], [dezi.entry()])
    with served_node(db, model, **identity(hospital, trust)) as node:
        token = get_token(node.settings.base_url, practice, scopes="system/Patient.rs", purpose="bgz",
                          professional=dezi.attestation(practice, uzi="900000001", role="01.015"),
                          patient=TEST_BSN)
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
from joserfc import jws
from joserfc.jwk import ECKey

from samen.auth.attestations import professional_claims
from samen.auth.authorization_server import CLIENT_ASSERTION_TYPE
from samen.auth.jose import sign
from samen.auth.keys import KeyStore

TEST_BSN = "999911120"  # passes the elfproef; synthetic (9 series)
OTHER_BSN = "999912032"


@dataclass
class Organisation:
    """A care provider with a URA and signing keys in ``keys.directory``."""

    ura: str
    name: str
    organisation_type: str  # RoleCodeNL zorgaanbiedertype, e.g. V4 ziekenhuis, Z3 huisartspraktijk
    keys: KeyStore

    @classmethod
    def create(cls, folder: Path, ura: str, name: str = "Testziekenhuis",
               organisation_type: str = "V4") -> Organisation:
        keys = KeyStore(folder / f"keys-{ura}")
        keys.create(ura)
        return cls(ura, name, organisation_type, keys)

    def entry(self, *, fhir_base: str = "https://node.test/fhir", active: bool = True,
              jwks_uri: str | None = None) -> dict[str, Any]:
        """This organisation as a trust list entry: inline JWKS unless a ``jwks_uri`` is given."""
        entry: dict[str, Any] = {"ura": self.ura, "name": self.name, "type": self.organisation_type,
                                 "active": active, "endpoints": {"fhir": fhir_base, "token": f"{fhir_base}/auth/token"}}
        if jwks_uri is None:
            entry["jwks"] = self.keys.public_jwks()
        else:
            entry["jwks_uri"] = jwks_uri
        return entry

    def assertion(self, token_endpoint: str, *, key: ECKey | None = None, lifetime_s: int = 60,
                  header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A client assertion (RFC 7523) for ``token_endpoint``; ``claims`` override the usual ones."""
        now = int(time.time())
        body = {"iss": self.ura, "sub": self.ura, "aud": token_endpoint, "iat": now, "nbf": now,
                "exp": now + lifetime_s, "jti": secrets.token_urlsafe(12), **claims}
        key = key or self.keys.current()
        return sign(body, key) if header is None else sign_with_header(body, header, key)


@dataclass
class ProfessionalIdp:
    """A Dezi-like professional identity provider that signs attestations with its own key."""

    issuer: str
    key: ECKey

    @classmethod
    def create(cls, issuer: str = "https://dezi.test") -> ProfessionalIdp:
        return cls(issuer, ECKey.generate_key("P-256", {"alg": "ES256", "use": "sig"}, private=True, auto_kid=True))

    def entry(self, kind: str = "professional") -> dict[str, Any]:
        return {"issuer": self.issuer, "kind": kind, "jwks": {"keys": [self.key.as_dict(private=False)]}}

    def attestation(self, organisation: Organisation | str, *, uzi: str = "900000001", role: str = "01.015",
                    name: str = "Dr. A. Jansen", **overrides: Any) -> str:
        ura = organisation if isinstance(organisation, str) else organisation.ura
        claims = {**professional_claims(self.issuer, uzi=uzi, role=role, ura=ura, name=name), **overrides}
        return sign(claims, self.key)


def sign_with_header(claims: dict[str, Any], header: dict[str, Any], key: Any) -> str:
    """A JWS with exactly ``header`` (for refusals: other algorithms, no kid); ``key`` any joserfc key."""
    return jws.serialize_compact(header, orjson.dumps(claims), key, algorithms=[header["alg"]])


def identity(organisation: Organisation, trust_list: Path | None = None) -> dict[str, str]:
    """Settings for a node run by ``organisation`` that trusts ``trust_list``: ``served_node(db, model,
    **identity(hospital, trust_file))``."""
    settings = {"ura": organisation.ura, "organisation_type": organisation.organisation_type,
                "keys_dir": str(organisation.keys.directory)}
    return settings | ({"trust_list": str(trust_list)} if trust_list is not None else {})


def write_trust_list(path: Path, organisations: list[dict[str, Any]],
                     issuers: list[dict[str, Any]] | None = None) -> Path:
    """Write (atomically replace) a trust list file."""
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(orjson.dumps({"organisations": organisations, "issuers": issuers or []},
                                       option=orjson.OPT_INDENT_2))
    temporary.replace(path)
    return path


def request_token(base_url: str, organisation: Organisation, *, scopes: str = "system/Patient.rs",
                  purpose: str | None = "bgz", professional: str | None = None, patient: str | None = None,
                  task: str | None = None, assertion: str | None = None, **extra: str) -> httpx.Response:
    """POST a client_credentials request to the node at ``base_url``; the raw answer."""
    form = {"grant_type": "client_credentials", "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion or organisation.assertion(f"{base_url}/auth/token"), "scope": scopes}
    optional = {"purpose_of_use": purpose, "professional_attestation": professional, "patient": patient, "task": task}
    form.update({name: value for name, value in optional.items() if value is not None})
    form.update(extra)
    return httpx.post(f"{base_url}/auth/token", data=form, timeout=30)


def get_token(base_url: str, organisation: Organisation, **request: Any) -> str:
    """An access token from the node at ``base_url`` (see :func:`request_token` for the arguments)."""
    answer = request_token(base_url, organisation, **request)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]
