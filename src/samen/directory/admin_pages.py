"""The directory management page of every node: ``{base}/beheer/adresboek``, in Dutch (``?lang=en``: English).

The organisation lists, creates, edits and deletes its own Organization (and departments), Locations,
HealthcareServices, Endpoints, Practitioners and PractitionerRoles. Every write goes through the node's Router
(validation, policy, audit) as the organisation itself (purpose ``admin``); the IG's rules are checked first
(:func:`samen.directory.codes.problems`) so the form can say in Dutch what is wrong.

Deny by default: in open mode (development on loopback) the page is open; otherwise it needs a session from a
one-time login link (:mod:`samen.directory.admin_session`), and a node without an organisation (no URA and
no keys) has no page. Every form carries a CSRF token bound to the session; cookies are SameSite=Strict.
Sessions live in the node's database, so signing out ends one for every worker process.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio.to_thread
import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from samen.api.messages import FhirRequest
from samen.auth import policy
from samen.auth.context import AccessContext
from samen.auth.grants import OneTimeGrants
from samen.directory import admin_forms as forms
from samen.directory import codes
from samen.directory.admin_session import Sessions, load_secret, login_link
from samen.directory.admin_texts import TEXTS
from samen.fhir.outcome import FhirError
from samen.node import Node
from samen.sample import URA

COOKIE = "samen_adresboek"
PATH = "/beheer/adresboek"
_templates = Environment(loader=PackageLoader("samen.directory", "templates"), autoescape=select_autoescape(["html"]))


def install(node: Node) -> None:
    """Serve the page when the node has an organisation (a URA), or is in open mode."""
    settings = node.settings
    ura = node.auth.ura or settings.ura
    if not ura and not settings.open_mode:
        return
    if settings.keys_dir:
        secret = load_secret(settings.keys_dir)
    elif settings.open_mode:
        import secrets

        secret = secrets.token_bytes(32)  # open mode: sessions only carry the CSRF binding
    else:
        return
    page = AdminPage(node, Sessions(OneTimeGrants(node.database), secret, ura or "open"), ura)
    node.services["directory-admin"] = page
    node.routes.extend(page.routes())


def _prune(value: Any) -> Any:
    """Without empty values (the forms leave optional elements empty; FHIR allows no empty elements)."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [v for v in (_prune(item) for item in value) if v not in (None, "", [], {})]
    return value


class AdminPage:
    def __init__(self, node: Node, sessions: Sessions, ura: str) -> None:
        self.node = node
        self.sessions = sessions
        self.ura = ura
        self.base_url = node.settings.base_url.rstrip("/")
        self.prefix = urlsplit(self.base_url).path.rstrip("/") + PATH
        self.secure = self.base_url.startswith("https://")
        self.access = None if node.settings.open_mode else AccessContext(
            kind=policy.SYSTEM, client_ura=ura, purpose=policy.ADMINISTRATION,
            scopes=frozenset(f"system/{t}.cruds" for t in codes.DIRECTORY_TYPES))

    def routes(self) -> list[Route]:
        return [
            Route(self.prefix, self.overview, methods=["GET"]),
            Route(f"{self.prefix}/login", self.login, methods=["GET"]),
            Route(f"{self.prefix}/afmelden", self.sign_out, methods=["POST"]),
            Route(f"{self.prefix}/afgemeld", self.signed_out, methods=["GET"]),
            Route(f"{self.prefix}/{{slug}}/nieuw", self.form, methods=["GET", "POST"]),
            Route(f"{self.prefix}/{{slug}}/{{res_id}}", self.form, methods=["GET", "POST"]),
            Route(f"{self.prefix}/{{slug}}/{{res_id}}/verwijderen", self.delete, methods=["POST"]),
        ]

    def login_link(self) -> str:
        return login_link(self.base_url, self.sessions.grants, self.sessions.ura)

    # --- sessions -------------------------------------------------------------------------------------------

    def _session(self, request: Request) -> tuple[str | None, str | None]:
        """(session id, new cookie to set): open mode gives every visitor a session; else a login is needed."""
        sid = self.sessions.session_id(request.cookies.get(COOKIE))
        if sid or not self.node.settings.open_mode:
            return sid, None
        cookie = self.sessions.start()
        return cookie, cookie

    def _set_cookie(self, response: Response, cookie: str | None) -> Response:
        if cookie:
            response.set_cookie(COOKIE, cookie, path=self.prefix, httponly=True, samesite="strict",
                                secure=self.secure)
        return response

    def _session_of_post(self, request: Request, form: Mapping[str, list[str]], lang: str) -> str | Response:
        """The session of a form post carrying its CSRF token; else the refusal (401 or 403) to answer with."""
        sid, _cookie = self._session(request)
        if sid is None:
            return self._refuse(lang, 401, "login_title", "login_needed")
        if not self.sessions.csrf_ok(sid, (form.get("csrf") or [""])[0]):
            return self._refuse(lang, 403, "csrf_title", "csrf_refused")
        return sid

    def _lang(self, request: Request, form: Mapping[str, list[str]] | None = None) -> str:
        lang = (form or {}).get("lang", [""])[0] or request.query_params.get("lang", "nl")
        return lang if lang in TEXTS else "nl"

    def _render(self, template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
        other = "en" if lang == "nl" else "nl"
        t = TEXTS[lang]
        html = _templates.get_template(template).render(
            lang=lang, other_lang=other, t=t, prefix=self.prefix, q=f"?lang={lang}",
            signed_in_by_link=not self.node.settings.open_mode,
            switch_url=f"?{urlencode({**context.pop('query', {}), 'lang': other})}", **context)
        return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store",
                                                               "X-Frame-Options": "DENY"})

    def _refuse(self, lang: str, status: int, title: str, text: str) -> HTMLResponse:
        return self._render("admin_message.html", lang, status, title=TEXTS[lang][title], text=TEXTS[lang][text])

    # --- FHIR through the router -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, params: list[tuple[str, str]] | None = None,
              body: Any = None) -> Any:
        request = FhirRequest(method, path, params or [], body, base_url=self.base_url, access=self.access,
                              client="directory-admin-page")
        payload = self.node.router.handle(request).payload()
        return orjson.loads(payload) if payload else None

    def _search(self, res_type: str, params: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
        bundle = self._call("GET", res_type, [("_count", "1000"), *(params or [])])
        return [entry["resource"] for entry in (bundle or {}).get("entry") or () if "resource" in entry]

    def _owner(self) -> forms.Owner:
        found = self._search("Organization", [("identifier", f"{URA}|{self.ura}")])
        own = next((org for org in found if not org.get("partOf")), found[0] if found else None)
        if own is None:
            return forms.Owner(self.ura, self.base_url)
        return forms.Owner(self.ura, self.base_url, own["id"], own.get("name", ""))

    def _directory(self) -> tuple[forms.Owner, dict[str, list[dict[str, Any]]]]:
        owner = self._owner()
        entries = {kind.res_type: [r for r in self._search(kind.res_type) if owner.owns(r)]
                   for kind in forms.KINDS.values()}
        return owner, entries

    # --- pages ----------------------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        lang = self._lang(request)
        cookie = await anyio.to_thread.run_sync(self.sessions.redeem, request.query_params.get("token", ""))
        if cookie is None:
            return self._refuse(lang, 401, "login_title", "login_invalid")
        return self._set_cookie(RedirectResponse(f"{self.prefix}?lang={lang}", status_code=303), cookie)

    async def sign_out(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        lang = self._lang(request, form)
        sid = await anyio.to_thread.run_sync(self._session_of_post, request, form, lang)
        if isinstance(sid, Response):
            return sid  # a refusal
        await anyio.to_thread.run_sync(self.sessions.end, sid)
        response = RedirectResponse(f"{self.prefix}/afgemeld?lang={lang}", status_code=303)
        response.delete_cookie(COOKIE, path=self.prefix, httponly=True, samesite="strict", secure=self.secure)
        return response

    async def signed_out(self, request: Request) -> Response:
        lang = self._lang(request)
        return self._render("admin_message.html", lang, title=TEXTS[lang]["signed_out_title"],
                            text=TEXTS[lang]["signed_out"], done=True)

    async def overview(self, request: Request) -> Response:
        lang = self._lang(request)
        sid, cookie = await anyio.to_thread.run_sync(self._session, request)
        if sid is None:
            return self._refuse(lang, 401, "login_title", "login_needed")
        owner, entries = await anyio.to_thread.run_sync(self._directory)
        sections = [(kind, [(r["id"], _summary(r, lang)) for r in entries[kind.res_type]])
                    for kind in forms.KINDS.values()]
        response = self._render("admin_overview.html", lang, owner=owner, sections=sections,
                                csrf=self.sessions.csrf(sid), notice=request.query_params.get("notice", ""))
        return self._set_cookie(response, cookie)

    async def form(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode(), keep_blank_values=True) if request.method == "POST" else {}
        lang = self._lang(request, form)
        sid, cookie = await anyio.to_thread.run_sync(self._session, request)
        if sid is None:
            return self._refuse(lang, 401, "login_title", "login_needed")
        kind = forms.KINDS.get(request.path_params["slug"])
        res_id = request.path_params.get("res_id")
        if kind is None:
            return self._refuse(lang, 404, "title", "not_found")
        if request.method == "POST" and not self.sessions.csrf_ok(sid, (form.get("csrf") or [""])[0]):
            return self._refuse(lang, 403, "csrf_title", "csrf_refused")
        owner, entries = await anyio.to_thread.run_sync(self._directory)
        existing = next((r for r in entries[kind.res_type] if r["id"] == res_id), None) if res_id else None
        if res_id and existing is None:
            return self._refuse(lang, 404, "title", "not_found")
        dynamic = {t: [(r["id"], _summary(r, "nl"), _summary(r, "en")) for r in entries[t]]
                   for t in ("Location", "Practitioner")}  # the organisation's own: the only ones a form may name
        errors: list[str] = []
        if request.method == "POST":
            errors = [f"{TEXTS[lang][name]}: {TEXTS[lang]['not_offered']}"
                      for name in forms.not_offered(kind, form, dynamic)]
            errors = errors or await anyio.to_thread.run_sync(self._save, kind, form, owner, existing, lang)
            if not errors:
                return RedirectResponse(f"{self.prefix}?lang={lang}&notice=saved", status_code=303)
            values = form
        else:
            values = kind.values(existing) if existing else {}
        fields = [(f, f.options(dynamic) if f.options else []) for f in kind.fields]
        what = TEXTS[lang][kind.res_type]
        title = TEXTS[lang]["edit_title" if existing else "new_title"].format(what=what)
        response = self._render("admin_form.html", lang, 422 if errors else 200, kind=kind, fields=fields,
                                values=values, errors=errors, title=title, csrf=self.sessions.csrf(sid),
                                action=request.url.path, res_id=res_id if existing else "")
        return self._set_cookie(response, cookie)

    def _save(self, kind: forms.Kind, form: Mapping[str, list[str]], owner: forms.Owner,
              existing: dict[str, Any] | None, lang: str) -> list[str]:
        """Write the form's resource through the router; the errors to show (in ``lang``), none when saved."""
        t = TEXTS[lang]
        errors = [f"{t[name]}: {t['field_required']}" for name in forms.missing(kind, form)]
        try:
            resource = kind.build(form, owner)
        except forms.FormError as error:
            return [*errors, f"{t[error.field]}: {t[error.key]}"]
        if existing:
            resource = forms.keep_identity(resource, existing)
        resource = _prune(resource)
        if errors:
            return errors
        rules = [t["rule"].format(message=problem.text(lang)) for problem in codes.problems(resource)]
        if rules:
            return rules
        try:
            if existing:
                self._call("PUT", f"{kind.res_type}/{existing['id']}", body=resource)
            else:
                self._call("POST", kind.res_type, body=resource)
        except FhirError as error:
            return [t["refused_by_node"].format(message=error.message)]
        return []

    async def delete(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode(), keep_blank_values=True)
        lang = self._lang(request, form)
        refusal = await anyio.to_thread.run_sync(self._session_of_post, request, form, lang)
        if isinstance(refusal, Response):
            return refusal
        kind = forms.KINDS.get(request.path_params["slug"])
        res_id = request.path_params["res_id"]
        if kind is None:
            return self._refuse(lang, 404, "title", "not_found")
        _owner, entries = await anyio.to_thread.run_sync(self._directory)
        if not any(r["id"] == res_id for r in entries[kind.res_type]):
            return self._refuse(lang, 404, "title", "not_found")
        try:
            await anyio.to_thread.run_sync(self._call, "DELETE", f"{kind.res_type}/{res_id}")
        except FhirError as error:
            return self._render("admin_message.html", lang, error.status, title=TEXTS[lang]["title"],
                                text=TEXTS[lang]["refused_by_node"].format(message=error.message))
        return RedirectResponse(f"{self.prefix}?lang={lang}&notice=deleted", status_code=303)


def _summary(resource: dict[str, Any], lang: str) -> str:
    """One line naming a directory entry in a list."""
    res_type = resource["resourceType"]
    if res_type == "Practitioner":
        return ((resource.get("name") or [{}])[0]).get("text", "") or resource["id"]
    if res_type == "PractitionerRole":
        role = forms.first_code(resource.get("code"), codes.UZI_ROLE)
        who = (resource.get("practitioner") or {}).get("reference", "")
        return f"{codes.display(codes.UZI_ROLE, role, lang) or role} ({who})"
    if res_type == "Endpoint":
        return f"{resource.get('name') or resource.get('address', '')} ({resource.get('status', '')})"
    return str(resource.get("name") or resource["id"])
