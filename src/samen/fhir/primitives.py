"""FHIR primitive values as comparable ranges, shared by the indexer and the search compiler.

Both sides must read ``2024-03`` or ``1.50`` the same way, so the parsing lives here once:
dates become inclusive epoch-millisecond ranges widened to their precision, decimals the implicit
range of their significant digits.
"""

from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_DIGITS = frozenset("0123456789")
_DECIMAL_CHARS = frozenset("0123456789+-.eE")
# (length of the time part after "T" without zone, ms covered by that precision)
_TIME_PRECISIONS = {5: 60_000, 8: 1_000}


def now_ms() -> int:
    """The current time in epoch milliseconds (the unit of every stored timestamp)."""
    return time.time_ns() // 1_000_000


def ms_to_instant(ms: int) -> str:
    """An epoch-millisecond timestamp as a FHIR instant: ``2024-03-05T10:00:00.000Z``."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second_to_text(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=64)  # timestamps made now (audit entries, lastUpdated) fall in a few seconds
def _second_to_text(seconds: int) -> str:
    m = _EPOCH + timedelta(seconds=seconds)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"


@lru_cache(maxsize=16384)
def date_range(text: str) -> tuple[int, int]:
    """The inclusive (lo, hi) epoch-ms range a date, dateTime or instant covers at its precision.

    ``2024`` covers the whole year, ``2024-03-05T10:00`` one minute; no zone means UTC.
    Raises ValueError for anything that is not a valid FHIR date/dateTime/instant.
    """
    if not isinstance(text, str):
        raise ValueError(f"not a date: {text!r}")
    date_part, sep, time_part = text.partition("T")
    if sep and not time_part:
        raise ValueError(f"'{text}' has a 'T' but no time")
    day_lo, day_hi = _day_range(date_part, text)
    if not sep:
        return day_lo, day_hi
    if len(date_part) != 10:
        raise ValueError(f"'{text}': a time needs a full date before it")
    return _time_range(day_lo, time_part, text)


def _day_range(part: str, text: str) -> tuple[int, int]:
    """Range of ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` in epoch ms (UTC)."""
    length = len(part)
    if length not in (4, 7, 10) or not _digits(part[0:4]):
        raise ValueError(f"'{text}' is not a date (expected YYYY, YYYY-MM or YYYY-MM-DD)")
    year = int(part[0:4])
    month, day = 1, 1
    if length >= 7:
        if part[4] != "-" or not _digits(part[5:7]):
            raise ValueError(f"'{text}' is not a date (expected YYYY-MM)")
        month = int(part[5:7])
    if length == 10:
        if part[7] != "-" or not _digits(part[8:10]):
            raise ValueError(f"'{text}' is not a date (expected YYYY-MM-DD)")
        day = int(part[8:10])
    try:
        start = date(year, month, day).toordinal()
    except ValueError as error:
        raise ValueError(f"'{text}' is not a valid date: {error}") from None
    if length == 4:
        end = _first_ordinal(year + 1, 1)
    elif length == 7:
        end = _first_ordinal(year + (month == 12), month % 12 + 1)
    else:
        end = start + 1
    return (start - _EPOCH_ORDINAL) * _MS_PER_DAY, (end - _EPOCH_ORDINAL) * _MS_PER_DAY - 1


def _first_ordinal(year: int, month: int) -> int:
    """Ordinal of the first day of a month; year 10000 is allowed as the end of 9999."""
    if year > 9999:
        return date(9999, 12, 31).toordinal() + 1
    return date(year, month, 1).toordinal()


def _time_range(day_lo: int, part: str, text: str) -> tuple[int, int]:
    """Add ``hh:mm[:ss[.fff]][Z|±hh:mm]`` to the start of its day."""
    body, offset_ms = _split_zone(part, text)
    clock, dot, fraction = body.partition(".")
    span = _TIME_PRECISIONS.get(len(clock))
    if span is None or clock[2] != ":" or (len(clock) == 8 and clock[5] != ":"):
        raise ValueError(f"'{text}' has no valid time (expected hh:mm or hh:mm:ss)")
    fields = clock.split(":")
    if not all(len(f) == 2 and _digits(f) for f in fields):
        raise ValueError(f"'{text}' has no valid time (expected hh:mm or hh:mm:ss)")
    hour, minute = int(fields[0]), int(fields[1])
    second = int(fields[2]) if len(fields) == 3 else 0
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(f"'{text}' has a time out of range")
    second = min(second, 59)  # a leap second is read as the last second of its minute
    lo = day_lo + ((hour * 60 + minute) * 60 + second) * 1000
    if dot:
        if span != 1000 or not fraction or not _digits(fraction):
            raise ValueError(f"'{text}' has an invalid fraction of a second")
        digits = fraction[:3]
        lo += int(digits.ljust(3, "0"))
        span = 10 ** (3 - len(digits))
    lo -= offset_ms
    return lo, lo + span - 1


def _split_zone(part: str, text: str) -> tuple[str, int]:
    """Split a time into its clock text and the zone's offset from UTC in ms."""
    if part.endswith("Z"):
        return part[:-1], 0
    sign_at = max(part.rfind("+"), part.rfind("-"))
    if sign_at < 0:
        return part, 0
    zone = part[sign_at + 1 :]
    if len(zone) != 5 or zone[2] != ":" or not _digits(zone[:2]) or not _digits(zone[3:]):
        raise ValueError(f"'{text}' has an invalid time zone (expected Z or ±hh:mm)")
    hours, minutes = int(zone[:2]), int(zone[3:])
    if hours > 14 or minutes > 59:
        raise ValueError(f"'{text}' has a time zone out of range")
    offset = (hours * 60 + minutes) * 60_000
    return part[:sign_at], -offset if part[sign_at] == "-" else offset


def _digits(text: str) -> bool:
    return bool(text) and all(ch in _DIGITS for ch in text)


@lru_cache(maxsize=16384)
def decimal_range(text: str) -> tuple[float, float]:
    """The implicit range of a decimal: half a unit of its last significant digit either side.

    ``100`` -> (99.5, 100.5), ``1.50`` -> (1.495, 1.505), ``1e2`` -> (50.0, 150.0).
    Raises ValueError for anything that is not a finite decimal number.
    """
    if not isinstance(text, str) or not text or not all(ch in _DECIMAL_CHARS for ch in text):
        raise ValueError(f"'{text}' is not a number")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{text}' is not a number") from None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # only NaN/Infinity have a letter here, and those were refused
    half = Decimal(5).scaleb(exponent - 1)
    lo, hi = float(value - half), float(value + half)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"'{text}' is out of range")
    return lo, hi
