"""Real headless Chromium through the login pages: a citizen's app and a professional's login.

Screenshots of every page are kept in ``test-artifacts/idp/`` (git-ignored); the paths are printed.
"""

from __future__ import annotations

from pathlib import Path

from idp_serving import served_app, served_idp
from launch_env import APP, CITIZEN_BSN, launch_env
from browsing import browser, screenshot  # noqa: F401  (browser: a fixture)
from playwright.sync_api import Browser, Page, expect
from serving import free_port
from test_apps import clinician_app, patient_app

from samen.auth import jose
from samen.fhir.model import Model



def test_citizen_logs_in_and_the_app_reads_own_data(browser: Browser, model: Model, tmp_path: Path) -> None:
    app_port = free_port()
    with launch_env(str(tmp_path / "node.db"), model, tmp_path, app_port=app_port) as env, \
            served_app(patient_app(env.base_url, APP, env.app_redirect), app_port):
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{app_port}/start")
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.get_by_role("heading", name="Inloggen met de test-DigiD")).to_be_visible()
        expect(page.get_by_label("Burgerservicenummer (BSN)")).to_be_visible()
        screenshot(page, "idp", "citizen-login-nl")

        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="Log in with test DigiD")).to_be_visible()
        screenshot(page, "idp", "citizen-login-en")
        page.get_by_role("link", name="Nederlands").click()

        page.get_by_label("Burgerservicenummer (BSN)").fill("123456782")  # not synthetic: refused
        page.get_by_role("button", name="Inloggen").click()
        expect(page.get_by_role("alert")).to_contain_text("Dit is geen geldig BSN")
        screenshot(page, "idp", "citizen-login-refused")

        page.get_by_label("Burgerservicenummer (BSN)").fill(CITIZEN_BSN)
        page.get_by_role("button", name="Inloggen").click()
        expect(page.locator("#patient")).to_have_text(f"Burger{CITIZEN_BSN[-2:]}")
        expect(page.locator("#observations")).to_have_text("2")
        assert page.url.startswith(env.app_redirect + "?")
        screenshot(page, "idp", "citizen-app-own-data")


def test_professional_logs_in_and_receives_an_attestation(browser: Browser) -> None:
    app_port = free_port()
    redirect = f"http://127.0.0.1:{app_port}/callback"
    with served_idp({"clinician-app": (redirect,)}) as idp, \
            served_app(clinician_app(idp.professional.issuer, "clinician-app", redirect), app_port):
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{app_port}/start")
        expect(page.get_by_role("heading", name="Inloggen als zorgverlener (test-Dezi)")).to_be_visible()
        screenshot(page, "idp", "professional-login-nl")
        page.get_by_label("dr. A. de Vries").check()
        page.get_by_role("button", name="Inloggen").click()
        attestation = page.locator("#attestation").inner_text()
        screenshot(page, "idp", "professional-attestation")
    claims = jose.verify(attestation, idp.key.current())
    assert (claims["iss"], claims["uzi"], claims["role"], claims["ura"]) == (
        idp.professional.issuer, "900000001", "01.015", "90000001")
