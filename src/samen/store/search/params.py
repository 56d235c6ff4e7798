"""The parsed form of a search: what :func:`~samen.store.search.parse.parse_search` produces and the
SQL compiler consumes.

A query is a list of filters that must all hold (repeated parameters = AND). A filter that tests
index rows carries its alternatives (comma = OR) as *matches*, one per value. Values are already
converted to what the index stores (normalised text, epoch-ms ranges, decimal ranges), following
:mod:`samen.store.rows`, so the compiler never parses text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
TOTAL_MODES = ("none", "estimate", "accurate")
SUMMARY_MODES = ("true", "text", "data", "count", "false")

DEFAULT_COUNT = 20
MAX_COUNT = 1000
TOTAL_CAP = 1000  # without _total, a total is given when there are at most this many matches


class SearchError(Exception):
    """A search the node refuses; ``status`` is the HTTP status (400 unless told otherwise), ``code``
    the OperationOutcome issue type (``too-costly``, ``not-supported``, ...)."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


# -- matches: one value of one parameter, as the index stores it --------------------------------


@dataclass(frozen=True, slots=True)
class StringMatch:
    mode: str  # "start" (normalised prefix), "exact" (as written), "contains" (normalised substring)
    text: str  # normalised for start/contains, as written for exact
    normalized: str  # normalised text (exact also narrows on it, to use the index)


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """``code``, ``system|code``, ``|code`` (no system) or ``system|``."""

    system: str | None
    code: str | None
    no_system: bool = False  # ``|code``: the row must have no system


@dataclass(frozen=True, slots=True)
class CodeSetMatch:
    """``:in``, ``:below``, ``:above``: the row's code is one of the codes listed for its system.

    A row without a system (a ``code`` element such as ``Observation.status``) matches by its code
    alone, as a code without a system is looked for in every system of a value set.
    """

    codes_by_system: tuple[tuple[str, tuple[str, ...]], ...]  # (system, its codes), both sorted


@dataclass(frozen=True, slots=True)
class TokenTextMatch:
    """``:text``: the normalised display/text starts with ``text`` (or a word of it does)."""

    text: str


@dataclass(frozen=True, slots=True)
class ReferenceMatch:
    """A reference by ``target_type``/``target_id`` (type may be None: any), or by absolute ``url``."""

    target_type: str | None
    target_id: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class RangeMatch:
    """A date or number with a prefix, as the range of the value.

    Dates: the closed range of epoch milliseconds ``[lo, hi]``. Numbers: the half-open implicit
    range of the precision ``[lo, hi)`` (``closed`` False).
    """

    prefix: str
    lo: float
    hi: float
    closed: bool = True


@dataclass(frozen=True, slots=True)
class QuantityMatch:
    prefix: str
    lo: float
    hi: float
    system: str | None
    code: str | None  # with a system: the code; without: code or unit


@dataclass(frozen=True, slots=True)
class UriMatch:
    mode: str  # "eq", "below" (stored uri starts with it), "above" (stored uri is a prefix of it)
    uri: str


@dataclass(frozen=True, slots=True)
class NearMatch:
    """``near=lat|lon|distance|unit`` (R4 special parameter of Location): positions within ``km`` of
    the point. The index keeps a position as one number row (``lo`` latitude, ``hi`` longitude)."""

    latitude: float
    longitude: float
    km: float


@dataclass(frozen=True, slots=True)
class AllOf:
    """Several tests that one index row must pass together (bounds on a single-valued parameter)."""

    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class CompositePart:
    table: str
    param: str  # the index param of the component, "{code}${i}"
    match: Match


@dataclass(frozen=True, slots=True)
class CompositeMatch:
    parts: tuple[CompositePart, ...]


Match = Union[
    StringMatch, TokenMatch, CodeSetMatch, TokenTextMatch, ReferenceMatch, RangeMatch, QuantityMatch, UriMatch,
    CompositeMatch, AllOf, NearMatch,
]


# -- filters: one parameter of the query ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexFilter:
    """Resources with an index row in ``table`` under ``param`` matching any of ``matches``.

    ``negate`` (token ``:not``): resources with no such row, including those without the parameter.
    """

    table: str
    types: tuple[str, ...]
    param: str
    matches: tuple[Match, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class MissingFilter:
    """``:missing``: resources without (``missing``) or with (not ``missing``) any row for ``param``."""

    table: str
    types: tuple[str, ...]
    param: str
    missing: bool


@dataclass(frozen=True, slots=True)
class ChainTarget:
    res_type: str
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class ChainFilter:
    """``subject:Patient.name=x``: a reference under ``param`` to a resource that matches a target's filters."""

    types: tuple[str, ...]
    param: str
    targets: tuple[ChainTarget, ...]


@dataclass(frozen=True, slots=True)
class HasFilter:
    """``_has:Observation:patient:code=x``: some ``source_type`` refers to the resource via ``source_param``
    and matches ``filters``."""

    types: tuple[str, ...]  # the types that may be referred to
    source_type: str
    source_param: str
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class IdFilter:
    ids: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class LastUpdatedFilter:
    matches: tuple[RangeMatch, ...]


@dataclass(frozen=True, slots=True)
class ListFilter:
    """``_list=id``: the resources of ``types`` that ``List/id`` has as ``item``."""

    types: tuple[str, ...]
    list_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompartmentFilter:
    """Resources whose compartment parameters refer to ``comp_type/comp_id`` (and that resource itself)."""

    comp_type: str
    comp_id: str
    params_by_type: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class NoMatch:
    """A filter that nothing can satisfy (a compartment a type is not in, ``_type`` leaving no type)."""

    reason: str


Filter = Union[
    IndexFilter, MissingFilter, ChainFilter, HasFilter, IdFilter, LastUpdatedFilter, ListFilter, CompartmentFilter,
    NoMatch,
]


# -- result parameters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``_sort`` key: ``_id``, ``_lastUpdated`` or an indexed parameter (``table``/``param``)."""

    name: str
    descending: bool
    table: str | None = None  # None for _id and _lastUpdated
    param: str | None = None


@dataclass(frozen=True, slots=True)
class Include:
    """``_include``/``_revinclude``: ``source_type:param[:target_type]``; None stands for any (``*``)."""

    reverse: bool
    source_type: str | None
    param: str | None
    target_type: str | None
    iterate: bool


@dataclass
class SearchQuery:
    """A parsed search: filters, ordering, paging and what to add or leave out of the result."""

    resource_types: tuple[str, ...]  # one for a type-level search; those searched at system level
    system_level: bool
    filters: list[Filter] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    total: str | None = None  # _total: none | estimate | accurate; None: exact up to TOTAL_CAP
    summary: str | None = None  # _summary as given (true, text, data, count, false); the REST layer projects
    elements: list[str] | None = None  # _elements, for the REST layer to project
    includes: list[Include] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)  # the accepted parameters, canonical order

    @property
    def resource_type(self) -> str | None:
        return None if self.system_level else self.resource_types[0]

    @property
    def count_only(self) -> bool:
        return self.summary == "count"

    def link_params(self, offset: int) -> list[tuple[str, str]]:
        """The query as canonical parameters for a paging link at ``offset``.

        Parameters the node used, sorted by name (the order of a repeated name kept), then
        ``_count`` and ``_offset``: the same search always gives the same links.
        """
        return [*self.params, ("_count", str(self.count)), ("_offset", str(max(0, offset)))]
