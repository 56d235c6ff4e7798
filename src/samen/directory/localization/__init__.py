"""The localization index (NVI role): which custodians hold data of which category for a person.

``install(node)`` makes the node serve ``List`` from the index's own tables (schema 4), the
``$objection`` operation, and its public encryption key at ``[base]/.well-known/encryption-jwks.json``
(the pseudonymiser encrypts transport tokens to it). See docs/localization.md.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from samen.api.messages import FhirRequest, FhirResponse
from samen.auth.context import AccessContext
from samen.auth.enforcement import Refusal
from samen.auth.policy import LOCALIZATION_INDEX_RULES, SYSTEM
from samen.directory.localization_client import trusted_ura
from samen.directory.localization.provider import LocalizationProvider, objection
from samen.directory.pseudonyms import TOKEN_SYSTEM, load_or_create_encryption_key, public_encryption_jwks
from samen.fhir import outcome
from samen.settings import Settings
from samen.store.store import Session

if TYPE_CHECKING:
    from samen.node import Node

SERVICE = "localization-index"
ENCRYPTION_JWKS_PATH = ".well-known/encryption-jwks.json"


def install(node: Node) -> None:
    settings = node.settings
    if not settings.keys_dir:
        raise ValueError("the localization-index role needs a keys directory (--keys-dir) for its encryption key")
    key = load_or_create_encryption_key(Path(settings.keys_dir))
    provider = LocalizationProvider(key)
    node.router.register_provider("List", provider)
    node.router.register_operation("POST", "$objection", partial(_objection, provider, settings), writes=True)
    node.router.enforcer.policy.add_rules(LOCALIZATION_INDEX_RULES)
    jwks = public_encryption_jwks(key)

    async def encryption_jwks(request: Request) -> Response:
        return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})

    base_path = urlsplit(settings.base_url).path.rstrip("/")
    node.routes.append(Route(f"{base_path}/{ENCRYPTION_JWKS_PATH}", encryption_jwks, methods=["GET"]))
    node.services[SERVICE] = provider


def _objection(provider: LocalizationProvider, settings: Settings, session: Session,
               request: FhirRequest) -> FhirResponse:
    """``POST [base]/$objection``: Parameters ``token`` (valueIdentifier, the NVI system) and ``objection``
    (valueBoolean: true records the person's objection and removes their registrations, false withdraws it).

    Only from the pseudonymiser this index trusts (settings.pseudonymiser), which takes objections from the
    citizens themselves: any other organisation could withdraw someone's objection and then register them.
    """
    _check_pseudonymiser(settings, request.access)
    body: Any = request.body
    parameters = body.get("parameter") if isinstance(body, dict) and body.get("resourceType") == "Parameters" else None
    if not isinstance(parameters, list):
        raise outcome.bad_request("Send a Parameters resource with 'token' and 'objection'")
    tokens = [p.get("valueIdentifier") for p in parameters if isinstance(p, dict) and p.get("name") == "token"]
    flags = [p.get("valueBoolean") for p in parameters if isinstance(p, dict) and p.get("name") == "objection"]
    if (len(tokens) != 1 or not isinstance(tokens[0], dict) or tokens[0].get("system") != TOKEN_SYSTEM
            or not isinstance(tokens[0].get("value"), str)):
        raise outcome.bad_request(f"Parameter 'token' must be one valueIdentifier with system {TOKEN_SYSTEM}")
    if len(flags) != 1 or not isinstance(flags[0], bool):
        raise outcome.bad_request("Parameter 'objection' must be one valueBoolean")
    return FhirResponse(200, body=objection(provider, session, tokens[0]["value"], flags[0]))


def _check_pseudonymiser(settings: Settings, context: AccessContext | None) -> None:
    """The caller must be the organisation of the trust list whose FHIR endpoint is settings.pseudonymiser."""
    configured = settings.pseudonymiser and settings.trust_list
    trusted = trusted_ura(settings.trust_list, settings.pseudonymiser) if configured else ""
    caller = context.client_ura if context is not None and context.kind == SYSTEM else ""
    if not trusted or caller != trusted:
        raise Refusal(403, "Objections reach the index through the pseudonymiser, from the citizen themselves",
                      rule="localization-objection", context=context,
                      detail=f"{caller or 'the caller'} is not this index's pseudonymiser ({trusted or 'none set'})")
