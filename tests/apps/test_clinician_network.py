"""The clinician view over the real exchanges and real nodes on loopback, in headless Chromium.

The networks are those of the exchange tests (tests/exchange/bgz_network.py: custodians with consent, the
localization index, pseudonymiser and query directory; tests/exchange/handover_network.py: a hospital and a
nursing home). A clinician view is served on the requesting organisation's database beside its node (a second
worker of that organisation: same keys, same database, with ``professional_idp``). The professional's session
is started from an attestation of the network's Dezi-like IdP, which every custodian trusts; the login through
a served ``samen idp`` is tested in test_clinician_pages.py. Screenshots: ``test-artifacts/clinician-network/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from auth.orgs import TEST_BSN
from browsing import browser, screenshot  # noqa: F401  (browser: a fixture)
from exchange import bgz_network, handover_network
from playwright.sync_api import Browser, BrowserContext, expect
from serving import free_port, served_node

from samen.apps.clinician.login import SignedIn
from samen.apps.clinician.pages import COOKIE
from samen.auth.context import Professional
from samen.fhir.model import Model
from samen.node import Node
from samen.sample import BSN

SHOTS = "clinician-network"


@contextmanager
def view_beside(node: Node, database: str, model: Model, issuer: str) -> Iterator[tuple[Node, str]]:
    """A second worker of ``node``'s organisation (same settings and database, so the same base URL in what it
    writes) on another port, serving the clinician view; with the view's address on that port."""
    settings = {f.name: getattr(node.settings, f.name) for f in fields(node.settings)} | {"professional_idp": issuer}
    port = free_port()
    with served_node(database, model, port=port, **settings) as worker:
        yield worker, f"http://127.0.0.1:{port}{worker.services['clinician-view'].prefix}"


def signed_in(browser: Browser, view: Node, attestation: str, professional: Professional) -> BrowserContext:
    """A browser whose session at ``view`` is that of ``professional``."""
    clinician = view.services["clinician-view"]
    cookie = clinician.sessions.start(SignedIn(professional, attestation, time.time() + 3000, "nl"))
    context = browser.new_context()
    context.add_cookies([{"name": COOKIE, "value": cookie, "domain": "127.0.0.1", "path": clinician.prefix}])
    return context


def test_the_bgz_and_medication_overview_from_four_custodians(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with bgz_network.network(tmp_path, database_url, model) as net:
        view, view_url = net.stack.enter_context(view_beside(net.requester, database_url, model, net.dezi.issuer))
        bgz_network.load(view, [{"resourceType": "Patient", "id": "eigen-1", "name": [{"family": "Jansen",
                         "given": ["Anna"]}], "birthDate": "1958-03-14",
                         "identifier": [{"system": BSN, "value": TEST_BSN}]}])
        professional = Professional("900000001", "01.015", bgz_network.REQUESTER_URA, "dr. A. de Vries")
        page = signed_in(browser, view, net.attestation(), professional).new_page()
        page.goto(view_url)
        page.get_by_label("Achternaam").fill("Jansen")
        page.get_by_label("Geboortedatum").fill("1958-03-14")
        page.get_by_role("button", name="Zoeken").nth(1).click()
        page.get_by_role("link", name="Anna Jansen").click()
        expect(page.get_by_role("heading", name="Basisgegevensset Zorg van Anna Jansen")).to_be_visible()
        unavailable = page.locator("#unavailable")
        expect(unavailable.get_by_role("row", name="Verpleeghuis Avondrust")).to_contain_text(
            "geweigerd (toestemming)")
        penicillin = page.get_by_role("row", name="Penicilline")
        expect(penicillin).to_have_count(1)  # held by the hospital and the GP: one entry naming both
        names = {net.orgs[ura].name for ura in (bgz_network.HOSPITAL_URA, bgz_network.PRACTICE_URA)}
        for name in names:
            expect(penicillin).to_contain_text(name)
        screenshot(page, SHOTS, "bgz")

        page.get_by_role("link", name="Medicatieoverzicht").click()
        rows = page.locator("#medication tbody tr")
        expect(rows.first).to_be_visible()
        dates = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
        assert dates == sorted(dates, reverse=True) and len(dates) >= 3
        expect(page.locator("#medication")).to_contain_text(net.orgs[bgz_network.PHARMACY_URA].name)
        screenshot(page, SHOTS, "medication")


def test_an_ehandover_from_the_hospital_accepted_at_the_nursing_home(
        browser: Browser, database_url: str, model: Model, tmp_path: Path) -> None:
    with handover_network.network(tmp_path, database_url, model) as net, \
            view_beside(net.hospital, database_url, model, net.idp.issuer) as (hospital_view, hospital_url), \
            view_beside(net.nursing_home, str(tmp_path / "nursing.db"), model, net.idp.issuer) as (home_view, home_url):
        nurse = Professional("900000042", handover_network.NURSE_ROLE, handover_network.HOSPITAL, "V. Verpleegkundige")
        hospital = signed_in(browser, hospital_view, net.attestation(handover_network.HOSPITAL), nurse).new_page()
        hospital.goto(f"{hospital_url}/patient/p1/overdracht")
        hospital.get_by_label("Ontvangende organisatie").select_option(label="Verpleeghuis De Linde (URA 55550005)")
        hospital.get_by_label("Toelichting voor de ontvanger").fill("Na heupoperatie, mobiliseren met rollator")
        hospital.get_by_role("button", name="Overdracht versturen").click()
        expect(hospital.get_by_role("status")).to_have_text("De overdracht is verstuurd.")
        expect(hospital.locator("#handovers-out")).to_contain_text("Verpleeghuis De Linde")
        screenshot(hospital, SHOTS, "handover-sent")

        home_nurse = Professional("900000042", handover_network.NURSE_ROLE, handover_network.NURSING_HOME,
                                  "V. Verpleegkundige")
        home = signed_in(browser, home_view, net.attestation(handover_network.NURSING_HOME), home_nurse).new_page()
        home.goto(f"{home_url}/overdrachten")
        home.locator("#handovers-in").get_by_role("link").first.click()
        expect(home.locator("#handover-status")).to_have_text("aangevraagd")  # opening the page pulls nothing
        home.get_by_role("button", name="Gegevens ophalen").click()
        expect(home.locator("#handover-status")).to_have_text("ontvangen")
        expect(home.get_by_role("table", name="Opgehaalde gegevens")).to_contain_text("Heupfractuur")
        screenshot(home, SHOTS, "handover-pulled")
        home.get_by_role("button", name="Accepteren").click()
        expect(home.get_by_role("status")).to_have_text("De overdracht is geaccepteerd.")
        expect(home.locator("#handovers-in")).to_contain_text("geaccepteerd")
        screenshot(home, SHOTS, "handover-accepted")

        hospital.reload()
        expect(hospital.locator("#handovers-out")).to_contain_text("geaccepteerd")
