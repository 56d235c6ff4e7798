"""From a :class:`SearchQuery` to SQL: every filter is an index lookup.

At each level (the searched resource ``r``; the referred resource of a chain; the referring
resource of a ``_has``) one filter *drives* and the others are *checks*:

- the driver is a set of rids: ``r.rid IN (SELECT t.rid FROM idx_x t WHERE t.res_type = ? AND
  t.param = ? AND <value>)`` (several values, comma = OR, are a ``UNION ALL`` of such selects, so each
  stays one index range). The engine starts from it and fetches resources by primary key;
- every other filter is a correlated ``EXISTS (SELECT 1 FROM idx_x t WHERE t.rid = r.rid AND ...)``,
  one probe of the ``rid`` index per candidate; negations (token ``:not``, ``:missing=true``) are
  ``NOT EXISTS`` of the same;
- ``r.res_type = ?`` is left out when the driver already keeps to the searched types, so that no
  engine is tempted to walk every resource of the type instead.

Why not all ``IN``: PostgreSQL plans ``IN`` and ``EXISTS`` as the same semi-joins, whatever we
write; SQLite runs every ``IN (SELECT ...)`` that does not drive to completion into a temporary
table (``Observation?patient=X&code=Y`` materialised every Observation with code Y), and without
``ANALYZE`` statistics it preferred walking ``resource`` by type. Measured at 10,000 patients (450,000
resources), see tests/store/search/bench_search.py.

The driver is the filter expected to match fewest rows: on SQLite each candidate single-table
filter is probed with a bounded count (at most :data:`PROBE_LIMIT` index entries read); otherwise,
and for the rest, by its kind (a reference to one resource, an identifier, a code, a prefix, a range).

Value tests follow :mod:`samen.store.rows`: dates and numbers are ranges on both sides and the
prefixes are the range comparisons of the R4 search specification.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from samen.store.schema import Dialect
from samen.store.search import dialect as d
from samen.store.search.params import (
    AllOf,
    ChainFilter,
    CodeSetMatch,
    CompartmentFilter,
    CompositeMatch,
    Filter,
    HasFilter,
    IdFilter,
    IndexFilter,
    LastUpdatedFilter,
    ListFilter,
    Match,
    MissingFilter,
    NearMatch,
    NoMatch,
    QuantityMatch,
    RangeMatch,
    ReferenceMatch,
    SearchQuery,
    SortKey,
    StringMatch,
    TokenMatch,
    TokenTextMatch,
    UriMatch,
)
from samen.store.search.values import uri_prefixes

Args = list[Any]
Probe = Callable[[str, Args], int]  # runs a bounded count, returns it
PROBE_LIMIT = 200
PROBE_LIMIT_LARGE = 5000
_MAX_STRING = 500  # the indexer cuts normalised string values to this length
EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG), for ``near``
_IDENTIFYING = ("identifier", "_id", "url", "email", "phone", "telecom")

# The column a sort key reads per index table: (ascending: min of, descending: max of).
_SORT_COLUMNS = {
    "idx_string": ("s.value", "s.value"),
    "idx_token": ("s.code", "s.code"),
    "idx_reference": ("coalesce(s.target_id, s.url)", "coalesce(s.target_id, s.url)"),
    "idx_date": ("s.lo", "s.hi"),
    "idx_number": ("s.lo", "s.hi"),
    "idx_quantity": ("s.lo", "s.hi"),
    "idx_uri": ("s.uri", "s.uri"),
}

ROW_COLUMNS = "r.rid, r.res_type, r.res_id, r.version, r.updated_ms, v.content"
ROW_FROM = "resource r JOIN resource_version v ON v.rid = r.rid AND v.version = r.version"


class Compiled:
    """The SQL of one search: ``where`` on ``resource r`` and the ``ORDER BY`` of its total order."""

    def __init__(self, where: str, where_args: Args, order: str, order_args: Args) -> None:
        self.where = where
        self.where_args = where_args
        self.order = order
        self.order_args = order_args

    def page(self, count: int, offset: int) -> tuple[str, Args]:
        sql = f"SELECT r.rid FROM resource r WHERE {self.where} ORDER BY {self.order} LIMIT ? OFFSET ?"
        return sql, [*self.where_args, *self.order_args, count, offset]

    def count(self, limit: int | None = None) -> tuple[str, Args]:
        """``count(*)`` of the matches; with ``limit``, counting stops there (a bounded cost)."""
        if limit is None:
            return f"SELECT count(*) FROM resource r WHERE {self.where}", list(self.where_args)
        sql = f"SELECT count(*) FROM (SELECT 1 FROM resource r WHERE {self.where} LIMIT ?) c"
        return sql, [*self.where_args, limit]


def compile_query(
    dialect: Dialect, query: SearchQuery, all_types: frozenset[str], probe: Probe | None = None
) -> Compiled:
    """The SQL of ``query``; ``probe`` (SQLite) lets the compiler measure which filter to start from."""
    compiler = _Compiler(dialect, probe)
    args: Args = []
    where = compiler.resource_where("r", query.resource_types, query.filters, args, all_types)
    order_args: Args = []
    order = compiler.order(query.sort, order_args)
    return Compiled(where, args, order, order_args)


def _keeps_types(f: Filter) -> bool:
    """Whether a driving filter only yields resources of the types it was parsed for."""
    return isinstance(f, (IndexFilter, MissingFilter, ChainFilter, HasFilter, CompartmentFilter, ListFilter))


def _can_drive(f: Filter) -> bool:
    if isinstance(f, IndexFilter):
        return not f.negate
    if isinstance(f, MissingFilter):
        return not f.missing
    return isinstance(f, (ChainFilter, HasFilter, ListFilter, CompartmentFilter))


class _Compiler:
    def __init__(self, dialect: Dialect, probe: Probe | None) -> None:
        self.dialect = dialect
        self.probe = probe
        self._aliases = 0
        self._measured: dict[tuple[int, int], int] = {}

    def alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    @staticmethod
    def in_list(column: str, values: Sequence[Any], args: Args) -> str:
        args.extend(values)
        if len(values) == 1:
            return f"{column} = ?"
        return f"{column} IN ({', '.join('?' * len(values))})"

    # -- which filter drives ------------------------------------------------------------------

    def choose_driver(self, filters: Sequence[Filter], row_available: bool) -> int | None:
        """The filter to start from at one level (None: start from ``resource`` itself).

        A positive ``_id`` on a level with its ``resource`` row is the best start of all: the
        unique (res_type, res_id) index; then no other filter drives. Otherwise the drivable filter
        expected to match fewest rows: measured with bounded counts when there is a choice and a
        probe, first cheaply, and once more with a higher bound when every candidate is large.
        """
        if row_available and any(isinstance(f, IdFilter) and not f.negate for f in filters):
            return None
        candidates = [i for i, f in enumerate(filters) if _can_drive(f)]
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        for limit in (PROBE_LIMIT, PROBE_LIMIT_LARGE):
            rows = {i: self.estimate(filters[i], limit) for i in candidates}
            best = min(candidates, key=lambda i: rows[i])
            if self.probe is None or rows[best] < limit:
                return best
        return best

    def estimate(self, f: Filter, limit: int = PROBE_LIMIT) -> float:
        """Expected matching rows: a bounded count when a probe is at hand (reaching ``limit`` reads
        as four times that, or the guess by kind if larger), else the guess by kind."""
        if isinstance(f, IndexFilter):
            guess = sum(_guess(f.param, m) for m in f.matches)
            if self.probe is None or any(isinstance(m, CompositeMatch) for m in f.matches):
                return guess
            key = (id(f), limit)
            if key not in self._measured:
                args: Args = []
                sql = self._index_select(f, args)
                self._measured[key] = self.probe(f"SELECT count(*) FROM ({sql} LIMIT {limit}) p", args)
            found = self._measured[key]
            # at the bound the real number is unknown, and often far above it
            return found if found < limit else max(guess, limit * 4)
        if isinstance(f, MissingFilter):
            return 100_000
        if isinstance(f, ChainFilter):  # each target is referred to by some resources
            return sum(self._best(target.filters, limit) * 20 for target in f.targets)
        if isinstance(f, HasFilter):  # each referring resource refers to one
            return self._best(f.filters, limit)
        if isinstance(f, (CompartmentFilter, ListFilter)):
            return 30
        return 100_000

    def _best(self, filters: Sequence[Filter], limit: int) -> float:
        return min((self.estimate(f, limit) for f in filters if _can_drive(f)), default=100_000)

    def resource_where(
        self,
        a: str,
        types: Sequence[str],
        filters: Sequence[Filter],
        args: Args,
        all_types: frozenset[str] = frozenset(),
    ) -> str:
        """The live resources ``a`` of ``types`` that pass ``filters``, started from the best filter.

        ``a.res_type`` is only tested when the driver does not already keep to the types: an
        equality on an indexed column is what SQLite, without statistics, would otherwise start from.
        """
        driver = self.choose_driver(filters, row_available=True)
        parts = []
        if set(types) != all_types and (driver is None or not _keeps_types(filters[driver])):
            parts.append(self.in_list(f"{a}.res_type", types, args))
        parts.append(f"{a}.deleted = 0")
        for i, f in enumerate(filters):
            parts.append(self.predicate(f, f"{a}.rid", a, args, driving=i == driver))
        return " AND ".join(parts)

    def level(self, filters: Sequence[Filter], rid: str, row: str | None, args: Args, correlated: bool) -> str:
        """The filters of one nested level, ANDed: one drives unless the level is ``correlated``
        (checked per row of an enclosing EXISTS, where a set to start from would be wasted)."""
        driver = None if correlated else self.choose_driver(filters, row_available=row is not None)
        tests = [self.predicate(f, rid, row, args, driving=i == driver) for i, f in enumerate(filters)]
        return " AND ".join(tests)

    # -- filters ------------------------------------------------------------------------------

    def predicate(self, f: Filter, rid: str, row: str | None, args: Args, driving: bool) -> str:
        """SQL that holds for the resource whose rid is ``rid`` (and whose ``resource`` row is ``row``)."""
        if row is None and _needs_row(f, driving):
            b = self.alias("b")
            args_inner: Args = []
            inner = self.predicate(f, f"{b}.rid", b, args_inner, driving)
            args.extend(args_inner)
            if driving:
                return f"{rid} IN (SELECT {b}.rid FROM resource {b} WHERE {inner})"
            return f"EXISTS (SELECT 1 FROM resource {b} WHERE {b}.rid = {rid} AND {inner})"
        if isinstance(f, IndexFilter):
            return self._index(f, rid, args, driving)
        if isinstance(f, MissingFilter):
            m = self.alias("m")
            if driving:
                types = self.in_list(f"{m}.res_type", f.types, args)
                args.append(f.param)
                return f"{rid} IN (SELECT {m}.rid FROM {f.table} {m} WHERE {types} AND {m}.param = ?)"
            args.append(f.param)
            exists = f"EXISTS (SELECT 1 FROM {f.table} {m} WHERE {m}.rid = {rid} AND {m}.param = ?)"
            return f"NOT {exists}" if f.missing else exists
        if isinstance(f, ChainFilter):
            return self._chain(f, rid, args, driving)
        if isinstance(f, HasFilter):
            return self._has(f, rid, row, args, driving)
        if isinstance(f, IdFilter):
            assert row is not None
            sql = self.in_list(f"{row}.res_id", f.ids, args)
            return f"NOT ({sql})" if f.negate else sql
        if isinstance(f, LastUpdatedFilter):
            assert row is not None
            column = f"{row}.updated_ms"
            tests = [_range(m, column, column, args) for m in f.matches]
            return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"
        if isinstance(f, ListFilter):
            return self._list(f, rid, row, args, driving)
        if isinstance(f, CompartmentFilter):
            return self._compartment(f, rid, row, args, driving)
        if isinstance(f, NoMatch):
            return "1 = 0"
        raise TypeError(f"no SQL for {f!r}")

    def _index_select(self, f: IndexFilter, args: Args) -> str:
        """``SELECT rid`` of the index rows that match any of the filter's values (one UNION ALL arm each)."""
        selects = []
        for match in f.matches:
            if isinstance(match, CompositeMatch):
                c, sql = self._composite(f, match, args)
                selects.append(f"SELECT {c}.rid {sql}")
                continue
            t = self.alias("t")
            types = self.in_list(f"{t}.res_type", f.types, args)
            args.append(f.param)
            test = self._match(match, t, args)
            selects.append(f"SELECT {t}.rid FROM {f.table} {t} WHERE {types} AND {t}.param = ? AND {test}")
        return " UNION ALL ".join(selects)

    def _index(self, f: IndexFilter, rid: str, args: Args, driving: bool) -> str:
        if driving:
            return f"{rid} IN ({self._index_select(f, args)})"
        if f.table == "composite":
            tests = []
            for match in f.matches:
                assert isinstance(match, CompositeMatch)
                c, sql = self._composite(f, match, args, rid)
                tests.append(f"EXISTS (SELECT 1 {sql})")
            return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"
        n = self.alias("n")
        args.append(f.param)
        tests = [self._match(m, n, args) for m in f.matches]
        test = tests[0] if len(tests) == 1 else "(" + " OR ".join(f"({t})" for t in tests) + ")"
        exists = f"EXISTS (SELECT 1 FROM {f.table} {n} WHERE {n}.rid = {rid} AND {n}.param = ? AND {test})"
        return f"NOT {exists}" if f.negate else exists

    def _composite(self, f: IndexFilter, match: CompositeMatch, args: Args, rid: str | None = None) -> tuple[str, str]:
        """Every component on rows of the same element (same rid and ``grp``): (first alias, FROM ... WHERE ...)."""
        aliases = [self.alias("c") for _ in match.parts]
        first = aliases[0]
        joins = [f"{match.parts[0].table} {first}"]
        for part, c in zip(match.parts[1:], aliases[1:], strict=True):
            joins.append(f"JOIN {part.table} {c} ON {c}.rid = {first}.rid AND {c}.grp = {first}.grp")
        if rid is None:
            tests = [self.in_list(f"{first}.res_type", f.types, args)]
        else:
            tests = [f"{first}.rid = {rid}"]
        for part, c in zip(match.parts, aliases, strict=True):
            args.append(part.param)
            tests.append(f"{c}.param = ?")
            tests.append(self._match(part.match, c, args))
        return first, f"FROM {' '.join(joins)} WHERE {' AND '.join(tests)}"

    def _chain(self, f: ChainFilter, rid: str, args: Args, driving: bool) -> str:
        """Reference rows of ``rid`` (or, driving, of the searched types) whose target passes the chain.

        Driving, the targets are found first (their own driver) and their ids looked up in the
        ``target_id`` index; checking, the reference rows of ``rid`` are followed to their targets.
        """
        arms = []
        for target in f.targets:
            x = self.alias("x")
            if driving:
                types = self.in_list(f"{x}.res_type", f.types, args)
                args.extend((f.param, target.res_type))
                a = self.alias("a")
                targets = self.resource_where(a, (target.res_type,), target.filters, args)
                arms.append(
                    f"SELECT {x}.rid FROM idx_reference {x} WHERE {types} AND {x}.param = ? AND {x}.target_type = ? "
                    f"AND {x}.target_id IN (SELECT {a}.res_id FROM resource {a} WHERE {targets})"
                )
                continue
            a = self.alias("a")
            args.extend((f.param, target.res_type))
            inner = self.level(target.filters, f"{a}.rid", a, args, correlated=True)
            arms.append(
                f"SELECT 1 FROM idx_reference {x} "
                f"JOIN resource {a} ON {a}.res_type = {x}.target_type AND {a}.res_id = {x}.target_id "
                f"WHERE {x}.rid = {rid} AND {x}.param = ? AND {x}.target_type = ? AND {a}.deleted = 0 AND {inner}"
            )
        if driving:
            return f"{rid} IN ({' UNION ALL '.join(arms)})"
        tests = [f"EXISTS ({arm})" for arm in arms]
        return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"

    def _has(self, f: HasFilter, rid: str, row: str | None, args: Args, driving: bool) -> str:
        """Reference rows of the source type that point at the resource and whose owner passes the filters.

        Driving, the referring resources are found first and the ids they refer to looked up in the
        (res_type, res_id) index; checking, the ``target_id`` index gives the rows that refer to ``row``.
        """
        x = self.alias("x")
        if driving:
            arms = []
            for res_type in f.types:
                a, x = self.alias("a"), self.alias("x")
                args.extend((res_type, f.source_type, f.source_param, res_type))
                inner = self.level(f.filters, f"{x}.rid", None, args, correlated=False)
                arms.append(
                    f"SELECT {a}.rid FROM resource {a} WHERE {a}.res_type = ? AND {a}.res_id IN "
                    f"(SELECT {x}.target_id FROM idx_reference {x} WHERE {x}.res_type = ? AND {x}.param = ? "
                    f"AND {x}.target_type = ? AND {inner})"
                )
            return f"{rid} IN ({' UNION ALL '.join(arms)})"
        assert row is not None
        args.extend((f.source_type, f.source_param))
        inner = self.level(f.filters, f"{x}.rid", None, args, correlated=True)
        return (
            f"EXISTS (SELECT 1 FROM idx_reference {x} WHERE {x}.target_id = {row}.res_id "
            f"AND {x}.target_type = {row}.res_type AND {x}.res_type = ? AND {x}.param = ? AND {inner})"
        )

    def _list(self, f: ListFilter, rid: str, row: str | None, args: Args, driving: bool) -> str:
        lst, x = self.alias("l"), self.alias("x")
        if driving:
            a = self.alias("a")
            ids = self.in_list(f"{lst}.res_id", f.list_ids, args)
            types = self.in_list(f"{a}.res_type", f.types, args)
            return (
                f"{rid} IN (SELECT {a}.rid FROM resource {lst} JOIN idx_reference {x} ON {x}.rid = {lst}.rid "
                f"JOIN resource {a} ON {a}.res_type = {x}.target_type AND {a}.res_id = {x}.target_id "
                f"WHERE {lst}.res_type = 'List' AND {ids} AND {lst}.deleted = 0 AND {x}.param = 'item' AND {types})"
            )
        assert row is not None
        ids = self.in_list(f"{lst}.res_id", f.list_ids, args)
        return (
            f"EXISTS (SELECT 1 FROM idx_reference {x} JOIN resource {lst} ON {lst}.rid = {x}.rid "
            f"WHERE {x}.target_id = {row}.res_id AND {x}.target_type = {row}.res_type AND {x}.res_type = 'List' "
            f"AND {x}.param = 'item' AND {ids} AND {lst}.deleted = 0)"
        )

    def _compartment(self, f: CompartmentFilter, rid: str, row: str | None, args: Args, driving: bool) -> str:
        x = self.alias("x")
        tests = []
        group_args: Args = [f.comp_id, f.comp_type]
        groups = []
        for res_type, params in f.params_by_type:
            if params:
                group_args.append(res_type)
                groups.append(f"({x}.res_type = ? AND {self.in_list(f'{x}.param', params, group_args)})")
        if groups:
            args.extend(group_args)
            where = f"{x}.target_id = ? AND {x}.target_type = ? AND ({' OR '.join(groups)})"
            if driving:
                tests.append(f"{rid} IN (SELECT {x}.rid FROM idx_reference {x} WHERE {where})")
            else:
                tests.append(f"EXISTS (SELECT 1 FROM idx_reference {x} WHERE {x}.rid = {rid} AND {where})")
        if any(res_type == f.comp_type for res_type, _ in f.params_by_type):
            assert row is not None
            args.extend((f.comp_type, f.comp_id))
            tests.append(f"({row}.res_type = ? AND {row}.res_id = ?)")
        return "(" + " OR ".join(tests) + ")" if tests else "1 = 0"

    # -- values -------------------------------------------------------------------------------

    def _match(self, m: Match, t: str, args: Args) -> str:
        if isinstance(m, AllOf):
            return " AND ".join(f"({self._match(each, t, args)})" for each in m.matches)
        if isinstance(m, StringMatch):
            if m.mode == "exact":
                args.extend((m.normalized[:_MAX_STRING], m.text))
                return f"{t}.value = ? AND {t}.exact = ?"
            if m.mode == "contains":
                args.append("%" + d.like_escape(m.text) + "%")
                return f"{t}.value {d.LIKE}"
            return self._prefix(f"{t}.value", m.text[:_MAX_STRING], args)
        if isinstance(m, TokenMatch):
            tests = []
            if m.code is not None:
                args.append(m.code)
                tests.append(f"{t}.code = ?")
            if m.system is not None:
                args.append(m.system)
                tests.append(f"{t}.system = ?")
            elif m.no_system:
                tests.append(f"{t}.system IS NULL")
            return " AND ".join(tests)
        if isinstance(m, CodeSetMatch):
            return self._code_set(m, t, args)
        if isinstance(m, TokenTextMatch):
            pattern = d.like_escape(m.text)
            args.extend((pattern + "%", "% " + pattern + "%"))
            return f"({t}.text {d.LIKE} OR {t}.text {d.LIKE})"
        if isinstance(m, ReferenceMatch):
            if m.url is not None:
                args.append(m.url)
                return f"{t}.url = ?"
            args.append(m.target_id)
            if m.target_type is None:
                return f"{t}.target_id = ?"
            args.append(m.target_type)
            return f"{t}.target_id = ? AND {t}.target_type = ?"
        if isinstance(m, RangeMatch):
            return _range(m, f"{t}.lo", f"{t}.hi", args, closed=m.closed)
        if isinstance(m, QuantityMatch):
            test = _range(m, f"{t}.lo", f"{t}.hi", args, closed=False)
            if m.system is not None:
                args.append(m.system)
                test += f" AND {t}.system = ?"
                if m.code is not None:
                    args.append(m.code)
                    test += f" AND {t}.code = ?"
            elif m.code is not None:
                args.extend((m.code, m.code))
                test += f" AND ({t}.code = ? OR {t}.unit = ?)"
            return test
        if isinstance(m, NearMatch):
            return _near(m, t, args)
        if isinstance(m, UriMatch):
            if m.mode == "below":
                return self._prefix(f"{t}.uri", m.uri, args)
            if m.mode == "above":
                return self.in_list(f"{t}.uri", uri_prefixes(m.uri), args)
            args.append(m.uri)
            return f"{t}.uri = ?"
        raise TypeError(f"no SQL for {m!r}")

    def _code_set(self, m: CodeSetMatch, t: str, args: Args) -> str:
        """The row's code is one of the listed ones (an index range per code), then of the right
        system; a row without a system matches by its code alone."""
        codes = sorted({code for _, listed in m.codes_by_system for code in listed})
        if not codes:
            return "1 = 0"
        test = self.in_list(f"{t}.code", codes, args)
        if len(m.codes_by_system) == 1:
            args.append(m.codes_by_system[0][0])
            return f"{test} AND ({t}.system = ? OR {t}.system IS NULL)"
        systems = []
        for system, listed in m.codes_by_system:
            args.append(system)
            systems.append(f"({t}.system = ? AND {self.in_list(f'{t}.code', listed, args)})")
        return f"{test} AND ({t}.system IS NULL OR {' OR '.join(systems)})"

    def _prefix(self, column: str, prefix: str, args: Args) -> str:
        if not prefix:
            return "1 = 1"
        upper = d.prefix_upper(prefix)
        args.append(prefix)
        if upper is not None:
            args.append(upper)
        return d.prefix_range(self.dialect, column, upper is not None)

    # -- order --------------------------------------------------------------------------------

    def order(self, keys: list[SortKey], args: Args) -> str:
        """The sort keys, missing values last, then ``rid``: a total order, so pages never overlap."""
        terms = []
        for key in keys:
            direction = "DESC" if key.descending else "ASC"
            if key.name == "_id":
                terms.append(f"r.res_id {direction}")
            elif key.name == "_lastUpdated":
                terms.append(f"r.updated_ms {direction}")
            else:
                assert key.table is not None
                ascending_column, descending_column = _SORT_COLUMNS[key.table]
                column = descending_column if key.descending else ascending_column
                aggregate = "max" if key.descending else "min"
                args.append(key.param)
                terms.append(
                    f"(SELECT {aggregate}({column}) FROM {key.table} s WHERE s.rid = r.rid AND s.param = ?) "
                    f"{direction} NULLS LAST"
                )
        terms.append("r.rid")
        return ", ".join(terms)


def _needs_row(f: Filter, driving: bool) -> bool:
    """Whether a filter reads the ``resource`` row itself (not only index rows by rid)."""
    if isinstance(f, (IdFilter, LastUpdatedFilter)):
        return True
    if isinstance(f, CompartmentFilter):
        return any(res_type == f.comp_type for res_type, _ in f.params_by_type)
    if isinstance(f, (HasFilter, ListFilter)):
        return not driving
    return False


def _guess(param: str, m: Match) -> float:
    """Expected matching index rows of one value, by its kind (when not measured)."""
    if isinstance(m, ReferenceMatch):
        return 20
    if isinstance(m, TokenMatch):
        if m.code is None:
            return 50_000
        if param.endswith((":identifier", ":of-type")) or param in _IDENTIFYING:
            return 2
        return 2_000 if m.system is not None else 5_000
    if isinstance(m, CodeSetMatch):
        return min(50_000, 2_000 * sum(len(codes) for _, codes in m.codes_by_system))
    if isinstance(m, StringMatch):
        if m.mode == "exact":
            return 20
        if m.mode == "contains":
            return 50_000
        return max(50, 5_000 // (1 + len(m.text)))
    if isinstance(m, UriMatch):
        return 20 if m.mode != "below" else 2_000
    if isinstance(m, (RangeMatch, QuantityMatch)):
        return 2_000 if m.prefix == "eq" else 20_000
    if isinstance(m, AllOf):
        return min(_guess(param, each) for each in m.matches) / 5
    if isinstance(m, NearMatch):
        return 500
    if isinstance(m, CompositeMatch):
        return 500
    return 50_000


def _near(m: NearMatch, t: str, args: Args) -> str:
    """Positions (``lo`` latitude, ``hi`` longitude) within ``m.km`` of the point: a bounding box the index
    answers, then the great-circle distance (haversine, compared as ``h <= sin²(d/2R)``, so only ``sin``,
    ``cos`` and ``radians`` are needed on both engines)."""
    lat_delta = math.degrees(m.km / EARTH_RADIUS_KM)
    cos_lat = math.cos(math.radians(m.latitude))
    lat_lo, lat_hi = max(-90.0, m.latitude - lat_delta), min(90.0, m.latitude + lat_delta)
    if cos_lat < 1e-6 or lat_delta / cos_lat >= 180 or lat_hi >= 90 or lat_lo <= -90:
        lon_lo, lon_hi = -180.0, 180.0  # the box reaches a pole or around the world
    else:
        lon_delta = lat_delta / cos_lat
        lon_lo, lon_hi = m.longitude - lon_delta, m.longitude + lon_delta
        if lon_lo < -180 or lon_hi > 180:
            lon_lo, lon_hi = -180.0, 180.0  # across the antimeridian: the exact test decides
    limit = math.sin(min(m.km / (2 * EARTH_RADIUS_KM), math.pi / 2)) ** 2
    args.extend((lat_lo, lat_hi, lon_lo, lon_hi, m.latitude, m.latitude, cos_lat, m.longitude, m.longitude, limit))
    return (
        f"{t}.lo BETWEEN ? AND ? AND {t}.hi BETWEEN ? AND ? AND "
        f"(sin(radians({t}.lo - ?) / 2) * sin(radians({t}.lo - ?) / 2)"
        f" + ? * cos(radians({t}.lo)) * sin(radians({t}.hi - ?) / 2) * sin(radians({t}.hi - ?) / 2)) <= ?"
    )


def _range(m: RangeMatch | QuantityMatch, lo: str, hi: str, args: Args, closed: bool = True) -> str:
    """The search range [a, b] against a stored range [lo, hi], per prefix (R4 search, 3.1.1.4).

    eq: [a, b] contains [lo, hi]; ne: it does not; gt/lt: the stored range reaches above b / below a;
    ge/le: gt/lt or eq; sa/eb: the stored range lies wholly above b / below a; ap: the ranges overlap
    (the search range was already widened by the parser). Each test starts with a bound on one
    indexed column so that it is an index range.

    Dates are ``closed`` ranges of whole milliseconds. Numbers are the half-open implicit ranges of
    their precision (``100`` is [99.5, 100.5)), so ``101`` ([100.5, 101.5)) starts after ``100``.
    """
    a, b = m.lo, m.hi
    p = m.prefix
    if p == "eq":
        args.extend((a, b, b))
        return f"{lo} >= ? AND {lo} <= ? AND {hi} <= ?"
    if p == "ne":
        args.extend((a, b))
        return f"({lo} < ? OR {hi} > ?)"
    if p == "gt":
        args.append(b)
        return f"{hi} > ?"
    if p == "lt":
        args.append(a)
        return f"{lo} < ?"
    if p == "ge":
        args.extend((a, b, a))
        return f"{hi} >= ? AND ({hi} > ? OR {lo} >= ?)"
    if p == "le":
        args.extend((b, a, b))
        return f"{lo} <= ? AND ({lo} < ? OR {hi} <= ?)"
    if p == "sa":
        args.append(b)
        return f"{lo} > ?" if closed else f"{lo} >= ?"
    if p == "eb":
        args.append(a)
        return f"{hi} < ?" if closed else f"{hi} <= ?"
    if p == "ap":
        args.extend((b, a))
        return f"{lo} <= ? AND {hi} >= ?" if closed else f"{lo} < ? AND {hi} > ?"
    raise ValueError(f"unknown prefix {p}")
