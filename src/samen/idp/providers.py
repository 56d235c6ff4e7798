"""The two test IdPs of one ``samen idp`` process, each under its own path of the same base URL."""

from __future__ import annotations

from samen.idp.identities import Citizens, Professionals
from samen.idp.keys import IdpKey
from samen.idp.people import DEFAULT_PROFESSIONALS, TestProfessional
from samen.idp.provider import Client, OidcProvider

CITIZEN_PATH = "/citizen"
PROFESSIONAL_PATH = "/professional"


def test_providers(base_url: str, key: IdpKey, clients: tuple[Client, ...],
                   professionals: tuple[TestProfessional, ...] = DEFAULT_PROFESSIONALS) -> dict[str, OidcProvider]:
    """The citizen (DigiD-like) and professional (Dezi-like) providers by path; issuers are base URL + path."""
    base = base_url.rstrip("/")
    return {
        CITIZEN_PATH: OidcProvider(base + CITIZEN_PATH, Citizens(key.derived_secret("pairwise")), key, clients),
        PROFESSIONAL_PATH: OidcProvider(base + PROFESSIONAL_PATH, Professionals(professionals), key, clients),
    }


def parse_clients(pairs: list[str]) -> tuple[Client, ...]:
    """``["app=https://app.example/cb", ...]`` as clients, the redirect URIs of one client id together.

    Raises ValueError for a pair without ``=`` or with a redirect URI that is not http(s).
    """
    uris: dict[str, list[str]] = {}
    for pair in pairs:
        client_id, sep, redirect_uri = pair.partition("=")
        if not sep or not client_id or not redirect_uri.startswith(("https://", "http://")):
            raise ValueError(f"'{pair}' is not of the form CLIENT_ID=https://redirect/uri")
        uris.setdefault(client_id, []).append(redirect_uri)
    return tuple(Client(client_id, tuple(redirects)) for client_id, redirects in uris.items())
