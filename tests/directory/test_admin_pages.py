"""The directory management page in real headless Chromium, on a real node over HTTP, and its refusals.

Screenshots are kept in ``test-artifacts/directory-admin/`` (git-ignored); the paths are printed.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from auth.orgs import Organisation, identity
from browsing import browser, screenshot  # noqa: F401  (browser: a fixture)
from playwright.sync_api import Browser, Page, expect
from serving import served_node

from samen.directory import codes
from samen.directory.admin_pages import COOKIE
from samen.directory.admin_session import Sessions
from samen.fhir.model import Model
from samen.sample import URA

OWN_URA = "12345678"


def create(page: Page, slug: str, fields: dict[str, str | list[str]]) -> None:
    page.click(f"#new-{slug}")
    for name, value in fields.items():
        element = page.locator(f"#f-{name}")
        if isinstance(value, list) or element.evaluate("e => e.tagName") == "SELECT":
            element.select_option(value)
        else:
            element.fill(value)
    page.click("button[type=submit]")


def owned(base: str, res_type: str, element: str) -> list[dict]:
    bundle = httpx.get(f"{base}/{res_type}").json()
    resources = [entry["resource"] for entry in bundle.get("entry", ())]
    for resource in resources:
        owner = resource[element]
        assert owner["identifier"] == {"system": URA, "value": OWN_URA}, resource
        assert owner["reference"].startswith("Organization/"), resource
    return resources


def test_an_organisation_manages_its_directory_in_the_browser(browser: Browser, database_url: str,
                                                              model: Model) -> None:
    with served_node(database_url, model, ura=OWN_URA) as node:
        base = node.settings.base_url
        page = browser.new_page()
        page.goto(f"{base}/beheer/adresboek")
        expect(page.locator("h1")).to_have_text("Adresboek beheren")
        screenshot(page, "directory-admin", "overview-empty-nl")

        create(page, "organisatie", {"name": "Ziekenhuis De Linde", "org_type": "V4", "phone": "+31 30 1234567"})
        expect(page.locator(".notice")).to_have_text("Opgeslagen.")

        # a form error, in Dutch: nothing is written
        create(page, "locatie", {"name": "", "status": "active", "location_type": "HOSP", "latitude": "noord"})
        expect(page.locator("#form-errors")).to_contain_text("Naam: Vul dit veld in.")
        expect(page.locator("#form-errors")).to_contain_text("Breedtegraad: Vul een getal in.")
        screenshot(page, "directory-admin", "location-error-nl")
        page.fill("#f-name", "Hoofdgebouw")
        page.fill("#f-latitude", "52.09")
        page.fill("#f-longitude", "5.12")
        page.fill("#f-street", "Lindelaan 1")
        page.fill("#f-postal_code", "3511 AA")
        page.fill("#f-city", "Utrecht")
        page.click("button[type=submit]")
        expect(page.locator(".notice")).to_have_text("Opgeslagen.")

        create(page, "zorgdienst", {"name": "Cardiologie", "service_type": "msz.cardiologie", "specialty": "01.010",
                                    "location": page_option_value(page, "zorgdienst", "location", "Hoofdgebouw")})
        page.goto(f"{base}/beheer/adresboek")
        create(page, "endpoint", {"name": "FHIR-adresboek", "status": "active", "connection_type": "hl7-fhir-rest",
                                  "payload_types": ["CareServiceEntities", "AllergyIntolerance"],
                                  "address": f"{base}"})
        create(page, "zorgverlener", {"given": "Harry", "family": "Arts", "uzi": "900000001"})
        create(page, "rol", {"practitioner": page_option_value(page, "rol", "practitioner", "Harry Arts"),
                             "role": "01.016", "specialty": "01.016"})
        expect(page.locator("#rol")).to_contain_text("Internist")
        screenshot(page, "directory-admin", "overview-filled-nl")

        # edit: the location gets a new name, keeps its id and identifier
        locations = owned(base, "Location", "managingOrganization")
        page.click(f"a[href*='/locatie/{locations[0]['id']}']")
        expect(page.locator("#f-name")).to_have_value("Hoofdgebouw")
        page.fill("#f-name", "Hoofdgebouw Oost")
        page.click("button[type=submit]")
        expect(page.locator("#locatie")).to_contain_text("Hoofdgebouw Oost")
        edited = httpx.get(f"{base}/Location/{locations[0]['id']}").json()
        assert edited["name"] == "Hoofdgebouw Oost" and edited["identifier"] == locations[0]["identifier"]
        assert edited["position"] == {"latitude": 52.09, "longitude": 5.12}

        # the resources exist over the FHIR API, each owned by the organisation, each meeting the IG rules
        services = owned(base, "HealthcareService", "providedBy")
        endpoints = owned(base, "Endpoint", "managingOrganization")
        roles = owned(base, "PractitionerRole", "organization")
        assert services[0]["specialty"][0]["coding"][0]["code"] == "01.010"
        assert services[0]["location"] == [{"reference": f"Location/{locations[0]['id']}"}]
        assert {c["coding"][0]["code"] for c in endpoints[0]["payloadType"]} == {"CareServiceEntities",
                                                                              "AllergyIntolerance"}
        assert roles[0]["code"][0]["coding"][0]["code"] == "01.016"
        for resource in [edited, *services, *endpoints, *roles]:
            assert codes.check(resource) == [], resource

        # delete the endpoint
        page.click(f"#endpoint button[aria-label^='Verwijderen']")
        expect(page.locator(".notice")).to_have_text("Verwijderd.")
        expect(page.locator("#endpoint")).to_contain_text("Nog niets vastgelegd.")
        assert httpx.get(f"{base}/Endpoint/{endpoints[0]['id']}").status_code == 410

        page.goto(f"{base}/beheer/adresboek?lang=en")
        expect(page.locator("h1")).to_have_text("Manage the address book")
        expect(page.locator("#zorgdienst h2")).to_have_text("Healthcare services")
        page.click("#new-locatie")
        expect(page.locator("label[for=f-location_type]")).to_have_text("Location type *")
        expect(page.locator("#f-location_type option[value=HOSP]")).to_have_text("Hospital (HOSP)")
        screenshot(page, "directory-admin", "location-form-en")


def page_option_value(page: Page, slug: str, field: str, label: str) -> str:
    """The value of the option labelled ``label`` on the new-``slug`` form (the id of a listed resource)."""
    page.goto(page.url.split("/beheer/adresboek")[0] + f"/beheer/adresboek/{slug}/nieuw")
    value = page.locator(f"#f-{field} option", has_text=label).get_attribute("value")
    page.goto(page.url.split("/beheer/adresboek")[0] + "/beheer/adresboek")
    assert value
    return value


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_only_the_signed_in_organisation_may_use_the_page(browser: Browser, database_url: str, model: Model,
                                                          tmp_path: Path) -> None:
    hospital = Organisation.create(tmp_path, OWN_URA, "Ziekenhuis De Linde")
    with served_node(database_url, model, open_mode=False, **identity(hospital)) as node:
        page_url = f"{node.settings.base_url}/beheer/adresboek"
        new_org = f"{page_url}/organisatie/nieuw"
        form = {"name": "Ziekenhuis De Linde", "org_type": "V4"}

        page = browser.new_page()
        page.goto(page_url)  # not signed in
        expect(page.locator(".error")).to_contain_text("U bent niet ingelogd")
        screenshot(page, "directory-admin", "not-signed-in-nl")
        with httpx.Client() as anonymous:
            assert anonymous.get(page_url).status_code == 401
            assert anonymous.post(new_org, data={**form, "csrf": "x"}).status_code == 401

        # a made-up session, and a live session of another organisation in the same database, count for nothing
        sessions = node.services["directory-admin"].sessions
        others = Sessions(sessions.grants, sessions.secret, "87654321").start()
        for cookie in ("made-up", others):
            with httpx.Client(cookies={COOKIE: cookie}) as stranger:
                assert stranger.get(page_url).status_code == 401

        link = node.services["directory-admin"].login_link()
        with httpx.Client(follow_redirects=True) as staff:
            assert staff.get(link).status_code == 200
            assert staff.get(link.replace("token=", "token=x")).status_code == 401  # tampered
            token_page = staff.get(new_org)
            assert token_page.status_code == 200
            csrf = csrf_of(token_page.text)
            assert staff.post(new_org, data=form).status_code == 403  # no CSRF token
            assert staff.post(new_org, data={**form, "csrf": csrf[:-2] + "xx"}).status_code == 403  # forged
            assert "Ziekenhuis De Linde" not in staff.get(page_url).text  # nothing was written
            saved = staff.post(new_org, data={**form, "csrf": csrf})  # through the router as the organisation
            assert saved.status_code == 200 and "Opgeslagen." in saved.text
            assert "Ziekenhuis De Linde" in saved.text
        with httpx.Client(follow_redirects=True) as replay:
            assert replay.get(link).status_code == 401  # a login link works once

        page.goto(link.replace("token=", "token=x"))
        expect(page.locator(".error")).to_contain_text("ongeldig, verlopen of al gebruikt")


def test_the_operator_command_prints_a_working_login_link(database_url: str, model: Model, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from samen.directory.admin_cli import admin_secret

    hospital = Organisation.create(tmp_path, OWN_URA, "Ziekenhuis De Linde")
    with served_node(database_url, model, open_mode=False, **identity(hospital)) as node:
        result = CliRunner().invoke(admin_secret, ["--db", database_url, "--base-url", node.settings.base_url,
                                                   "--keys", str(hospital.keys.directory)])
        assert result.exit_code == 0, result.output
        link = result.stdout.strip()
        with httpx.Client(follow_redirects=True) as staff:
            assert staff.get(link).status_code == 200
            assert "Adresboek beheren" in staff.get(f"{node.settings.base_url}/beheer/adresboek").text


def test_names_written_over_fhir_are_shown_as_text_and_other_organisations_entries_are_out_of_reach(
        browser: Browser, database_url: str, model: Model) -> None:
    """A hostile name (written over the FHIR API, not through the form) is text, never markup; a resource of another
    organisation on the same node cannot be opened, edited, deleted or referred to by changing an id."""
    script = '<script>window.hacked = 1</script><img src=x onerror="window.hacked = 2">'
    with served_node(database_url, model, ura=OWN_URA) as node:
        base, page_url = node.settings.base_url, f"{node.settings.base_url}/beheer/adresboek"
        own = {"system": URA, "value": OWN_URA}
        for resource in (
                {"resourceType": "Organization", "id": "own", "identifier": [own], "name": f"Eigen {script}"},
                {"resourceType": "Location", "id": "own-loc", "name": f"Locatie {script}",
                 "managingOrganization": {"reference": "Organization/own", "identifier": own}},
                {"resourceType": "Organization", "id": "other", "name": "Ander",
                 "identifier": [{"system": URA, "value": "87654321"}]},
                {"resourceType": "Location", "id": "other-loc", "name": "Andermans locatie",
                 "managingOrganization": {"reference": "Organization/other"}}):
            assert httpx.put(f"{base}/{resource['resourceType']}/{resource['id']}", json=resource).status_code == 201

        page = browser.new_page()
        page.goto(page_url)
        expect(page.locator("#locatie")).to_contain_text(f"Locatie {script}")
        page.goto(f"{page_url}/zorgdienst/nieuw")
        expect(page.locator("#f-location")).to_contain_text(f"Locatie {script}")
        assert page.evaluate("window.hacked") is None
        assert "Andermans locatie" not in page.content()

        with httpx.Client() as visitor:
            csrf = csrf_of(visitor.get(f"{page_url}/zorgdienst/nieuw").text)
            assert visitor.get(f"{page_url}/locatie/other-loc").status_code == 404
            edit = {"csrf": csrf, "name": "Overgenomen", "status": "active", "location_type": "HOSP"}
            assert visitor.post(f"{page_url}/locatie/other-loc", data=edit).status_code == 404
            assert visitor.post(f"{page_url}/locatie/other-loc/verwijderen", data={"csrf": csrf}).status_code == 404
            assert visitor.post(f"{page_url}/organisatie/other/verwijderen", data={"csrf": csrf}).status_code == 404
            service = {"csrf": csrf, "name": "Poli", "service_type": "msz.cardiologie", "location": "other-loc"}
            refused = visitor.post(f"{page_url}/zorgdienst/nieuw", data=service)
            assert refused.status_code == 422  # not one of the organisation's own locations
            role = {"csrf": csrf, "practitioner": "../Patient/x", "role": "01.016"}
            assert visitor.post(f"{page_url}/rol/nieuw", data=role).status_code == 422
        assert httpx.get(f"{base}/Location/other-loc").json()["name"] == "Andermans locatie"
        assert httpx.get(f"{base}/HealthcareService").json().get("total", 0) == 0
        assert httpx.get(f"{base}/PractitionerRole").json().get("total", 0) == 0


def test_a_login_link_works_once_across_worker_processes_and_restarts(database_url: str, model: Model,
                                                                      tmp_path: Path) -> None:
    """Two nodes on one database stand for two uvicorn workers; a third, started later, for a restart."""
    hospital = Organisation.create(tmp_path, OWN_URA, "Ziekenhuis De Linde")
    with (served_node(database_url, model, open_mode=False, **identity(hospital)) as first,
          served_node(database_url, model, open_mode=False, **identity(hospital)) as second):
        link = first.services["directory-admin"].login_link()
        on_second = link.replace(first.settings.base_url, second.settings.base_url)
        with httpx.Client(follow_redirects=True) as staff:
            assert staff.get(link).status_code == 200
            cookie = staff.cookies[COOKIE]
        with httpx.Client(follow_redirects=True) as replay:
            assert replay.get(on_second).status_code == 401  # the other worker knows it was used
            assert replay.get(link).status_code == 401
        with httpx.Client(cookies={COOKIE: cookie}) as staff:  # the session is valid in every worker
            assert staff.get(f"{second.settings.base_url}/beheer/adresboek").status_code == 200
    with served_node(database_url, model, open_mode=False, **identity(hospital)) as restarted:
        page_url = f"{restarted.settings.base_url}/beheer/adresboek"
        with httpx.Client(follow_redirects=True) as replay:
            assert replay.get(link.replace(first.settings.base_url, restarted.settings.base_url)).status_code == 401
            assert replay.get(page_url).status_code == 401
        with httpx.Client(cookies={COOKIE: cookie}) as staff:  # and survives a restart, as the cookie does
            assert staff.get(page_url).status_code == 200


def sign_in(base_url: str, link: str) -> httpx.Client:
    """A client signed in to the page with ``link``."""
    client = httpx.Client(follow_redirects=True)
    assert client.get(link).status_code == 200
    assert client.get(f"{base_url}/beheer/adresboek").status_code == 200
    return client


def test_signing_out_in_the_browser_ends_the_session_for_every_worker(browser: Browser, database_url: str,
                                                                      model: Model, tmp_path: Path) -> None:
    hospital = Organisation.create(tmp_path, OWN_URA, "Ziekenhuis De Linde")
    with (served_node(database_url, model, open_mode=False, **identity(hospital)) as first,
          served_node(database_url, model, open_mode=False, **identity(hospital)) as second):
        page_url, other_worker = (f"{node.settings.base_url}/beheer/adresboek" for node in (first, second))
        context = browser.new_context()
        page = context.new_page()
        page.goto(first.services["directory-admin"].login_link())
        expect(page.locator("h1")).to_have_text("Adresboek beheren")
        cookie = next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
        screenshot(page, "directory-admin", "overview-signed-in-nl")

        # a sign-out without the page's CSRF token is refused and ends nothing
        with httpx.Client(cookies={COOKIE: cookie}) as forger:
            assert forger.post(f"{page_url}/afmelden", data={"csrf": "x"}).status_code == 403
            assert forger.get(other_worker).status_code == 200

        page.click("#sign-out")
        expect(page.locator(".notice")).to_have_text(
            "U bent afgemeld. Voor een nieuwe sessie heeft u een nieuwe inloglink nodig.")
        screenshot(page, "directory-admin", "signed-out-nl")
        page.click("text=English")
        expect(page.locator(".notice")).to_have_text("You are signed out. A new session needs a new login link.")
        assert not [c for c in context.cookies() if c["name"] == COOKIE]
        with httpx.Client(cookies={COOKIE: cookie}) as old:  # the old cookie, at this worker and the other
            assert old.get(page_url).status_code == 401
            assert old.get(other_worker).status_code == 401
            assert old.post(f"{page_url}/organisatie/nieuw", data={"name": "X", "org_type": "V4"}).status_code == 401
            assert old.post(f"{page_url}/afmelden", data={}).status_code == 401
        page.goto(page_url)
        expect(page.locator(".error")).to_contain_text("U bent niet ingelogd")
        context.close()


def test_the_operator_ends_every_session_and_unused_link(database_url: str, model: Model, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from samen.directory.admin_cli import admin_secret

    hospital = Organisation.create(tmp_path, OWN_URA, "Ziekenhuis De Linde")
    with served_node(database_url, model, open_mode=False, **identity(hospital)) as node:
        base, admin = node.settings.base_url, node.services["directory-admin"]
        page_url = f"{base}/beheer/adresboek"
        staff = [sign_in(base, admin.login_link()) for _ in range(2)]
        unused = admin.login_link()

        result = CliRunner().invoke(admin_secret, ["--db", database_url, "--revoke-all"])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == "ended 2 session(s), voided 1 unused login link(s)"
        for client in staff:
            assert client.get(page_url).status_code == 401
            client.close()
        with httpx.Client(follow_redirects=True) as late:
            assert late.get(unused).status_code == 401
            assert late.get(admin.login_link()).status_code == 200  # a new link works again


def test_the_operator_command_refuses_to_make_a_link_without_a_ura_or_base_url(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from samen.directory.admin_cli import admin_secret

    database = str(tmp_path / "node.db")
    no_ura = CliRunner().invoke(admin_secret, ["--db", database, "--base-url", "http://127.0.0.1/fhir"])
    assert no_ura.exit_code == 2 and "no URA" in no_ura.output
    no_base = CliRunner().invoke(admin_secret, ["--db", database, "--ura", OWN_URA])
    assert no_base.exit_code == 2 and "--base-url" in no_base.output
    assert not Path(database).exists()  # nothing was written
