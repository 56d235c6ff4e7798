"""Date search: every prefix against stored values of day, month and year precision (ranges on both
sides, as R4 search 3.1.1.4 describes), dateTimes with zones, Periods, ``ap``, ``_lastUpdated``."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from search_bed import Bed, observation, patient

from samen.fhir.model import Model
from samen.fhir.primitives import date_range
from samen.store.search import SearchError, parse_search
from samen.store.search.values import date_match

# stored birthDate per patient id
STORED = {
    "day": "2024-03-15",
    "month": "2024-03",
    "year": "2024",
    "before": "2023-12-31",
    "after": "2025-01-01",
    "early": "2024-02-29",
    "late": "2024-03-16",
}

# (query value without prefix) -> prefix -> expected ids
EXPECTED = {
    "2024-03": {
        "eq": {"day", "month", "late"},
        "ne": {"year", "before", "after", "early"},
        "gt": {"year", "after"},
        "lt": {"year", "before", "early"},
        "ge": {"year", "after", "day", "month", "late"},
        "le": {"year", "before", "early", "day", "month", "late"},
        "sa": {"after"},
        "eb": {"before", "early"},
    },
    "2024": {
        "eq": {"day", "month", "year", "early", "late"},
        "ne": {"before", "after"},
        "gt": {"after"},
        "lt": {"before"},
        "ge": {"day", "month", "year", "early", "late", "after"},
        "le": {"day", "month", "year", "early", "late", "before"},
        "sa": {"after"},
        "eb": {"before"},
    },
    "2024-03-15": {
        "eq": {"day"},
        "ne": {"month", "year", "before", "after", "early", "late"},
        "gt": {"month", "year", "after", "late"},
        "lt": {"month", "year", "before", "early"},
        "ge": {"month", "year", "after", "late", "day"},
        "le": {"month", "year", "before", "early", "day"},
        "sa": {"after", "late"},
        "eb": {"before", "early"},
    },
}


@pytest.fixture
def birthdays(bed: Bed) -> Bed:
    bed.add_all([patient(pid, birthDate=value) for pid, value in STORED.items()])
    bed.add(patient("unknown"))  # no birthDate: never matches a date test
    return bed


def test_every_prefix_against_day_month_and_year_precision(birthdays: Bed) -> None:
    failures = []
    for value, by_prefix in EXPECTED.items():
        for prefix, expected in by_prefix.items():
            found = birthdays.ids("Patient", [("birthdate", prefix + value)])
            if found != expected:
                failures.append(f"birthdate={prefix}{value}: expected {sorted(expected)}, found {sorted(found)}")
    assert not failures, "\n".join(failures)


def test_no_prefix_means_eq(birthdays: Bed) -> None:
    assert birthdays.ids("Patient", "birthdate=2024-03") == EXPECTED["2024-03"]["eq"]


def test_datetime_query_against_a_day(birthdays: Bed) -> None:
    # the day 2024-03-15 reaches past noon and before it, but is not contained in one second
    assert "day" in birthdays.ids("Patient", "birthdate=gt2024-03-15T12:00:00Z")
    assert "day" in birthdays.ids("Patient", "birthdate=lt2024-03-15T12:00:00Z")
    assert "day" not in birthdays.ids("Patient", "birthdate=eq2024-03-15T12:00:00Z")
    assert "day" not in birthdays.ids("Patient", "birthdate=sa2024-03-15T12:00:00Z")


def test_comma_is_or_and_repetition_is_and(birthdays: Bed) -> None:
    assert birthdays.ids("Patient", "birthdate=2023-12-31,2025") == {"before", "after"}
    assert birthdays.ids("Patient", "birthdate=ge2024-03&birthdate=le2024-03-15") == {"day", "month", "year"}
    # a range written as two bounds
    assert birthdays.ids("Patient", "birthdate=gt2024-01&birthdate=lt2024-12") == {"year", "early", "month", "day", "late"}


def test_zones_and_periods(bed: Bed) -> None:
    bed.add_all(
        [
            observation("Patient/p", when="2024-03-15T23:30:00+02:00", id="east"),  # 21:30Z on the 15th
            observation("Patient/p", when="2024-03-16T01:00:00+02:00", id="east-next"),  # 23:00Z on the 15th
            observation("Patient/p", when="2024-03-15T23:30:00-02:00", id="west"),  # 01:30Z on the 16th
            observation("Patient/p", when=None, effectivePeriod={"start": "2024-01-10"}, id="open"),
            observation("Patient/p", when=None, effectivePeriod={"start": "2024-01-10", "end": "2024-01-20"}, id="jan"),
        ]
    )
    assert bed.ids("Observation", "date=2024-03-15") == {"east", "east-next"}
    assert bed.ids("Observation", "date=2024-03-16") == {"west"}
    # an unencoded '+' of a zone arrives as a space
    assert bed.ids("Observation", [("date", "2024-03-15T21:30:00 00:00")]) == {"east"}
    assert bed.ids("Observation", "date=gt2030") == {"open"}
    assert bed.ids("Observation", "date=2024-01") == {"jan"}
    assert bed.ids("Observation", "date=lt2024-01-10") == set()
    assert bed.ids("Observation", "date=le2024-01-15") == {"open", "jan"}
    assert bed.ids("Observation", "date=eb2024-01-21") == {"jan"}
    assert bed.ids("Observation", "date=sa2024-01-09") == {"open", "jan", "east", "east-next", "west"}


def test_ap_is_ten_percent_of_the_distance_to_now(bed: Bed) -> None:
    today = datetime.now(timezone.utc).date()

    def ago(days: int) -> str:
        return (today - timedelta(days=days)).isoformat()

    bed.add_all([patient(f"d{days}", birthDate=ago(days)) for days in (100, 92, 108, 120, 80)])
    # 100 days ago, widened by 10 days each side
    assert bed.ids("Patient", [("birthdate", "ap" + ago(100))]) == {"d100", "d92", "d108"}


def test_ap_range_is_widened_by_the_distance_to_now() -> None:
    now = date_range("2025-01-01")[0]
    lo, hi = date_range("2015-01-01")
    match = date_match("ap2015-01-01", now)
    assert match.prefix == "ap"
    ten_years = now - lo
    assert match.lo == lo - ten_years // 10
    assert abs(match.hi - (hi + (now - hi) // 10)) <= 1


def test_last_updated(bed: Bed) -> None:
    t0 = date_range("2024-06-01T12:00:00Z")[0]
    bed.add(patient("old"), updated_ms=t0 - 86_400_000)
    bed.add(patient("mid"), updated_ms=t0)
    bed.add(patient("new"), updated_ms=t0 + 86_400_000)
    assert bed.ids("Patient", "_lastUpdated=2024-06-01") == {"mid"}
    assert bed.ids("Patient", "_lastUpdated=ge2024-06-01") == {"mid", "new"}
    assert bed.ids("Patient", "_lastUpdated=lt2024-06-01T12:00:00Z") == {"old"}
    assert bed.ids("Patient", "_lastUpdated=gt2024-06-01T12:00:00Z") == {"new"}
    assert bed.ids("Patient", "_lastUpdated=ne2024-06-01") == {"old", "new"}
    assert bed.ids("Patient", "_lastUpdated=2024-05-31,2024-06-02") == {"old", "new"}
    assert bed.ids("Patient", "_lastUpdated=sa2024-06-01&_lastUpdated=eb2024-06-03") == {"new"}


@pytest.mark.parametrize(
    "value", ["2024-13", "2024-02-30", "xx2024", "gt", "ge2024-1", "2024-03-15T25:00", "24-03", "gt1950-13-45", "eq2024x"]
)
def test_malformed_dates_are_refused(model: Model, value: str) -> None:
    with pytest.raises(SearchError) as raised:
        parse_search(model, "Patient", [("birthdate", value)])
    assert raised.value.status == 400
    with pytest.raises(SearchError):
        parse_search(model, "Patient", [("_lastUpdated", value)])


def test_today_matches_itself(bed: Bed) -> None:
    today = date.today().isoformat()
    bed.add(patient("today", birthDate=today))
    assert bed.ids("Patient", [("birthdate", today)]) == {"today"}
    assert bed.ids("Patient", [("birthdate", "ap" + today)]) == {"today"}
