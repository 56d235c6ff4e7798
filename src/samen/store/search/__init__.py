"""FHIR search: query parameters -> :class:`SearchQuery` -> SQL on the index tables -> result rows.

- :func:`parse_search` reads the parameters of a type-level, system-level or compartment search;
- :func:`run_search` runs it on a connection: one page of matches, the total, included resources.

Modules: ``params`` (the parsed form), ``values`` (one value: escapes, prefixes, ranges), ``parse``,
``compile`` (SQL), ``dialect`` (the SQLite/PostgreSQL differences), ``run`` (execution, includes).
"""

from samen.store.search.params import MAX_COUNT, DEFAULT_COUNT, SearchError, SearchQuery
from samen.store.search.parse import parse_search
from samen.store.search.run import Row, SearchResult, run_search

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "Row",
    "SearchError",
    "SearchQuery",
    "SearchResult",
    "parse_search",
    "run_search",
]
