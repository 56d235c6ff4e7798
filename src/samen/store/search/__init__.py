"""FHIR search: query parameters -> :class:`SearchQuery` -> SQL on the index tables -> result rows.

Public API::

    parse_search(model, resource_type | None, params, *, strict=False, base_url=None, compartment=None,
                 code_sets=None) -> SearchQuery
    run_search(conn, model, query) -> SearchResult      # inside a transaction (Store.session)
    query.link_params(offset) -> [(name, value), ...]  # canonical parameters for self/next/previous links
    SearchError(message, status=400, code="invalid")   # .status, .message, .code (OperationOutcome issue type)
    CodeSets                                           # Protocol: codes_in, codes_below, codes_above

Modules: ``params`` (the parsed form), ``values`` (one value: escapes, prefixes, ranges), ``parse``,
``codesets`` (the terminology modifiers), ``compile`` (SQL), ``dialect`` (the SQLite/PostgreSQL
differences, in one place), ``run`` (paging, totals, includes).

Choices where the specification leaves room:

- Unknown or unsupported parameters (``_text``, ``_content``, ``_filter``, ``near`` on a type other
  than Location, an unknown ``_sort`` or ``_include`` parameter) are ignored with a warning, or refused
  (400) under ``Prefer: handling=strict``. Malformed values, unknown modifiers and unsupported ones are
  always refused. An empty value (``name=``) is ignored with a warning.
- ``Location?near=lat|lon|distance|unit``: km when the unit is left out, 10 km when the distance is; a
  bounding box on the indexed position, then the great-circle distance; not sorted by distance.
- Token ``:in``/``:not-in`` (a ValueSet canonical URL), ``:below``/``:above`` (``system|code``: the
  code and its descendants / ancestors) become the list of ``system|code`` pairs they stand for,
  asked of ``code_sets`` (the node's terminology service; without it they are refused) and tested
  as exact matches on the token index. A row without a system (a ``code`` element such as
  ``Observation.status``) matches by its code alone. ``:not-in`` is negated like ``:not`` (resources
  without the parameter match). Refused with 400 and the reason: codes the node cannot list (SNOMED
  CT or LOINC hierarchies, value sets selecting such codes by rule, code systems known only in
  part, an unknown value set, system or code), a value without system or code for ``:below``/
  ``:above`` (which system would be ambiguous), and more than :data:`MAX_CODES` codes
  (``too-costly``, with the count).
- Paging: ``_count`` (default 20, at most 1000) and ``_offset`` over a total order (the ``_sort``
  keys, then the internal ``rid``; without ``_sort``, ``rid``: the order of creation, which
  updates do not change), so paging an unchanged result returns each match exactly once. Sort keys
  come from the index rows: the least value ascending, the greatest descending (for dates: the
  start of the earliest range, the end of the latest), missing values last either way.
- Total: ``_total=accurate`` (and ``estimate``) count exactly; ``none`` counts nothing; without
  ``_total`` the count stops at 1000 (:data:`TOTAL_CAP`): an exact total up to there, none
  beyond, so a broad search never pays for counting 100,000 matches it does not show.
- Dates and numbers are ranges on both sides (``2024`` is the whole year, ``100`` is 99.5 to
  100.5) and the prefixes compare ranges as R4 search 3.1.1.4 defines. ``ap`` widens the value by
  10% of its distance to now (dates) or of the value (numbers), the specification's recommendation,
  and matches what overlaps the widened range.
- References: ``Type/id``, ``id`` (any type), an absolute URL (on this node's base: the same as
  relative), ``:Type``, ``:identifier``; a version suffix is ignored. Chains up to 3 references
  (``subject:Patient.organization.name``); an untyped link tries every target type that has the
  next parameter. ``_has`` nests up to 3 deep.
- Two bounds on a parameter that has at most one value per resource (``birthdate=ge1950&
  birthdate=lt1960``) are tested on the same index row, one index range instead of two sets.
- Quantities match ``value|system|code`` exactly (no unit conversion); ``value||unit`` matches the
  code or the unit.
- ``_include``/``_revinclude`` apply to the page's matches; ``:iterate`` ones again to what they
  add, until nothing new (at most 8 rounds and 5000 included resources, with a warning).
"""

from samen.store.search.codesets import MAX_CODES, CodeSets
from samen.store.search.params import DEFAULT_COUNT, MAX_COUNT, TOTAL_CAP, SearchError, SearchQuery
from samen.store.search.parse import parse_search
from samen.store.search.run import Row, SearchResult, run_search

__all__ = [
    "DEFAULT_COUNT",
    "MAX_CODES",
    "MAX_COUNT",
    "TOTAL_CAP",
    "CodeSets",
    "Row",
    "SearchError",
    "SearchQuery",
    "SearchResult",
    "parse_search",
    "run_search",
]
