"""The organisations and identity providers this node trusts, until the address book replaces it.

The trust list file has the shape of a directory entry, so the address book can take its place::

    {"organisations": [
       {"ura": "12345678", "name": "Ziekenhuis Oost", "type": "V4", "active": true,
        "endpoints": {"fhir": "https://oost.example/fhir", "token": "https://oost.example/fhir/auth/token"},
        "jwks_uri": "https://oost.example/fhir/.well-known/jwks.json"}],
     "issuers": [
       {"issuer": "https://dezi.example", "kind": "professional", "jwks": {"keys": [...]}}]}

Each organisation or issuer has its keys inline (``jwks``) or at a ``jwks_uri``. A ``jwks_uri`` must
be on the host of one of the organisation's endpoints (the issuer's own host for an identity
provider), and must use https unless that host is this machine. Organisations with ``active: false``
are revoked: they are listed, and trusted for nothing.

The file is looked at again at most once a second and read again when it changed; replace it
atomically (write a new file, then rename it over the old one). A broken file trusts no one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog
from joserfc.jwk import ECKey

from samen.auth.jwks import JwksCache, JwksUnavailable, Keys, parse_jwks
from samen.auth.keys import URA_PATTERN

ISSUER_KINDS = ("professional", "citizen")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
RECHECK_S = 1.0  # how often the file is looked at again

log = structlog.get_logger("samen.auth.trust")


class TrustListError(ValueError):
    """The trust list file cannot be read or has an entry of the wrong shape."""


class NotTrusted(Exception):
    """No trusted key for this signer; the message (for logs and audit) says why."""


@dataclass(frozen=True)
class TrustedOrganisation:
    ura: str
    name: str
    organisation_type: str  # RoleCodeNL zorgaanbiedertype code, e.g. V4 ziekenhuis, Z3 huisartspraktijk
    fhir_base: str = ""
    token_endpoint: str = ""
    active: bool = True
    jwks: Keys = field(default_factory=dict, repr=False)  # inline keys by kid
    jwks_uri: str = ""

    @property
    def hosts(self) -> frozenset[str]:
        """The hosts of the registered endpoints: the only ones a jwks_uri may point at."""
        return frozenset(host for url in (self.fhir_base, self.token_endpoint) if (host := _host(url)))


@dataclass(frozen=True)
class TrustedIssuer:
    """An identity provider whose signed statements about people this node accepts."""

    issuer: str
    kind: str  # "professional" (Dezi-like) or "citizen" (DigiD-like)
    jwks: Keys = field(default_factory=dict, repr=False)
    jwks_uri: str = ""


@dataclass(frozen=True)
class _Contents:
    organisations: dict[str, TrustedOrganisation]
    issuers: dict[str, TrustedIssuer]


class TrustList:
    """Read from ``path`` (None: trusts no one); reloaded when the file changes."""

    def __init__(self, path: Path | None, *, jwks_cache: JwksCache | None = None,
                 recheck_s: float = RECHECK_S) -> None:
        self.path = path
        self.recheck_s = recheck_s
        self.jwks_cache = jwks_cache or JwksCache()
        self._lock = threading.Lock()
        self._contents = _Contents({}, {})
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")
        if path is not None:
            self._contents = read_trust_list(path)  # a broken file stops the node at start
            self._stamp = _stamp(path)
            self._checked = time.monotonic()

    def organisation(self, ura: str) -> TrustedOrganisation | None:
        """The active organisation with this URA; None when unknown or revoked."""
        found = self._current().organisations.get(ura)
        return found if found is not None and found.active else None

    def organisations(self) -> list[TrustedOrganisation]:
        """The active organisations, by name (for a person choosing one, such as an eOverdracht's receiver)."""
        return sorted((org for org in self._current().organisations.values() if org.active), key=lambda o: o.name)

    def organisation_key(self, ura: str, kid: str) -> tuple[TrustedOrganisation, ECKey]:
        """The active organisation and its key with ``kid``; raises :class:`NotTrusted`."""
        listed = self._current().organisations.get(ura)
        if listed is None:
            raise NotTrusted(f"organisation {ura[:20]!r} is not in the trust list")
        if not listed.active:
            raise NotTrusted(f"organisation {ura} is revoked")
        return listed, self._key(listed.jwks, listed.jwks_uri, listed.hosts, kid, f"organisation {ura}")

    def issuer_key(self, url: str, kid: str, kind: str) -> ECKey:
        """The key with ``kid`` of the trusted identity provider ``url`` of ``kind``; raises :class:`NotTrusted`."""
        listed = self._current().issuers.get(url)
        if listed is None or listed.kind != kind:
            raise NotTrusted(f"{url[:100]!r} is not a trusted {kind} identity provider")
        hosts = frozenset({_host(listed.issuer)})
        return self._key(listed.jwks, listed.jwks_uri, hosts, kid, f"issuer {url}")

    def _key(self, inline: Keys, jwks_uri: str, hosts: frozenset[str], kid: str, who: str) -> ECKey:
        if not jwks_uri:
            key = inline.get(kid)
        else:
            uri_host = _host(jwks_uri)
            if uri_host not in hosts:
                raise NotTrusted(f"the jwks_uri of {who} is on {uri_host}, not on a host of its endpoints")
            if urlsplit(jwks_uri).scheme != "https" and uri_host not in _LOOPBACK:
                raise NotTrusted(f"the jwks_uri of {who} does not use https")
            try:
                key = self.jwks_cache.key(jwks_uri, kid)
            except JwksUnavailable as error:
                raise NotTrusted(f"the keys of {who} are unavailable: {error}") from error
        if key is None:
            raise NotTrusted(f"{who} has no key {kid[:60]!r}")
        return key

    def _current(self) -> _Contents:
        """The file's contents, read again when it changed (looked at no more than once a second)."""
        if self.path is None or time.monotonic() - self._checked < self.recheck_s:
            return self._contents
        with self._lock:
            try:
                stamp = _stamp(self.path)
                if stamp != self._stamp:
                    self._contents = read_trust_list(self.path)
                    log.info("trust list reloaded", path=str(self.path),
                             organisations=len(self._contents.organisations))
            except (OSError, TrustListError) as error:
                log.error("trust list unreadable; trusting no one until it is fixed", error=str(error))
                self._contents, stamp = _Contents({}, {}), None
            self._stamp = stamp
            self._checked = time.monotonic()
            return self._contents


def read_trust_list(path: Path) -> _Contents:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise TrustListError(f"{path}: not readable as JSON ({error})") from error
    if not isinstance(document, dict):
        raise TrustListError(f"{path}: the trust list is a JSON object")
    organisations = {}
    for index, entry in enumerate(document.get("organisations", [])):
        organisation = _organisation(entry, f"{path}: organisations[{index}]")
        organisations[organisation.ura] = organisation
    issuers = {}
    for index, entry in enumerate(document.get("issuers", [])):
        issuer = _issuer(entry, f"{path}: issuers[{index}]")
        issuers[issuer.issuer] = issuer
    return _Contents(organisations, issuers)


def _organisation(entry: Any, where: str) -> TrustedOrganisation:
    if not isinstance(entry, dict):
        raise TrustListError(f"{where} is not an object")
    ura = str(entry.get("ura", ""))
    if not URA_PATTERN.match(ura):
        raise TrustListError(f"{where}: ura must be 8 digits")
    endpoints = entry.get("endpoints", {})
    if not isinstance(endpoints, dict):
        raise TrustListError(f"{where}: endpoints is an object")
    inline, jwks_uri = _keys(entry, where)
    return TrustedOrganisation(
        ura=ura, name=str(entry.get("name", "")), organisation_type=_required(entry, "type", where),
        fhir_base=str(endpoints.get("fhir", "")), token_endpoint=str(endpoints.get("token", "")),
        active=entry.get("active", True) is True, jwks=inline, jwks_uri=jwks_uri)


def _issuer(entry: Any, where: str) -> TrustedIssuer:
    if not isinstance(entry, dict):
        raise TrustListError(f"{where} is not an object")
    kind = _required(entry, "kind", where)
    if kind not in ISSUER_KINDS:
        raise TrustListError(f"{where}: kind must be one of {', '.join(ISSUER_KINDS)}")
    inline, jwks_uri = _keys(entry, where)
    return TrustedIssuer(_required(entry, "issuer", where), kind, inline, jwks_uri)


def _keys(entry: dict[str, Any], where: str) -> tuple[Keys, str]:
    """Inline keys or a jwks_uri, exactly one of them."""
    if ("jwks" in entry) == ("jwks_uri" in entry):
        raise TrustListError(f"{where}: give either jwks or jwks_uri")
    if "jwks_uri" in entry:
        return {}, str(entry["jwks_uri"])
    try:
        return parse_jwks(entry["jwks"]), ""
    except JwksUnavailable as error:
        raise TrustListError(f"{where}: jwks: {error}") from error


def _required(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise TrustListError(f"{where}: {name} is required")
    return value


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _stamp(path: Path) -> tuple[int, int, int]:
    """Inode, size and modification time: an atomic replacement always has a new inode."""
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns
