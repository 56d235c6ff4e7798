"""The clinician view in real headless Chromium: login through the professional IdP, finding a patient, the BgZ
with sources and refusals, the medication overview, eOverdracht, English, sign-out; and what is refused.

The exchanges are in-memory stand-ins here (fake_services) so that every page state can be shown; the tests in
test_clinician_network.py run the same pages over the real services and real nodes. Screenshots are kept in
``test-artifacts/clinician/``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
from browsing import browser, screenshot  # noqa: F401  (browser: a fixture)
from clinician_env import NURSE, OTHER_ORGANISATION_DOCTOR, PATIENT_BSN, PRACTICE, audited, clinician_node, log_in
from fake_services import FakeExchange, FakeHandover, install_exchange
from playwright.sync_api import Browser, expect

from samen.fhir.model import Model

SHOTS = "clinician"


def test_a_physician_finds_a_patient_sees_the_bgz_and_medication_and_hands_over(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path, organisation=PRACTICE) as env:
        exchange, handover = FakeExchange(), FakeHandover()
        install_exchange(env.node, exchange)
        env.node.services["handover"] = handover
        page = browser.new_page()

        page.goto(env.view_url)
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        screenshot(page, SHOTS, "01-start")
        log_in(page, env.view_url, OTHER_ORGANISATION_DOCTOR)
        expect(page.get_by_role("heading", name="Patiënt zoeken")).to_be_visible()
        expect(page.get_by_text(f"Ingelogd als {OTHER_ORGANISATION_DOCTOR} (UZI 900000001)")).to_be_visible()
        screenshot(page, SHOTS, "02-signed-in")

        page.get_by_label("Burgerservicenummer (BSN)").fill("123456789")  # fails the elfproef
        page.get_by_role("button", name="Zoeken").first.click()
        expect(page.get_by_role("alert")).to_have_text("Dit is geen geldig BSN (de elfproef klopt niet).")
        expect(page.get_by_label("Burgerservicenummer (BSN)")).to_have_attribute("aria-invalid", "true")
        screenshot(page, SHOTS, "03-bsn-refused")

        page.get_by_label("Burgerservicenummer (BSN)").fill(PATIENT_BSN)
        page.get_by_role("button", name="Zoeken").first.click()
        expect(page.get_by_role("row")).to_have_count(2)  # the header and Anna Visser only
        screenshot(page, SHOTS, "04-found-by-bsn")

        page.get_by_label("Achternaam").fill("Visser")
        page.get_by_label("Geboortedatum").fill("1950-07-01")
        page.get_by_role("button", name="Zoeken").nth(1).click()
        expect(page.get_by_role("link", name="Jan Visser")).to_be_visible()
        expect(page.get_by_role("link", name="Anna Visser")).to_have_count(0)
        screenshot(page, SHOTS, "05-found-by-name-and-birth-date")

        page.get_by_label("Burgerservicenummer (BSN)").fill(PATIENT_BSN)
        page.get_by_role("button", name="Zoeken").first.click()
        page.get_by_role("link", name="Anna Visser").click()
        expect(page.get_by_role("heading", name="Basisgegevensset Zorg van Anna Visser")).to_be_visible()
        problems = page.locator("#unavailable")
        expect(problems.get_by_role("row", name="Huisartsenpraktijk Het Plein")).to_contain_text(
            "geweigerd (toestemming)")
        expect(problems.get_by_role("row", name="Ziekenhuis Zuid")).to_contain_text("niet bereikbaar")
        expect(page.locator("section#problems").get_by_role("row", name="Diabetes mellitus type 2")).to_contain_text(
            "Huisartsenpraktijk De Linde; Ziekenhuis Noord")
        expect(page.get_by_role("heading", name="Allergieën")).to_be_visible()
        expect(page.locator("section#immunizations")).to_contain_text("Geen gegevens.")
        assert exchange.asked[-1][:2] == ("bgz", PATIENT_BSN) and exchange.asked[-1][2].count(".") == 2
        [access] = audited(env.node, "$bgz")  # through the node's policy, on its audit trail, for the person
        assert access["outcome"] == "0" and PATIENT_BSN in orjson.dumps(access).decode()
        assert exchange.asked[-1][2] not in orjson.dumps(access).decode()  # the attestation is not on the trail
        screenshot(page, SHOTS, "06-bgz")

        page.get_by_role("link", name="Medicatieoverzicht").click()
        rows = page.locator("#medication tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("2024-05-02")
        expect(rows.nth(0)).to_contain_text("verstrekking")
        expect(rows.nth(0)).to_contain_text("Apotheek Centrum")
        expect(rows.nth(1)).to_contain_text("medicatieafspraak")
        assert [a["outcome"] for a in audited(env.node, "$medication-overview")] == ["0"]
        screenshot(page, SHOTS, "07-medication")

        page.get_by_role("link", name="Overdracht starten").click()
        page.get_by_role("button", name="Overdracht versturen").click()  # no receiver chosen: the browser says so
        assert handover.sent == []
        page.get_by_label("Ontvangende organisatie").select_option(label="Verpleeghuis De Eik (URA 90000004)")
        page.get_by_label("Toelichting voor de ontvanger").fill("Wondzorg hiel links, 2x per dag")
        screenshot(page, SHOTS, "08-handover-form")
        page.get_by_role("button", name="Overdracht versturen").click()
        expect(page.get_by_role("status")).to_have_text("De overdracht is verstuurd.")
        assert [(s["patient_id"], s["receiver_ura"], s["note"]) for s in handover.sent] == [
            ("p1", "90000004", "Wondzorg hiel links, 2x per dag")]
        expect(page.locator("#handovers-out")).to_contain_text("Verpleeghuis De Eik")
        screenshot(page, SHOTS, "09-handover-sent")

        page.locator("#handovers-in").get_by_role("link", name="Anna Visser").click()
        expect(page.get_by_role("heading", name="Overdracht van Verpleeghuis De Eik")).to_be_visible()
        expect(page.get_by_role("table", name="Opgehaalde gegevens")).to_have_count(0)
        assert handover.pulls == [] and handover.incoming()[0].status == "requested"  # opening it changed nothing
        screenshot(page, SHOTS, "10-incoming-handover-not-pulled")
        page.get_by_role("button", name="Gegevens ophalen").click()
        expect(page.get_by_role("table", name="Opgehaalde gegevens")).to_contain_text("Decubitus hiel links")
        assert handover.pulls == ["in-1"]
        screenshot(page, SHOTS, "10-incoming-handover")
        page.get_by_role("button", name="Accepteren").click()
        expect(page.get_by_role("status")).to_have_text("De overdracht is geaccepteerd.")
        expect(page.locator("#handovers-in")).to_contain_text("geaccepteerd")
        screenshot(page, SHOTS, "11-handover-accepted")

        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="Incoming handovers")).to_be_visible()
        page.get_by_role("link", name="Find a patient").click()
        page.get_by_label("Citizen service number (BSN)").fill(PATIENT_BSN)
        page.get_by_role("button", name="Search").first.click()
        page.get_by_role("link", name="Anna Visser").click()
        expect(page.get_by_role("heading", name="Patient summary (BgZ) of Anna Visser")).to_be_visible()
        expect(page.locator("#unavailable")).to_contain_text("refused (consent)")
        expect(page.get_by_role("heading", name="Allergies")).to_be_visible()
        screenshot(page, SHOTS, "12-bgz-english")

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("status")).to_have_text("You are signed out.")
        screenshot(page, SHOTS, "13-signed-out")
        page.goto(f"{env.view_url}/patient/p1")
        expect(page.get_by_role("alert")).to_contain_text("U bent niet (meer) ingelogd")
        assert len(exchange.asked) == 3  # the page after sign-out asked nothing


def test_a_nurse_is_refused_the_bgz_and_the_medication_overview_by_the_policy(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env:
        exchange = FakeExchange()
        install_exchange(env.node, exchange)
        page = browser.new_page()
        log_in(page, env.view_url, NURSE)
        with page.expect_response(lambda r: r.url.endswith("/patient/p1")) as answer:
            page.goto(f"{env.view_url}/patient/p1")
        assert answer.value.status == 403
        expect(page.get_by_role("heading", name="Geen toegang")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("Uw rol geeft geen toegang tot deze gegevens")
        screenshot(page, SHOTS, "21-nurse-refused-bgz")
        page.goto(f"{env.view_url}/patient/p1/medicatie?lang=en")
        expect(page.get_by_role("heading", name="No access")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("Your role does not give access to this data")
        assert exchange.asked == []
        for operation in ("$bgz", "$medication-overview"):
            [refusal] = audited(env.node, operation)
            assert refusal["outcome"] != "0" and PATIENT_BSN in orjson.dumps(refusal).decode()


def test_a_professional_of_another_organisation_is_refused(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env:
        exchange = FakeExchange()
        env.node.services["exchange"] = exchange
        page = browser.new_page()
        page.goto(f"{env.view_url}?lang=en")
        log_in_link = page.get_by_role("link", name="Log in as a professional")
        with page.expect_response(lambda r: "/zorgverlener/callback" in r.url) as answer:
            log_in_link.click()
            page.get_by_label(OTHER_ORGANISATION_DOCTOR).check()
            page.get_by_role("button", name="Log in").click()
        assert answer.value.status == 403
        expect(page.get_by_role("heading", name="No access")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("professional of another organisation")
        screenshot(page, SHOTS, "20-other-organisation-refused")
        page.goto(f"{env.view_url}/patient/p1")
        expect(page.get_by_role("alert")).to_contain_text("U bent niet (meer) ingelogd")
        assert exchange.asked == []


def test_the_pages_refuse_without_a_session_or_a_csrf_token(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with clinician_node(database_url, model, tmp_path) as env:
        handover = FakeHandover()
        env.node.services["handover"] = handover
        with httpx.Client(timeout=10) as client:
            for path in ("/patient/p1", "/patient/p1/medicatie", "/overdrachten", "/overdrachten/in-1"):
                answer = client.get(f"{env.view_url}{path}")
                assert answer.status_code == 401, path
                assert answer.headers["cache-control"] == "no-store"
                assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            assert client.post(f"{env.view_url}/zoeken", data={"bsn": PATIENT_BSN}).status_code == 401
            assert client.get(f"{env.view_url}/callback?state=forged&code=x").status_code == 400
        page = browser.new_page()
        log_in(page, env.view_url, NURSE)
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        with httpx.Client(timeout=10, cookies=cookies) as client:
            assert client.get(f"{env.view_url}/patient/p1/medicatie").status_code == 502  # no exchange installed
            assert client.get(f"{env.view_url}/patient/nobody").status_code == 404
            assert client.post(f"{env.view_url}/zoeken", data={"bsn": PATIENT_BSN}).status_code == 403
            forged = client.post(f"{env.view_url}/overdrachten/in-1/accepteren", data={"csrf": "forged"})
            assert forged.status_code == 403
            assert client.post(f"{env.view_url}/overdrachten/in-1/ophalen", data={"csrf": "forged"}).status_code == 403
            shown = client.get(f"{env.view_url}/overdrachten/in-1")
            assert shown.status_code == 200 and "Gegevens ophalen" in shown.text
            assert client.get(f"{env.view_url}/overdrachten/in-1/ophalen").status_code >= 400  # pulling is a POST
            assert client.post(f"{env.view_url}/afmelden", data={}).status_code == 403
        assert handover.incoming()[0].status == "requested" and handover.pulls == []
