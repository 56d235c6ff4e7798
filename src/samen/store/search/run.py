"""Running a compiled search: one page of matches in a total order, the total, and the includes.

Paging is by offset over a total order (the sort keys, then ``rid``), so walking the pages of an
unchanged result set returns every match exactly once. A page asks for one row more than it shows,
to know whether there is a next page without counting.

Total (``_total``): ``accurate`` and ``estimate`` count exactly; ``none`` counts nothing. Without
``_total`` the count stops at :data:`TOTAL_CAP`: up to there the total is exact, beyond it left out
(a bounded cost for broad searches such as ``Observation?code=...``; ask ``_total=accurate`` for
it). No count runs when the page itself tells: a page that is not full ends the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from samen.fhir.model import Model
from samen.store.db import IN, Conn
from samen.store.search.compile import ROW_COLUMNS, ROW_FROM, Compiled, compile_query
from samen.store.search import dialect as d
from samen.store.search.params import TOTAL_CAP, Include, SearchQuery

MAX_INCLUDE_ROUNDS = 8  # :iterate stops after this many rounds
MAX_INCLUDED = 5000  # and when this many resources were included


@dataclass(slots=True)
class Row:
    rid: int
    res_type: str
    res_id: str
    version: int
    updated_ms: int
    content: bytes  # the stored JSON of the current version


@dataclass
class SearchResult:
    matches: list[Row]
    included: list[Row]
    total: int | None
    offset: int
    count: int  # the page size asked for (next page: offset + count)
    has_more: bool
    warnings: list[str] = field(default_factory=list)


def run_search(conn: Conn, model: Model, query: SearchQuery) -> SearchResult:
    conn.plan_each_statement()
    probe = _probe(conn) if d.measures_filters(conn.dialect) else None
    compiled = compile_query(conn.dialect, query, model.resource_types, probe)
    warnings = list(query.warnings)
    if query.count_only or query.count == 0:
        sql, args = compiled.count()
        total = conn.execute(sql, args)[0][0]
        return SearchResult([], [], total, query.offset, query.count, False, warnings)

    rids, has_more, total = _page(conn, compiled, query)
    matches = fetch_rows(conn, rids)
    included = _includes(conn, query.includes, matches, warnings) if query.includes and matches else []
    return SearchResult(matches, included, total, query.offset, query.count, has_more, warnings)


def _page(conn: Conn, compiled: Compiled, query: SearchQuery) -> tuple[list[int], bool, int | None]:
    """The rids of the page, whether more follow, and the total (None: not counted).

    When a total is wanted and the page lies within the first TOTAL_CAP matches, one query reads
    the rids of up to TOTAL_CAP + 1 matches: the page is a slice and the total their number, so a
    search of a few hundred matches is evaluated once, not once for the page and once to count.
    """
    count, offset = query.count, query.offset
    if query.total != "none" and offset + count <= TOTAL_CAP:
        sql, args = compiled.page(TOTAL_CAP + 1, 0)
        every = [row[0] for row in conn.execute(sql, args)]
        rids = every[offset : offset + count]
        has_more = len(every) > offset + count
        if len(every) <= TOTAL_CAP:
            return rids, has_more, len(every)
        if query.total is None:
            return rids, has_more, None
        sql, args = compiled.count()
        return rids, has_more, conn.execute(sql, args)[0][0]

    sql, args = compiled.page(count + 1, offset)
    rids = [row[0] for row in conn.execute(sql, args)]
    has_more = len(rids) > count
    del rids[count:]
    total: int | None = None
    if query.total != "none":
        if not has_more and (rids or offset == 0):
            total = offset + len(rids)
        elif query.total is None:
            sql, args = compiled.count(TOTAL_CAP + 1)
            counted = conn.execute(sql, args)[0][0]
            total = counted if counted <= TOTAL_CAP else None
        else:
            sql, args = compiled.count()
            total = conn.execute(sql, args)[0][0]
    return rids, has_more, total


def _probe(conn: Conn):  # -> Probe
    def probe(sql: str, args: list) -> int:
        return conn.execute(sql, args)[0][0]

    return probe


def fetch_rows(conn: Conn, rids: Sequence[int]) -> list[Row]:
    """The current versions of ``rids`` (those not deleted), in the order of ``rids``."""
    sql = f"SELECT {ROW_COLUMNS} FROM {ROW_FROM} WHERE r.deleted = 0 AND r.rid {IN}"
    found = {
        rid: Row(rid, res_type, res_id, version, updated_ms, content)
        for rid, res_type, res_id, version, updated_ms, content in conn.execute_in(sql, [], rids)
    }
    return [found[rid] for rid in rids if rid in found]


# -- _include / _revinclude ----------------------------------------------------------------------


def _includes(conn: Conn, includes: list[Include], matches: list[Row], warnings: list[str]) -> list[Row]:
    """Resources the matches refer to (``_include``) or that refer to them (``_revinclude``).

    Every include applies to the matches; ``:iterate`` ones then apply again to what was just
    included, until nothing new comes (or the bounds above are reached).
    """
    seen = {row.rid for row in matches}
    included: list[Row] = []
    frontier = matches
    active = includes
    for _ in range(MAX_INCLUDE_ROUNDS):
        new_rids: list[int] = []
        for include in active:
            for rid in _follow(conn, include, frontier):
                if rid not in seen:
                    seen.add(rid)
                    new_rids.append(rid)
        if not new_rids:
            return included
        if len(included) + len(new_rids) > MAX_INCLUDED:
            new_rids = new_rids[: MAX_INCLUDED - len(included)]
            warnings.append(f"More than {MAX_INCLUDED} resources to include: the rest left out")
            included.extend(fetch_rows(conn, new_rids))
            return included
        frontier = fetch_rows(conn, new_rids)
        included.extend(frontier)
        active = [include for include in includes if include.iterate]
        if not active:
            return included
    warnings.append(f"_include:iterate stopped after {MAX_INCLUDE_ROUNDS} rounds")
    return included


def _follow(conn: Conn, include: Include, rows: list[Row]) -> Iterable[int]:
    if include.reverse:
        return _referring(conn, include, rows)
    return _referred(conn, include, rows)


def _referred(conn: Conn, include: Include, rows: list[Row]) -> list[int]:
    """``_include``: the resources that ``rows`` (of the include's source type) refer to."""
    sources = [row.rid for row in rows if include.source_type in (None, row.res_type)]
    conditions, args = _reference_conditions(include, "x.target_type", include.target_type)
    sql = (
        "SELECT DISTINCT a.rid FROM idx_reference x "
        "JOIN resource a ON a.res_type = x.target_type AND a.res_id = x.target_id "
        f"WHERE a.deleted = 0{conditions} AND x.rid {IN}"
    )
    return [rid for (rid,) in conn.execute_in(sql, args, sources)]


def _referring(conn: Conn, include: Include, rows: list[Row]) -> list[int]:
    """``_revinclude``: the resources (of the include's source type) that refer to ``rows``."""
    by_type: dict[str, list[str]] = {}
    for row in rows:
        if include.target_type in (None, row.res_type):
            by_type.setdefault(row.res_type, []).append(row.res_id)
    found: list[int] = []
    for res_type, ids in by_type.items():
        conditions, args = _reference_conditions(include, "x.res_type", include.source_type)
        sql = f"SELECT DISTINCT x.rid FROM idx_reference x WHERE x.target_type = ?{conditions} AND x.target_id {IN}"
        found.extend(rid for (rid,) in conn.execute_in(sql, [res_type, *args], ids))
    return found


def _reference_conditions(include: Include, type_column: str, res_type: str | None) -> tuple[str, list]:
    """The optional ``param`` and type tests of an include, as SQL and arguments."""
    sql, args = "", []
    if include.param is not None:
        sql += " AND x.param = ?"
        args.append(include.param)
    if res_type is not None:
        sql += f" AND {type_column} = ?"
        args.append(res_type)
    return sql, args
