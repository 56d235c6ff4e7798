"""From a :class:`SearchQuery` to SQL: every filter is an index lookup.

Shapes (``r`` is the ``resource`` row being searched):

- a parameter: ``r.rid IN (SELECT t.rid FROM idx_x t WHERE t.res_type = ? AND t.param = ? AND <value>)``;
  several values (comma = OR) are a ``UNION ALL`` of such selects, so each stays one index range;
- a negation (token ``:not``, ``:missing=true``): ``NOT EXISTS (... t.rid = r.rid ...)``, an anti-join on
  the ``rid`` index;
- a chain: the reference rows joined to the referred resource (``a``) whose ``rid`` passes the chained
  filters; ``_has`` the same the other way round; ``_list`` the List's ``item`` rows.

``IN (SELECT ...)`` rather than ``EXISTS``: PostgreSQL plans both as the same semi-join, but SQLite
runs a correlated ``EXISTS`` once per candidate row, while ``rid IN (SELECT ...)`` lets it start from
the (small) set of index hits and look the resources up by primary key.

Value tests follow :mod:`samen.store.rows`: dates and numbers are inclusive ``[lo, hi]`` ranges on
both sides and the prefixes are the range comparisons of the R4 search specification.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from samen.store.schema import Dialect
from samen.store.search import dialect as d
from samen.store.search.params import (
    ChainFilter,
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
_MAX_STRING = 500  # the indexer cuts normalised string values to this length

# The column a sort key reads per index table: (ascending: min of, descending: max of).
_SORT_COLUMNS = {
    "idx_string": ("value", "value"),
    "idx_token": ("code", "code"),
    "idx_reference": ("coalesce(s.target_id, s.url)", "coalesce(s.target_id, s.url)"),
    "idx_date": ("lo", "hi"),
    "idx_number": ("lo", "hi"),
    "idx_quantity": ("lo", "hi"),
    "idx_uri": ("uri", "uri"),
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

    def count(self) -> tuple[str, Args]:
        return f"SELECT count(*) FROM resource r WHERE {self.where}", list(self.where_args)


def compile_query(dialect: Dialect, query: SearchQuery, all_types: frozenset[str]) -> Compiled:
    compiler = _Compiler(dialect)
    parts: list[str] = []
    args: Args = []
    types = query.resource_types
    if set(types) != all_types:
        parts.append(compiler.in_list("r.res_type", types, args))
    parts.append("r.deleted = 0")
    for f in query.filters:
        parts.append(compiler.predicate(f, "r.rid", "r", args))
    order_args: Args = []
    order = compiler.order(query.sort, order_args)
    return Compiled(" AND ".join(parts), args, order, order_args)


class _Compiler:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._aliases = 0

    def alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    @staticmethod
    def in_list(column: str, values: Sequence[Any], args: Args) -> str:
        args.extend(values)
        if len(values) == 1:
            return f"{column} = ?"
        return f"{column} IN ({', '.join('?' * len(values))})"

    # -- filters ------------------------------------------------------------------------------

    def predicate(self, f: Filter, rid: str, row: str | None, args: Args) -> str:
        """SQL that holds for the resource whose rid is ``rid`` (and whose ``resource`` row is ``row``)."""
        if row is None and _needs_row(f):
            b = self.alias("b")
            args_inner: Args = []
            inner = self.predicate(f, f"{b}.rid", b, args_inner)
            args.extend(args_inner)
            return f"{rid} IN (SELECT {b}.rid FROM resource {b} WHERE {inner})"
        if isinstance(f, IndexFilter):
            return self._index(f, rid, args)
        if isinstance(f, MissingFilter):
            m = self.alias("m")
            if f.missing:
                args.append(f.param)
                return f"NOT EXISTS (SELECT 1 FROM {f.table} {m} WHERE {m}.rid = {rid} AND {m}.param = ?)"
            types = self.in_list(f"{m}.res_type", f.types, args)
            args.append(f.param)
            return f"{rid} IN (SELECT {m}.rid FROM {f.table} {m} WHERE {types} AND {m}.param = ?)"
        if isinstance(f, ChainFilter):
            return self._chain(f, rid, args)
        if isinstance(f, HasFilter):
            return self._has(f, rid, args)
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
            return self._list(f, rid, args)
        if isinstance(f, CompartmentFilter):
            return self._compartment(f, rid, row, args)
        if isinstance(f, NoMatch):
            return "1 = 0"
        raise TypeError(f"no SQL for {f!r}")

    def _index(self, f: IndexFilter, rid: str, args: Args) -> str:
        if f.negate:
            n = self.alias("n")
            args.append(f.param)
            tests = [self._match(m, n, args) for m in f.matches]
            return (
                f"NOT EXISTS (SELECT 1 FROM {f.table} {n} WHERE {n}.rid = {rid} AND {n}.param = ? "
                f"AND ({' OR '.join(tests)}))"
            )
        selects = []
        for match in f.matches:
            if isinstance(match, CompositeMatch):
                selects.append(self._composite(f, match, args))
                continue
            t = self.alias("t")
            types = self.in_list(f"{t}.res_type", f.types, args)
            args.append(f.param)
            test = self._match(match, t, args)
            selects.append(f"SELECT {t}.rid FROM {f.table} {t} WHERE {types} AND {t}.param = ? AND {test}")
        return f"{rid} IN ({' UNION ALL '.join(selects)})"

    def _composite(self, f: IndexFilter, match: CompositeMatch, args: Args) -> str:
        """Every component on rows of the same element: same rid and the same ``grp``."""
        aliases = [self.alias("c") for _ in match.parts]
        first = aliases[0]
        joins = [f"{match.parts[0].table} {first}"]
        for part, c in zip(match.parts[1:], aliases[1:], strict=True):
            joins.append(f"JOIN {part.table} {c} ON {c}.rid = {first}.rid AND {c}.grp = {first}.grp")
        tests = [self.in_list(f"{first}.res_type", f.types, args)]
        for part, c in zip(match.parts, aliases, strict=True):
            args.append(part.param)
            tests.append(f"{c}.param = ?")
            tests.append(self._match(part.match, c, args))
        return f"SELECT {first}.rid FROM {' '.join(joins)} WHERE {' AND '.join(tests)}"

    def _chain(self, f: ChainFilter, rid: str, args: Args) -> str:
        selects = []
        for target in f.targets:
            x, a = self.alias("x"), self.alias("a")
            types = self.in_list(f"{x}.res_type", f.types, args)
            args.extend((f.param, target.res_type, target.res_type))
            tests = [self.predicate(inner, f"{a}.rid", a, args) for inner in target.filters]
            selects.append(
                f"SELECT {x}.rid FROM idx_reference {x} "
                f"JOIN resource {a} ON {a}.res_type = {x}.target_type AND {a}.res_id = {x}.target_id "
                f"WHERE {types} AND {x}.param = ? AND {x}.target_type = ? AND {a}.res_type = ? "
                f"AND {a}.deleted = 0 AND {' AND '.join(tests)}"
            )
        return f"{rid} IN ({' UNION ALL '.join(selects)})"

    def _has(self, f: HasFilter, rid: str, args: Args) -> str:
        x, a = self.alias("x"), self.alias("a")
        args.extend((f.source_type, f.source_param))
        target_types = self.in_list(f"{x}.target_type", f.types, args)
        tests = [self.predicate(inner, f"{x}.rid", None, args) for inner in f.filters]
        return (
            f"{rid} IN (SELECT {a}.rid FROM idx_reference {x} "
            f"JOIN resource {a} ON {a}.res_type = {x}.target_type AND {a}.res_id = {x}.target_id "
            f"WHERE {x}.res_type = ? AND {x}.param = ? AND {target_types} AND {' AND '.join(tests)})"
        )

    def _list(self, f: ListFilter, rid: str, args: Args) -> str:
        lst, x, a = self.alias("l"), self.alias("x"), self.alias("a")
        ids = self.in_list(f"{lst}.res_id", f.list_ids, args)
        return (
            f"{rid} IN (SELECT {a}.rid FROM resource {lst} JOIN idx_reference {x} ON {x}.rid = {lst}.rid "
            f"JOIN resource {a} ON {a}.res_type = {x}.target_type AND {a}.res_id = {x}.target_id "
            f"WHERE {lst}.res_type = 'List' AND {ids} AND {lst}.deleted = 0 AND {x}.param = 'item')"
        )

    def _compartment(self, f: CompartmentFilter, rid: str, row: str | None, args: Args) -> str:
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
            tests.append(
                f"{rid} IN (SELECT {x}.rid FROM idx_reference {x} WHERE {x}.target_id = ? AND {x}.target_type = ? "
                f"AND ({' OR '.join(groups)}))"
            )
        if any(res_type == f.comp_type for res_type, _ in f.params_by_type):
            assert row is not None
            args.extend((f.comp_type, f.comp_id))
            tests.append(f"({row}.res_type = ? AND {row}.res_id = ?)")
        return "(" + " OR ".join(tests) + ")" if tests else "1 = 0"

    # -- values -------------------------------------------------------------------------------

    def _match(self, m: Match, t: str, args: Args) -> str:
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
        if isinstance(m, UriMatch):
            if m.mode == "below":
                return self._prefix(f"{t}.uri", m.uri, args)
            if m.mode == "above":
                return self.in_list(f"{t}.uri", uri_prefixes(m.uri), args)
            args.append(m.uri)
            return f"{t}.uri = ?"
        raise TypeError(f"no SQL for {m!r}")

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
                if "(" not in column:
                    column = f"s.{column}"
                aggregate = "max" if key.descending else "min"
                args.append(key.param)
                terms.append(
                    f"(SELECT {aggregate}({column}) FROM {key.table} s WHERE s.rid = r.rid AND s.param = ?) "
                    f"{direction} NULLS LAST"
                )
        terms.append("r.rid")
        return ", ".join(terms)


def _needs_row(f: Filter) -> bool:
    """Whether a filter reads the ``resource`` row itself (not only index rows by rid)."""
    if isinstance(f, (IdFilter, LastUpdatedFilter)):
        return True
    if isinstance(f, CompartmentFilter):
        return any(res_type == f.comp_type for res_type, _ in f.params_by_type)
    return False


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
