"""The authentication parts of one node, built from its settings: keys, trust list, issuer, validator,
authorization server. The HTTP layer talks to this object only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samen.auth.authorization_server import AuthorizationServer, TokenResponse
from samen.auth.context import AccessContext
from samen.auth.keys import KeyStore, KeyStoreError
from samen.auth.tokens import AuthError, TokenIssuer, TokenValidator, authenticate
from samen.auth.trust import TrustList
from samen.settings import Settings

if TYPE_CHECKING:
    from samen.auth.app_launch import AppLaunch


class IdentityError(ValueError):
    """The configured identity does not fit together (a URA that is not the keys' URA)."""


@dataclass
class NodeAuth:
    audience: str  # this node's FHIR base: the audience of every token it accepts
    keys: KeyStore | None  # None: no identity configured; the node issues and accepts no tokens
    trust: TrustList
    issuer: TokenIssuer | None
    validator: TokenValidator | None
    server: AuthorizationServer
    app_launch: AppLaunch | None = None  # SMART App Launch for patient apps; set by the node when configured

    @classmethod
    def from_settings(cls, settings: Settings, resource_types: Collection[str]) -> NodeAuth:
        base = settings.base_url
        keys = KeyStore(Path(settings.keys_dir)) if settings.keys_dir else None
        if keys is not None:
            try:
                keys_ura = keys.ura
            except KeyStoreError as error:
                raise IdentityError(str(error)) from error
            if not keys_ura:
                raise IdentityError(f"{settings.keys_dir} holds no keys; create them with samen keys create")
            if settings.ura and settings.ura != keys_ura:
                raise IdentityError(f"--ura {settings.ura} is not the URA of the keys in {settings.keys_dir} "
                                    f"({keys_ura})")
        trust = TrustList(Path(settings.trust_list) if settings.trust_list else None)
        issuer = TokenIssuer(keys, base) if keys is not None else None
        validator = TokenValidator(keys, base) if keys is not None else None
        server = AuthorizationServer(base, issuer, trust, resource_types=resource_types,
                                     token_lifetime_s=settings.token_lifetime_s)
        return cls(base, keys, trust, issuer, validator, server)

    @property
    def ura(self) -> str:
        return self.keys.ura if self.keys is not None else ""

    def authenticate(self, authorization: str | None) -> AccessContext | None:
        """The context of the request's bearer token; None without one; :class:`AuthError` for a bad one."""
        if self.validator is None:
            if not authorization:
                return None
            raise AuthError(401, "This node accepts no access tokens", "no identity configured")
        return authenticate(authorization, self.validator, audience=self.audience)

    def token(self, form: list[tuple[str, str]]) -> TokenResponse:
        """``POST [base]/auth/token``: a patient app's authorization code when SMART App Launch is configured,
        otherwise (and for every other grant) SMART Backend Services."""
        if self.app_launch is not None and ("grant_type", "authorization_code") in form:
            return self.app_launch.token(form)
        return self.server.token(form)

    def smart_configuration(self) -> dict[str, Any]:
        """``[base]/.well-known/smart-configuration``: Backend Services, plus App Launch when configured."""
        document = self.server.smart_configuration()
        return self.app_launch.smart_configuration(document) if self.app_launch is not None else document

    def public_jwks(self) -> dict[str, Any]:
        return self.keys.public_jwks() if self.keys is not None else {"keys": []}

    def close(self) -> None:
        self.trust.jwks_cache.close()
        if self.app_launch is not None:
            self.app_launch.citizen_idp.close()
