"""What the clinician reads is in the page's language: FHIR status codes and the failures of a decision on an
eOverdracht are translated, and the language link of such a page leads to a page that exists; a search error
marks the field it is about."""

from __future__ import annotations

import time
from pathlib import Path

from browsing import browser  # noqa: F401  (browser: a fixture)
from clinician_env import NURSE, OTHER_ORGANISATION_DOCTOR, PRACTICE, clinician_node, log_in
from fake_services import FakeExchange, FakeHandover, install_exchange
from playwright.sync_api import Browser, Page, expect

from samen.apps.clinician.login import SignedIn
from samen.apps.clinician.pages import COOKIE
from samen.auth.context import Professional
from samen.exchange.bgz import BgzResult, Section
from samen.exchange.merge import Entry, Source
from samen.fhir.model import Model
from samen.node import Node

PROFESSIONAL = Professional("900000002", "30.000", "90000002", NURSE)


class VaccinatingExchange(FakeExchange):
    """A BgZ whose one entry has only a FHIR status code, no words of the custodian's own."""

    def bgz(self, bsn: str, *, attestation: str, timeout_s: float | None = None) -> BgzResult:
        flu = {"resourceType": "Immunization", "id": "i1", "status": "completed", "vaccineCode": {"text": "Griep"},
               "occurrenceDateTime": "2023-10-12"}
        entry = Entry(flu, (Source("90000001", "Huisartsenpraktijk De Linde", "Immunization/i1"),))
        return BgzResult(bsn, (Section("immunizations", "Vaccinaties", "Immunizations", (entry,)),), (), 5.0)


def signed_in_page(browser: Browser, node: Node) -> Page:
    view = node.services["clinician-view"]
    cookie = view.sessions.start(SignedIn(PROFESSIONAL, "a.b.c", time.time() + 600, "nl"))
    context = browser.new_context()
    context.add_cookies([{"name": COOKIE, "value": cookie, "domain": "127.0.0.1", "path": view.prefix}])
    return context.new_page()


def test_the_medication_and_bgz_statuses_are_in_dutch(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path, organisation=PRACTICE) as env:
        install_exchange(env.node, VaccinatingExchange())
        page = browser.new_page()
        log_in(page, env.view_url, OTHER_ORGANISATION_DOCTOR)  # a GP here: the policy lets physicians ask
        page.goto(f"{env.view_url}/patient/p1")
        expect(page.get_by_role("row", name="Griep").locator("td").nth(3)).to_have_text("afgerond")
        page.goto(f"{env.view_url}/patient/p1/medicatie")
        rows = page.locator("#medication tbody tr")
        expect(rows.nth(0).locator("td").nth(4)).to_have_text("afgerond")
        expect(rows.nth(1).locator("td").nth(4)).to_have_text("actief")
        page.goto(f"{env.view_url}/patient/p1/medicatie?lang=en")
        expect(rows.nth(1).locator("td").nth(4)).to_have_text("active")


def test_a_failed_decision_on_a_handover_is_told_in_dutch_with_a_working_language_link(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env:
        env.node.services["handover"] = FakeHandover()
        page = signed_in_page(browser, env.node)
        page.goto(f"{env.view_url}/overdrachten/in-1")
        page.get_by_role("button", name="Gegevens ophalen").click()
        del env.node.services["handover"]  # e.g. switched off on this worker since the page was shown
        page.get_by_role("button", name="Accepteren").click()
        expect(page.get_by_role("alert")).to_have_text(
            "De overdracht is niet gelukt: Deze functie is op deze node niet ingeschakeld.")
        with page.expect_response(lambda r: "lang=en" in r.url) as answer:
            page.get_by_role("link", name="English").click()
        assert answer.value.url.endswith("/zorgverlener/overdrachten?lang=en")  # a page, not the POST-only URL
        expect(page.get_by_role("heading", name="Handovers", exact=True)).to_be_visible()


def test_an_invalid_birth_date_marks_the_birth_date_field_not_the_name(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env:
        page = signed_in_page(browser, env.node)
        page.goto(env.view_url)
        page.get_by_label("Achternaam").fill("Visser")
        page.get_by_label("Geboortedatum").fill("12-03-1948")
        page.get_by_role("button", name="Zoeken").nth(1).click()
        expect(page.get_by_role("alert")).to_have_text("Vul de geboortedatum in als jjjj-mm-dd.")
        expect(page.get_by_label("Geboortedatum")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Achternaam")).not_to_have_attribute("aria-invalid", "true")
        page.get_by_label("Geboortedatum").fill("")
        page.get_by_role("button", name="Zoeken").nth(1).click()
        expect(page.get_by_role("alert")).to_have_text("Vul zowel de naam als de geboortedatum in.")
        expect(page.get_by_label("Geboortedatum")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Achternaam")).not_to_have_attribute("aria-invalid", "true")
