"""The search-index rows that the indexer produces and the search compiler queries.

Conventions shared by both sides (keep them in this one place):

- ``grp`` is 0 for ordinary rows; for composite parameters each component is stored under
  ``"{code}${i}"`` (i = component index) with ``grp`` numbering the element it came from (1, 2, ...),
  so components of one element can be matched together.
- Strings: ``value`` is :func:`samen.fhir.text.normalize` of the text, ``exact`` the text as written.
- Tokens: ``system``/``code`` may be None; ``text`` is the normalised display/text for ``:text``.
  An Identifier also yields a row under ``"{code}:of-type"`` with system = the type coding's system
  and code = ``"{type code}|{value}"``. A Reference's ``identifier`` yields a token row under
  ``"{code}:identifier"``.
- References: ``target_type``/``target_id`` for references that name a resource (relative, or absolute
  on this node's base URL, or any absolute URL ending in ``Type/id``); ``url`` holds absolute
  URLs and canonicals (version suffix removed).
- Dates: epoch milliseconds, ``lo`` and ``hi`` both inclusive, widened to the value's precision
  (``2024`` covers the whole year); open Period ends use DATE_MIN / DATE_MAX. A dateTime without a
  time zone is read as UTC.
- Numbers and quantities: ``lo``/``hi`` is the implicit range of the value's precision
  (``100`` -> 99.5..100.5, ``1.50`` -> 1.495..1.505).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATE_MIN = -(2**62)
DATE_MAX = 2**62

StringRow = tuple[str, int, str, str]  # param, grp, value, exact
TokenRow = tuple[str, int, str | None, str | None, str | None]  # param, grp, system, code, text
ReferenceRow = tuple[str, int, str | None, str | None, str | None]  # param, grp, target_type, target_id, url
DateRow = tuple[str, int, int, int]  # param, grp, lo, hi
NumberRow = tuple[str, int, float, float]  # param, grp, lo, hi
QuantityRow = tuple[str, int, str | None, str | None, str | None, float, float]  # param, grp, system, code, unit, lo, hi
UriRow = tuple[str, int, str]  # param, grp, uri


@dataclass(slots=True)
class IndexRows:
    """All index rows of one resource version, grouped by table."""

    string: list[StringRow] = field(default_factory=list)
    token: list[TokenRow] = field(default_factory=list)
    reference: list[ReferenceRow] = field(default_factory=list)
    date: list[DateRow] = field(default_factory=list)
    number: list[NumberRow] = field(default_factory=list)
    quantity: list[QuantityRow] = field(default_factory=list)
    uri: list[UriRow] = field(default_factory=list)

    def by_table(self) -> dict[str, list[tuple]]:
        return {
            "idx_string": self.string,
            "idx_token": self.token,
            "idx_reference": self.reference,
            "idx_date": self.date,
            "idx_number": self.number,
            "idx_quantity": self.quantity,
            "idx_uri": self.uri,
        }


TABLE_FOR_TYPE = {
    "string": "idx_string",
    "token": "idx_token",
    "reference": "idx_reference",
    "date": "idx_date",
    "number": "idx_number",
    "quantity": "idx_quantity",
    "uri": "idx_uri",
}

COLUMNS = {
    "idx_string": ("param", "grp", "value", "exact"),
    "idx_token": ("param", "grp", "system", "code", "text"),
    "idx_reference": ("param", "grp", "target_type", "target_id", "url"),
    "idx_date": ("param", "grp", "lo", "hi"),
    "idx_number": ("param", "grp", "lo", "hi"),
    "idx_quantity": ("param", "grp", "system", "code", "unit", "lo", "hi"),
    "idx_uri": ("param", "grp", "uri"),
}
