"""Node settings: one frozen object, built by the CLI from flags and environment."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Settings:
    base_url: str = "http://127.0.0.1:8080/fhir"
    max_body_bytes: int = 16 * 1024 * 1024  # larger bodies get 413
    default_page_size: int = 20
    max_page_size: int = 1000
    history_page_size: int = 50
    bulk_dir: str = "var/bulk"
    access_log: bool = True  # one structured log line per request: method, path, status, duration
    packages: tuple[Path, ...] = ()  # FHIR packages (.tgz or folders) whose profiles and terminology the node loads
    validate: bool = True  # validate every written resource against R4 and its profiles (off: structure only)
    required_profiles: tuple[tuple[str, str], ...] = ()  # (resource type, profile URL): every such write must conform
    report_must_support: bool = False  # mention must-support elements a resource leaves out (information issues)
    ura: str = ""  # this organisation's URA; "" with keys_dir: the URA of the keys
    organisation_type: str = ""  # RoleCodeNL zorgaanbiedertype code of this organisation, e.g. V4 ziekenhuis
    keys_dir: str = ""  # this organisation's signing keys (samen keys create); "": no identity, no tokens issued
    trust_list: str = ""  # JSON file of trusted organisations and identity providers; "": trusts no one
    token_lifetime_s: int = 300  # lifetime of the access tokens this node issues
    open_mode: bool = False  # development only: no token needed for anything (never on a non-loopback address)
    citizen_idp: str = ""  # issuer URL of the citizen identity provider (DigiD-like OIDC); "": no patient app access
    citizen_idp_client_id: str = ""  # this node's client id at that provider; "": the node's base URL
    professional_idp: str = ""  # issuer URL of the professional identity provider (Dezi-like OIDC); "": no clinician view
    professional_idp_client_id: str = ""  # this node's client id at that provider; "": the node's base URL
    apps_file: str = ""  # JSON file of the patient apps registered for SMART App Launch; "": none
    roles: tuple[str, ...] = ()  # national or regional roles this node takes on (samen.roles.ROLES)
    localization_index: str = ""  # FHIR base of the localization index this custodian registers at; "": none
    pseudonymiser: str = ""  # FHIR base of the pseudonymisation service that turns BSNs into transport tokens
    consent_registry: str = ""  # FHIR base of the consent registry asked the closed question; "": no registry
    consent_cache_s: float = 10.0  # how long a consent answer may be reused (a change notification ends it sooner)
    audit_retention_days: int = 0  # audit entries older than this are pruned (samen audit prune); 0: kept forever
    query_directory: str = ""  # FHIR base of the mCSD query directory where custodians' endpoints are found
    exchange_timeout_s: float = 10.0  # BgZ / medication retrieval: the most one custodian may take in total

    def profiles_required(self) -> dict[str, list[str]]:
        """``required_profiles`` as resource type -> profile URLs."""
        required: dict[str, list[str]] = {}
        for res_type, url in self.required_profiles:
            required.setdefault(res_type, []).append(url)
        return required


def parse_required_profiles(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    """``["Patient=http://...", ...]`` as (type, url) pairs; raises ValueError for a pair without ``=``."""
    parsed = []
    for pair in pairs:
        res_type, sep, url = pair.partition("=")
        if not sep or not res_type or not url:
            raise ValueError(f"'{pair}' is not of the form Type=profile-url")
        parsed.append((res_type, url))
    return tuple(parsed)


def open_mode_refusal(base_url: str, host: str | None = None) -> str:
    """Why a node may not run in open mode with public ``base_url`` (listening on ``host``); "" when it may.

    Open mode serves every request without a token, so both must be loopback addresses: a node
    reachable from elsewhere (directly, or behind a proxy under another name) must authenticate.
    """
    checks = [("--host", host)] if host is not None else []
    checks.append(("the base URL", urlsplit(base_url).hostname or ""))
    for what, name in checks:
        if not _loopback(name):
            return f"open mode serves without authentication: refused because {what} ({name}) is not a loopback address"
    return ""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
