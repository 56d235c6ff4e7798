"""The clinician view's sessions live exactly as long as the professional attestation they carry."""

from __future__ import annotations

from samen.apps.clinician.login import SignedIn
from samen.apps.clinician.session import SESSION_KIND, ClinicianSessions
from samen.auth.context import Professional
from samen.auth.grants import OneTimeGrants
from samen.directory.admin_session import Sessions
from samen.store.db import Database

NURSE = Professional("900000002", "30.000", "90000002", "B. Jansen")


def sessions(database: Database, now: list[float]) -> ClinicianSessions:
    grants = OneTimeGrants(database, clock=lambda: now[0])
    return ClinicianSessions(Sessions(grants, b"k" * 32, "90000002", SESSION_KIND), clock=lambda: now[0])


def test_a_session_ends_when_its_attestation_does(database: Database) -> None:
    now = [1_000_000.0]
    clinician = sessions(database, now)
    cookie = clinician.start(SignedIn(NURSE, "attestation.jwt.x", now[0] + 600, "nl"))
    found = clinician.find(cookie)
    assert found is not None and (found.professional, found.attestation) == (NURSE, "attestation.jwt.x")
    now[0] += 599
    assert clinician.find(cookie) is not None
    now[0] += 2
    assert clinician.find(cookie) is None


def test_no_session_for_an_expired_attestation_nor_for_another_page_or_organisation(database: Database) -> None:
    now = [1_000_000.0]
    clinician = sessions(database, now)
    assert clinician.start(SignedIn(NURSE, "a.b.c", now[0] - 1, "nl")) is None
    cookie = clinician.start(SignedIn(NURSE, "a.b.c", now[0] + 600, "nl"))
    grants = OneTimeGrants(database, clock=lambda: now[0])
    assert Sessions(grants, b"k" * 32, "90000002").session_id(cookie) is None  # the address-book page's kind
    assert Sessions(grants, b"k" * 32, "90000001", SESSION_KIND).session_id(cookie) is None  # another URA
    found = clinician.find(cookie)
    assert found is not None and not clinician.csrf_ok(found, "forged") and clinician.csrf_ok(found, found.csrf)
    clinician.end(found)
    assert clinician.find(cookie) is None
