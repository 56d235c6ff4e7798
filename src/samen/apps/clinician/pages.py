"""The clinician view's pages under ``{base}/zorgverlener``: only translation between HTTP and the parts.

Login (:mod:`.login`), sessions (:mod:`.session`), the node's own patients (:mod:`.patients`) and the exchanges
(the node's own ``$bgz`` and ``$medication-overview``, asked through its router so that its policy and audit
trail apply, and ``node.services["handover"]`` for eOverdracht) decide; this module reads forms, calls them in a worker thread and renders the templates in Dutch
or English (``?lang=en``). Every form carries the session's CSRF token; the pages send the IdP pages' security
headers (no caching, a strict Content-Security-Policy, no framing, no referrer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread
import structlog
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from samen.apps.clinician import display
from samen.apps.clinician.login import LoginRefused, ProfessionalLogin
from samen.apps.clinician.patients import Patients, PatientSummary, SearchError
from samen.apps.clinician.session import ClinicianSessions, Session
from samen.apps.clinician.texts import TEXTS
from samen.auth.context import Professional
from samen.auth.policy import BGZ, MEDICATION
from samen.auth.trust import TrustList
from samen.fhir.outcome import FhirError
from samen.idp.http import PAGE_HEADERS as IDP_PAGE_HEADERS

PATH = "/zorgverlener"
CALLBACK = "callback"
COOKIE = "samen_zorgverlener"
LOGIN_COOKIE = "samen_zorgverlener_login"
MAX_FORM_BYTES = 16 * 1024
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_templates = Environment(loader=PackageLoader("samen.apps.clinician", "templates"),
                         autoescape=select_autoescape(["html"]))

log = structlog.get_logger("samen.apps.clinician")

# the IdP pages' headers; every form of the view posts to the view, and no page sets a base URL
PAGE_HEADERS = {**IDP_PAGE_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"}


class Ask(Protocol):
    """:func:`samen.exchange.operations.ask` on this node: the BgZ or medication overview through its router."""

    def __call__(self, professional: Professional, bsn: str, attestation: str, purpose: str, *,
                 client: str) -> Any: ...


class ClinicianView:
    def __init__(self, base_url: str, ura: str, login: ProfessionalLogin, sessions: ClinicianSessions,
                 patients: Patients, trust: TrustList, services: Mapping[str, Any], ask: Ask) -> None:
        self.base_url = base_url.rstrip("/")
        self.ura = ura
        self.login = login
        self.sessions = sessions
        self.patients = patients
        self.trust = trust
        self.services = services  # looked up per request: a feature installed after this one is found too
        self.ask = ask
        self.prefix = urlsplit(self.base_url).path.rstrip("/") + PATH
        self.secure = self.base_url.startswith("https://")

    def routes(self) -> list[Route]:
        """The pages, then any other path or method under the prefix: answered by :meth:`unknown`."""
        p = self.prefix
        pages = self._pages()
        return [*pages, *(Route(path, self.unknown, methods=ANY_METHOD) for path in (p, f"{p}/{{rest:path}}"))]

    def _pages(self) -> list[Route]:
        p = self.prefix
        return [
            Route(p, self.home, methods=["GET"]),
            Route(f"{p}/inloggen", self.start_login, methods=["GET"]),
            Route(f"{p}/{CALLBACK}", self.callback, methods=["GET"]),
            Route(f"{p}/afmelden", self.sign_out, methods=["POST"]),
            Route(f"{p}/afgemeld", self.signed_out, methods=["GET"]),
            Route(f"{p}/zoeken", self.search, methods=["POST"]),
            Route(f"{p}/patient/{{pid}}", self.bgz, methods=["GET"]),
            Route(f"{p}/patient/{{pid}}/medicatie", self.medication, methods=["GET"]),
            Route(f"{p}/patient/{{pid}}/overdracht", self.handover_form, methods=["GET", "POST"]),
            Route(f"{p}/overdrachten", self.handovers, methods=["GET"]),
            Route(f"{p}/overdrachten/{{hid}}", self.handover, methods=["GET"]),
            Route(f"{p}/overdrachten/{{hid}}/ophalen", self.pull, methods=["POST"]),
            Route(f"{p}/overdrachten/{{hid}}/{{decision}}", self.decide, methods=["POST"]),
        ]

    async def unknown(self, request: Request) -> Response:
        """A path under the prefix that is no page (404), or a page asked with another method (405)."""
        lang = self._lang(request)
        allowed = sorted({method for route in self._pages() if route.matches(request.scope)[0] == Match.PARTIAL
                          for method in route.methods or () if method != "HEAD"})
        if allowed:
            response = self._message(lang, None, 405, "title", "method_not_allowed")
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return self._message(lang, None, 404, "title", "page_not_found")

    # --- rendering --------------------------------------------------------------------------------------------

    def _render(self, template: str, lang: str, session: Session | None, status: int = 200,
                **context: Any) -> HTMLResponse:
        t = TEXTS[lang]
        other = "en" if lang == "nl" else "nl"
        html = _templates.get_template(template).render(
            lang=lang, other_lang=other, t=t, prefix=self.prefix, q=f"?lang={lang}", session=session,
            switch_url=f"{context.pop('here', '')}?lang={other}", display=display, **context)
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)

    def _message(self, lang: str, session: Session | None, status: int, title: str, text: str,
                 login_link: bool = False) -> HTMLResponse:
        t = TEXTS[lang]
        return self._render("message.html", lang, session, status, here=self.prefix, title=t[title], text=t[text],
                            error=status >= 400, login_link=login_link)

    def _lang(self, request: Request, form: Mapping[str, list[str]] | None = None) -> str:
        lang = (form or {}).get("lang", [""])[0] or request.query_params.get("lang", "nl")
        return lang if lang in TEXTS else "nl"

    def _set_session_cookie(self, response: Response, cookie: str) -> Response:
        # SameSite=Lax: the first page after the IdP's redirect must see the session; posts carry CSRF tokens
        response.set_cookie(COOKIE, cookie, path=self.prefix, httponly=True, samesite="lax", secure=self.secure)
        return response

    # --- sessions ---------------------------------------------------------------------------------------------

    async def _session(self, request: Request) -> Session | None:
        return await anyio.to_thread.run_sync(self.sessions.find, request.cookies.get(COOKIE))

    async def _form(self, request: Request) -> dict[str, list[str]]:
        body = await request.body()
        return parse_qs(body[:MAX_FORM_BYTES].decode(errors="replace"), keep_blank_values=True)

    async def _posting_session(self, request: Request, form: Mapping[str, list[str]],
                               lang: str) -> Session | Response:
        """The session of a form post carrying its CSRF token; else the refusal to answer with."""
        session = await self._session(request)
        if session is None:
            return self._message(lang, None, 401, "login_title", "login_needed", login_link=True)
        if not self.sessions.csrf_ok(session, (form.get("csrf") or [""])[0]):
            return self._message(lang, session, 403, "csrf_title", "csrf_refused")
        return session

    # --- login ------------------------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        lang = self._lang(request)
        session = await self._session(request)
        if session is None:
            return self._render("start.html", lang, None, here=self.prefix)
        return self._render("search.html", lang, session, here=self.prefix, values={}, results=None)

    async def start_login(self, request: Request) -> Response:
        lang = self._lang(request)
        try:
            started = await anyio.to_thread.run_sync(self.login.begin, lang)
        except LoginRefused as refused:
            log.error("professional identity provider unavailable", detail=str(refused))
            return self._message(lang, None, refused.status, "login_title", refused.reason)
        response = RedirectResponse(started.url, 303, headers=PAGE_HEADERS)
        response.set_cookie(LOGIN_COOKIE, started.browser_secret, max_age=600, path=self.prefix, httponly=True,
                            samesite="lax", secure=self.secure)
        return response

    async def callback(self, request: Request) -> Response:
        params = {key: value for key, value in request.query_params.items()}
        try:
            signed_in = await anyio.to_thread.run_sync(self.login.finish, params,
                                                       request.cookies.get(LOGIN_COOKIE, ""))
            cookie = await anyio.to_thread.run_sync(self.sessions.start, signed_in)
            if cookie is None:
                raise LoginRefused("login_unverified", "the attestation has expired")
            previous = await self._session(request)
            if previous is not None:  # one session per browser: the one this login replaces ends
                await anyio.to_thread.run_sync(self.sessions.end, previous)
        except LoginRefused as refused:
            log.warning("clinician login refused", reason=refused.reason, detail=str(refused))
            lang = refused.lang or self._lang(request)
            title = "refused_title" if refused.status == 403 else "login_title"
            response: Response = self._message(lang, None, refused.status, title, refused.reason, login_link=True)
        else:
            response = self._set_session_cookie(
                RedirectResponse(f"{self.prefix}?lang={signed_in.lang}", 303, headers=PAGE_HEADERS), cookie)
        response.delete_cookie(LOGIN_COOKIE, path=self.prefix, httponly=True, samesite="lax", secure=self.secure)
        return response

    async def sign_out(self, request: Request) -> Response:
        form = await self._form(request)
        lang = self._lang(request, form)
        session = await self._posting_session(request, form, lang)
        if isinstance(session, Response):
            return session
        await anyio.to_thread.run_sync(self.sessions.end, session)
        response = RedirectResponse(f"{self.prefix}/afgemeld?lang={lang}", 303, headers=PAGE_HEADERS)
        response.delete_cookie(COOKIE, path=self.prefix, httponly=True, samesite="lax", secure=self.secure)
        return response

    async def signed_out(self, request: Request) -> Response:
        lang = self._lang(request)
        return self._message(lang, None, 200, "signed_out_title", "signed_out", login_link=True)

    # --- finding a patient ------------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        form = await self._form(request)
        lang = self._lang(request, form)
        session = await self._posting_session(request, form, lang)
        if isinstance(session, Response):
            return session
        values = {name: (form.get(name) or [""])[0] for name in ("bsn", "name", "birth_date")}
        try:
            if values["bsn"].strip():
                results = await anyio.to_thread.run_sync(self.patients.by_bsn, session.professional, values["bsn"])
            else:
                results = await anyio.to_thread.run_sync(self.patients.by_name, session.professional,
                                                         values["name"], values["birth_date"])
        except SearchError as error:
            field = "bsn" if values["bsn"].strip() else "name"
            return self._render("search.html", lang, session, 422, here=self.prefix, values=values, results=None,
                                error=str(error), error_field=field, invalid=error.fields)
        return self._render("search.html", lang, session, here=self.prefix, values=values, results=results)

    async def _patient(self, request: Request, form: Mapping[str, list[str]] | None = None,
                       ) -> tuple[str, Session, PatientSummary] | Response:
        """The language, the session and the node's patient of the page; else the refusal to answer with."""
        lang = self._lang(request, form)
        session = await self._session(request)
        if session is None:
            return self._message(lang, None, 401, "login_title", "login_needed", login_link=True)
        patient = await anyio.to_thread.run_sync(self.patients.get, session.professional, request.path_params["pid"])
        if patient is None or not patient.bsn:
            return self._message(lang, session, 404, "title", "not_found")
        return lang, session, patient

    # --- the BgZ and the medication overview ------------------------------------------------------------------

    async def bgz(self, request: Request) -> Response:
        return await self._exchange_page(request, BGZ, "bgz.html")

    async def medication(self, request: Request) -> Response:
        return await self._exchange_page(request, MEDICATION, "medication.html")

    async def _exchange_page(self, request: Request, purpose: str, template: str) -> Response:
        """The BgZ or medication overview of the page's patient, asked of this node as the signed-in professional:
        its policy decides (a refusal is a page of its own) and its audit trail records the request."""
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        lang, session, patient = found
        client = request.client.host if request.client else ""
        result, failure = None, "unavailable"  # a key of the page texts
        if self.services.get("exchange") is not None:
            try:
                result, failure = await anyio.to_thread.run_sync(
                    lambda: self.ask(session.professional, patient.bsn, session.attestation, purpose, client=client)), ""
            except FhirError as error:
                if error.status == 403:
                    log.info("exchange refused", purpose=purpose, role=session.professional.role, reason=error.message)
                    return self._message(lang, session, 403, "refused_title", "exchange_refused")
                failure = error.message
            except Exception as error:  # noqa: BLE001  (any failure of the exchange is shown, not raised)
                log.warning("exchange failed", purpose=purpose, error=repr(error)[:300])
                failure = str(error)[:300] or type(error).__name__
        return self._render(template, lang, session, 502 if failure else 200, here=request.url.path,
                            patient=patient, result=result, failure=failure)

    # --- eOverdracht ------------------------------------------------------------------------------------------

    async def handover_form(self, request: Request) -> Response:
        form: dict[str, list[str]] = {}
        if request.method == "POST":  # the session and its CSRF token first: a forged post reads nothing
            form = await self._form(request)
            posting = await self._posting_session(request, form, self._lang(request, form))
            if isinstance(posting, Response):
                return posting
        found = await self._patient(request, form)
        if isinstance(found, Response):
            return found
        lang, session, patient = found
        receivers = [org for org in self.trust.organisations() if org.ura != self.ura]
        values = {name: (form.get(name) or [""])[0] for name in ("receiver", "note")}
        error = failure = ""
        if request.method == "POST":
            if values["receiver"] not in {org.ura for org in receivers}:
                error = "receiver_required"
            else:
                _sent, failure = await self._call("handover", "send", patient_id=patient.id,
                                                  receiver_ura=values["receiver"], resources=[], note=values["note"],
                                                  attestation=session.attestation)
                if not failure:
                    return RedirectResponse(f"{self.prefix}/overdrachten?lang={lang}&notice=handover_sent", 303,
                                            headers=PAGE_HEADERS)
        status = 422 if error else 502 if failure else 200
        return self._render("handover_form.html", lang, session, status, here=request.url.path, patient=patient,
                            receivers=receivers, values=values, error=error, failure=failure)

    async def handovers(self, request: Request) -> Response:
        lang = self._lang(request)
        session = await self._session(request)
        if session is None:
            return self._message(lang, None, 401, "login_title", "login_needed", login_link=True)
        incoming, failure = await self._call("handover", "incoming")
        outgoing, failure_out = await self._call("handover", "outgoing")
        notice = request.query_params.get("notice", "")
        notice = f"notice_{notice}" if f"notice_{notice}" in TEXTS[lang] else ""
        return self._render("handovers.html", lang, session, 502 if failure or failure_out else 200,
                            here=request.url.path, incoming=incoming or [], outgoing=outgoing or [],
                            failure=failure or failure_out, notice=notice)

    async def handover(self, request: Request) -> Response:
        """An incoming handover as announced, with the button that pulls its data (pulling changes its status)."""
        lang = self._lang(request)
        session = await self._session(request)
        if session is None:
            return self._message(lang, None, 401, "login_title", "login_needed", login_link=True)
        announced, failure = await self._incoming(request.path_params["hid"])
        if not failure and announced is None:
            return self._message(lang, session, 404, "title", "not_found")
        return self._render("handover.html", lang, session, 502 if failure else 200, here=request.url.path,
                            handover=announced, pulled=None, failure=failure)

    async def pull(self, request: Request) -> Response:
        """Pull an incoming handover's data from the sender (its Task becomes ``received``) and show it."""
        form = await self._form(request)
        lang = self._lang(request, form)
        session = await self._posting_session(request, form, lang)
        if isinstance(session, Response):
            return session
        hid = request.path_params["hid"]
        announced, failure = await self._incoming(hid)
        if not failure and announced is None:
            return self._message(lang, session, 404, "title", "not_found")
        pulled = None
        if not failure:
            pulled, failure = await self._call("handover", "pull", hid, attestation=session.attestation)
        return self._render("handover.html", lang, session, 502 if failure else 200,
                            here=f"{self.prefix}/overdrachten/{hid}", handover=pulled.handover if pulled else announced,
                            pulled=pulled, failure=failure)

    async def _incoming(self, hid: str) -> tuple[Any, str]:
        """(the incoming handover ``hid`` or None, "") or (None, why the list could not be read)."""
        incoming, failure = await self._call("handover", "incoming")
        return next((item for item in incoming or [] if item.id == hid), None), failure

    async def decide(self, request: Request) -> Response:
        form = await self._form(request)
        lang = self._lang(request, form)
        session = await self._posting_session(request, form, lang)
        if isinstance(session, Response):
            return session
        hid, decision = request.path_params["hid"], request.path_params["decision"]
        announced, failure = await self._incoming(hid)
        if decision not in ("accepteren", "weigeren") or (not failure and announced is None):
            return self._message(lang, session, 404, "title", "not_found")
        if not failure and decision == "accepteren":
            _done, failure = await self._call("handover", "accept", hid, attestation=session.attestation)
        elif not failure:
            reason = (form.get("reason") or [""])[0].strip()
            _done, failure = await self._call("handover", "reject", hid, reason, attestation=session.attestation)
        if failure:
            t = TEXTS[lang]
            return self._render("message.html", lang, session, 502, here=f"{self.prefix}/overdrachten",
                                title=t["handovers"], error=True,
                                text=t["handover_failed"].format(message=t.get(failure, failure)))
        notice = "accepted" if decision == "accepteren" else "rejected"
        return RedirectResponse(f"{self.prefix}/overdrachten?lang={lang}&notice={notice}", 303, headers=PAGE_HEADERS)

    # --- the exchange services ---------------------------------------------------------------------------------

    async def _call(self, service: str, method: str, *args: Any, **kwargs: Any) -> tuple[Any, str]:
        """(answer, "") of ``node.services[service].method``; (None, why) when it is missing or failed."""
        installed = self.services.get(service)
        if installed is None:
            return None, "unavailable"  # a key of the page texts
        call: Callable[..., Any] = getattr(installed, method)
        try:
            return await anyio.to_thread.run_sync(lambda: call(*args, **kwargs)), ""
        except Exception as error:  # noqa: BLE001  (any failure of another organisation's exchange is shown, not raised)
            log.warning("exchange failed", service=service, method=method, error=repr(error)[:300])
            return None, str(error)[:300] or type(error).__name__
