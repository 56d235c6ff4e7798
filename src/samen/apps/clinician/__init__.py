"""The clinician view: a professional of this node's organisation finds a patient, sees the merged BgZ from
every provider that holds it (with sources and the providers that refused or could not answer), the medication
overview, and starts and accepts eOverdrachten. Served under ``{base}/zorgverlener`` by every node with a
professional identity provider (``samen serve --professional-idp ISSUER``); see docs/clinician.md.
"""

from __future__ import annotations

from functools import partial

from samen.apps.clinician.login import ProfessionalLogin
from samen.apps.clinician.pages import CALLBACK, PATH, ClinicianView
from samen.apps.clinician.patients import Patients
from samen.apps.clinician.session import SECRET_FILE, SESSION_KIND, ClinicianSessions
from samen.auth.grants import OneTimeGrants
from samen.auth.oidc_client import OidcRelyingParty
from samen.directory.admin_session import Sessions, load_secret
from samen.exchange import operations
from samen.node import Node


def install(node: Node) -> None:
    """Serve the view when the node has a professional identity provider; it needs the node's identity."""
    settings = node.settings
    if not settings.professional_idp:
        return
    ura = node.auth.ura or settings.ura
    if not ura or not settings.keys_dir:
        raise ValueError("the clinician view (--professional-idp) needs the node's identity (--keys)")
    base_url = settings.base_url.rstrip("/")
    grants = OneTimeGrants(node.database)
    idp = OidcRelyingParty(settings.professional_idp, settings.professional_idp_client_id or base_url,
                           node.auth.trust.jwks_cache)
    node.closers.append(idp.close)
    login = ProfessionalLogin(idp, grants, node.auth.trust, ura, f"{base_url}{PATH}/{CALLBACK}")
    sessions = ClinicianSessions(Sessions(grants, load_secret(settings.keys_dir, SECRET_FILE), ura, SESSION_KIND))
    view = ClinicianView(base_url, ura, login, sessions, Patients(node.router, base_url, ura), node.auth.trust,
                         node.services, partial(operations.ask, node))
    node.services["clinician-view"] = view
    node.routes.extend(view.routes())
