"""Primitive values as ranges: every date precision and zone, calendar edge cases, decimal precision."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from samen.fhir.primitives import date_range, decimal_range, ms_to_instant, now_ms


def ms(text: str) -> int:
    """Epoch ms of an ISO instant, computed independently of the code under test."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.astimezone(timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("2024", "2024-01-01T00:00:00.000Z", "2024-12-31T23:59:59.999Z"),
        ("2024-03", "2024-03-01T00:00:00.000Z", "2024-03-31T23:59:59.999Z"),
        ("2024-12", "2024-12-01T00:00:00.000Z", "2024-12-31T23:59:59.999Z"),
        ("2024-03-05", "2024-03-05T00:00:00.000Z", "2024-03-05T23:59:59.999Z"),
        ("2024-03-05T10:00", "2024-03-05T10:00:00.000Z", "2024-03-05T10:00:59.999Z"),
        ("2024-03-05T10:00:07", "2024-03-05T10:00:07.000Z", "2024-03-05T10:00:07.999Z"),
        ("2024-03-05T10:00:07Z", "2024-03-05T10:00:07.000Z", "2024-03-05T10:00:07.999Z"),
        ("2024-03-05T10:00:07.5Z", "2024-03-05T10:00:07.500Z", "2024-03-05T10:00:07.599Z"),
        ("2024-03-05T10:00:07.25Z", "2024-03-05T10:00:07.250Z", "2024-03-05T10:00:07.259Z"),
        ("2024-03-05T10:00:07.123Z", "2024-03-05T10:00:07.123Z", "2024-03-05T10:00:07.123Z"),
        ("2024-03-05T10:00:07.123456Z", "2024-03-05T10:00:07.123Z", "2024-03-05T10:00:07.123Z"),
    ],
)
def test_date_range_widens_to_the_precision_given(text: str, lo: str, hi: str) -> None:
    assert date_range(text) == (ms(lo), ms(hi))


@pytest.mark.parametrize(
    ("text", "utc_start"),
    [
        ("2024-03-05T10:00:00+01:00", "2024-03-05T09:00:00Z"),
        ("2024-03-05T10:00:00-05:30", "2024-03-05T15:30:00Z"),
        ("2024-03-05T00:30:00+02:00", "2024-03-04T22:30:00Z"),
        ("2024-03-05T10:00+14:00", "2024-03-04T20:00:00Z"),
        ("2024-03-05T10:00:00+00:00", "2024-03-05T10:00:00Z"),
    ],
)
def test_date_range_applies_the_time_zone(text: str, utc_start: str) -> None:
    assert date_range(text)[0] == ms(utc_start)


def test_date_without_zone_is_utc() -> None:
    assert date_range("2024-03-05T10:00:00") == date_range("2024-03-05T10:00:00Z")


def test_february_in_leap_and_common_years() -> None:
    assert date_range("2024-02")[1] == ms("2024-02-29T23:59:59.999Z")
    assert date_range("2023-02")[1] == ms("2023-02-28T23:59:59.999Z")
    assert date_range("2000-02-29")[0] == ms("2000-02-29T00:00:00Z")
    with pytest.raises(ValueError, match="2023-02-29"):
        date_range("2023-02-29")
    with pytest.raises(ValueError):
        date_range("1900-02-29")  # divisible by 100, not by 400


def test_dates_before_the_epoch_and_at_the_edges_of_the_calendar() -> None:
    assert date_range("1950-04-01") == (ms("1950-04-01T00:00:00Z"), ms("1950-04-01T23:59:59.999Z"))
    lo, hi = date_range("9999")
    assert ms_to_instant(lo) == "9999-01-01T00:00:00.000Z"
    assert ms_to_instant(hi) == "9999-12-31T23:59:59.999Z"
    assert ms_to_instant(date_range("0001-01-01")[0]) == "0001-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    "text",
    [
        "", "abc", "24", "20240305", "2024-13", "2024-00", "2024-02-30", "2024-04-31", "2024-3-05",
        "2024-03-5", "0000", "2024-03-05T", "2024-03-05T10", "2024-03-05T25:00", "2024-03-05T10:60",
        "2024-03-05T10:00:61", "2024-03-05T10:00:00.Z", "2024-03-05T10:00:00+1:00", "2024-03-05T10:00:00+15:00",
        "2024-03T10:00", "2024-03-05 10:00", " 2024", "2024-03-05T10:00:00ZZ", "10:00:00",
    ],
)
def test_bad_dates_raise_value_error_naming_the_input(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        date_range(text)
    assert repr(text)[1:-1] in str(raised.value)


def test_ms_to_instant_round_trips_with_date_range() -> None:
    instant = "2024-03-05T09:08:07.006Z"
    assert ms_to_instant(ms(instant)) == instant
    assert date_range(ms_to_instant(ms(instant))) == (ms(instant), ms(instant))
    assert ms_to_instant(0) == "1970-01-01T00:00:00.000Z"
    assert ms_to_instant(-1) == "1969-12-31T23:59:59.999Z"


def test_now_ms_is_the_current_time() -> None:
    before = int(datetime.now(timezone.utc).timestamp() * 1000)
    now = now_ms()
    after = int(datetime.now(timezone.utc).timestamp() * 1000)
    assert before - 1 <= now <= after + 1


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("100", 99.5, 100.5),
        ("100.00", 99.995, 100.005),
        ("1.50", 1.495, 1.505),
        ("1.5", 1.45, 1.55),
        ("0", -0.5, 0.5),
        ("-2.0", -2.05, -1.95),
        ("1e2", 50.0, 150.0),
        ("1.0e2", 95.0, 105.0),
        ("5E-3", 0.0045, 0.0055),
        ("72", 71.5, 72.5),
    ],
)
def test_decimal_range_is_half_a_unit_of_the_last_significant_digit(text: str, lo: float, hi: float) -> None:
    assert decimal_range(text) == pytest.approx((lo, hi))


@pytest.mark.parametrize("text", ["", "abc", "1,5", "NaN", "Infinity", "1e", "--1", " 1", "1_000", "0x10", "1e999"])
def test_bad_decimals_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        decimal_range(text)
