"""Reading one search value: escapes, prefixes, and conversion to what the index stores.

Every function raises :class:`SearchError` (400) for a value that is malformed for its type; none
of them ever looks at SQL.
"""

from __future__ import annotations

from samen.fhir.primitives import date_range, decimal_range, now_ms
from samen.fhir.text import normalize
from samen.store.search.params import (
    PREFIXES,
    NearMatch,
    QuantityMatch,
    RangeMatch,
    ReferenceMatch,
    SearchError,
    StringMatch,
    TokenMatch,
    TokenTextMatch,
    UriMatch,
)

_ESCAPABLE = frozenset("\\,$|")
# ``ap`` widens the value by this fraction: of the distance to now for dates, of the value for numbers
# (the specification's recommendation).
APPROXIMATELY = 0.1


def split_escaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` unless escaped as ``\\sep``; the escapes stay in the parts (see :func:`unescape`)."""
    if "\\" not in text:
        return text.split(sep)
    parts: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """Undo the search escapes ``\\,`` ``\\$`` ``\\|`` ``\\\\``; any other backslash is kept as data."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def split_prefix(raw: str, what: str) -> tuple[str, str]:
    """``ge2024`` -> (``ge``, ``2024``); no prefix means ``eq``. Letters that are no prefix are an error."""
    head = raw[:2]
    if head in PREFIXES:
        return head, raw[2:]
    if head[:1].isalpha():
        raise SearchError(f"'{raw}' is not a valid {what}: unknown prefix (use one of {', '.join(PREFIXES)})")
    return "eq", raw


# -- by parameter type ---------------------------------------------------------------------------


def string_match(raw: str, modifier: str) -> StringMatch:
    text = unescape(raw)
    normalized = normalize(text)
    if modifier == "exact":
        return StringMatch("exact", text, normalized)
    return StringMatch("contains" if modifier == "contains" else "start", normalized, normalized)


def token_match(raw: str) -> TokenMatch:
    """``code``, ``system|code``, ``|code`` or ``system|``."""
    parts = split_escaped(raw, "|")
    if len(parts) == 1:
        code = unescape(parts[0])
        if not code:
            raise SearchError("An empty token value")
        return TokenMatch(None, code)
    system, code = unescape(parts[0]), unescape("|".join(parts[1:]))
    if not system and not code:
        raise SearchError(f"'{raw}' is not a token: it names neither a system nor a code")
    if not system:
        return TokenMatch(None, code, no_system=True)
    return TokenMatch(system, code or None)


def token_text_match(raw: str) -> TokenTextMatch:
    return TokenTextMatch(normalize(unescape(raw)))


def of_type_match(raw: str) -> TokenMatch:
    """``:of-type``: ``system|code|value``, stored as system + ``code|value`` (see rows.py)."""
    parts = split_escaped(raw, "|")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise SearchError(f"'{raw}' is not a valid :of-type value (expected system|code|value)")
    system = unescape(parts[0]) or None
    return TokenMatch(system, f"{unescape(parts[1])}|{unescape(parts[2])}")


def reference_match(raw: str, resource_types: frozenset[str], base: str | None, of_type: str | None) -> ReferenceMatch:
    """``id``, ``Type/id`` (a ``/_history/n`` suffix ignored), or an absolute URL.

    A URL on this node's ``base`` counts as the relative reference. A value in none of these forms
    can match nothing, but it is not an error: it may be an id the caller does not know is odd.
    """
    value = unescape(raw).strip()
    if not value:
        raise SearchError("An empty reference value")
    if base and value.startswith(base):
        value = value[len(base) :]
    if of_type is not None:
        parts = value.split("/")
        if len(parts) in (2, 4) and parts[0] == of_type:
            return ReferenceMatch(of_type, parts[1])
        return ReferenceMatch(of_type, value)
    if "://" in value or value.startswith("urn:"):
        return ReferenceMatch(None, None, value.partition("|")[0])
    parts = value.split("/")
    if len(parts) == 2 or (len(parts) == 4 and parts[2] == "_history"):
        if parts[0] in resource_types and parts[1]:
            return ReferenceMatch(parts[0], parts[1])
    return ReferenceMatch(None, value)


def date_match(raw: str, now: int | None = None) -> RangeMatch:
    """A date with an optional prefix, as the inclusive epoch-ms range it covers.

    ``ap`` widens the range by 10% of its distance to now on each side (the specification's
    recommendation), so ``ap2000`` (25 years ago) also matches 1997..2002.
    """
    prefix, text = split_prefix(raw, "date")
    if " " in text:  # a '+' of a time zone that arrived unencoded in a URL reads as a space
        text = text.replace(" ", "+")
    try:
        lo, hi = date_range(text)
    except ValueError as error:
        raise SearchError(f"'{raw}' is not a valid date: {error}") from None
    if prefix == "ap":
        current = now_ms() if now is None else now
        lo -= int(abs(current - lo) * APPROXIMATELY)
        hi += int(abs(current - hi) * APPROXIMATELY)
    return RangeMatch(prefix, lo, hi)


def number_match(raw: str) -> RangeMatch:
    """A number with an optional prefix, as its implicit precision range (``100`` -> 99.5..100.5).

    ``ap`` widens that range by 10% of the value on each side.
    """
    prefix, text = split_prefix(raw, "number")
    try:
        lo, hi = decimal_range(text)
    except ValueError as error:
        raise SearchError(f"'{raw}' is not a valid number: {error}") from None
    if prefix == "ap":
        delta = abs(float(text)) * APPROXIMATELY
        lo, hi = lo - delta, hi + delta
    return RangeMatch(prefix, lo, hi, closed=False)


def quantity_match(raw: str) -> QuantityMatch:
    """``[prefix]value[|system|code]``; ``value||unit`` matches the code or the unit."""
    parts = split_escaped(raw, "|")
    if len(parts) not in (1, 3):
        raise SearchError(f"'{raw}' is not a valid quantity (expected value, value|system|code or value||unit)")
    number = number_match(unescape(parts[0]))
    system = unescape(parts[1]) or None if len(parts) == 3 else None
    code = unescape(parts[2]) or None if len(parts) == 3 else None
    return QuantityMatch(number.prefix, number.lo, number.hi, system, code)


# ``near`` without a distance: this node's choice of "near" (R4 leaves it to the server)
NEAR_DEFAULT_KM = 10.0
MAX_NEAR_KM = 5000.0
_DISTANCE_UNITS = {"km": 1.0, "m": 0.001, "[mi_i]": 1.609344, "mi": 1.609344}  # UCUM, km when omitted


def near_match(raw: str) -> NearMatch:
    """``lat|lon|distance|unit`` (R4 ``near``); distance and unit may be left out (km, :data:`NEAR_DEFAULT_KM`)."""
    parts = [unescape(part) for part in split_escaped(raw, "|")]
    if not 2 <= len(parts) <= 4:
        raise SearchError(f"'{raw}' is not a valid near value (expected latitude|longitude|distance|unit)")
    unit = parts[3] if len(parts) == 4 and parts[3] else "km"
    if unit not in _DISTANCE_UNITS:
        raise SearchError(f"near: unknown distance unit '{unit}' (use km, m or [mi_i])")
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) >= 3 and parts[2] else NEAR_DEFAULT_KM / _DISTANCE_UNITS[unit]
    except ValueError:
        raise SearchError(f"'{raw}' is not a valid near value: latitude, longitude and distance are numbers") from None
    km = distance * _DISTANCE_UNITS[unit]
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise SearchError(f"near: ({latitude}, {longitude}) is not a position (latitude -90..90, longitude -180..180)")
    if not 0 <= km <= MAX_NEAR_KM:
        raise SearchError(f"near: the distance must be between 0 and {MAX_NEAR_KM:g} km")
    return NearMatch(latitude, longitude, km)


def uri_match(raw: str, modifier: str) -> UriMatch:
    value = unescape(raw)
    if not value:
        raise SearchError("An empty uri value")
    return UriMatch(modifier or "eq", value)


def uri_prefixes(uri: str) -> list[str]:
    """For ``:above``: the uri and each shorter one cut at a ``/`` (never below ``scheme://host``)."""
    found = [uri]
    floor = uri.find("://")
    floor = floor + 3 if floor >= 0 else 0
    cut = uri.rstrip("/")
    if cut != uri:
        found.append(cut)
    while True:
        slash = cut.rfind("/")
        if slash < floor or slash <= 0:
            break
        cut = cut[:slash]
        found.append(cut)
    return found
