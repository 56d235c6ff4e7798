"""The clinician view's edges: a forged form reads nothing, a second login ends the first session, every answer
under /zorgverlener (also an unknown path or a wrong method) carries the page security headers."""

from __future__ import annotations

from pathlib import Path

import httpx
from browsing import browser  # noqa: F401  (browser: a fixture)
from clinician_env import NURSE, audited, clinician_node, log_in
from playwright.sync_api import Browser, Page, expect

from samen.apps.clinician.pages import COOKIE
from samen.fhir.model import Model


def session_cookie(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)


def test_a_forged_handover_form_is_refused_before_the_patient_is_read(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env:
        page = browser.new_page()
        log_in(page, env.view_url, NURSE)
        reads = len(audited(env.node, "Patient/p1"))
        with httpx.Client(timeout=10, cookies={COOKIE: session_cookie(page)}) as client:
            forged = client.post(f"{env.view_url}/patient/p1/overdracht", data={"csrf": "forged", "receiver": "x"})
            assert forged.status_code == 403
            assert client.post(f"{env.view_url}/patient/nobody/overdracht", data={"csrf": "x"}).status_code == 403
        assert len(audited(env.node, "Patient/p1")) == reads


def test_logging_in_again_ends_the_previous_session(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env:
        page = browser.new_page()
        log_in(page, env.view_url, NURSE)
        first = session_cookie(page)
        page.goto(f"{env.view_url}/inloggen")
        page.get_by_label(NURSE).check()
        page.get_by_role("button", name="Inloggen").click()
        expect(page.get_by_role("heading", name="Patiënt zoeken")).to_be_visible()
        second = session_cookie(page)
        sessions = env.node.services["clinician-view"].sessions
        assert second != first and sessions.find(second) is not None
        assert sessions.find(first) is None


def test_every_answer_carries_the_page_security_headers(
        database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env, httpx.Client(timeout=10) as client:
        answers = {
            "start": (client.get(env.view_url), 200),
            "unknown path": (client.get(f"{env.view_url}/bestaat-niet?lang=en"), 404),
            "wrong method": (client.get(f"{env.view_url}/afmelden"), 405),
            "wrong method at the start": (client.post(env.view_url), 405),
        }
        for what, (answer, status) in answers.items():
            assert answer.status_code == status, what
            policy = answer.headers.get("content-security-policy", "")
            for directive in ("default-src 'none'", "frame-ancestors 'none'", "form-action 'self'",
                              "base-uri 'none'"):
                assert directive in policy, (what, directive)
            assert answer.headers["cache-control"] == "no-store", what
            assert answer.headers["x-frame-options"] == "DENY", what
        assert "text/html" in answers["unknown path"][0].headers["content-type"]
        assert "does not exist" in answers["unknown path"][0].text
        assert answers["wrong method"][0].headers["allow"] == "POST"
