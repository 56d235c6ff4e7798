"""The one place where search SQL differs between SQLite and PostgreSQL.

Everything else in the search SQL is written once, with ``?`` placeholders.

String prefix search (the default string match, uri ``:below``) is a range on the indexed column:
``prefix <= value < next(prefix)``, where ``next`` increments the last code point. Both engines
order these columns by code point (SQLite's BINARY collation; PostgreSQL's ``text_pattern_ops``
operators ``~>=~``/``~<~``, which the ``text_pattern_ops`` indexes of schema.py serve), so the
range holds exactly the values that start with the prefix. Unlike ``LIKE 'abc%'`` the range stays
an index range in a PostgreSQL generic (prepared) plan and in SQLite without ``case_sensitive_like``.
"""

from __future__ import annotations

from samen.store.schema import Dialect

_MAX_CODE_POINT = 0x10FFFF


def prefix_range(dialect: Dialect, column: str, upper: bool) -> str:
    """SQL for ``column`` starting with a prefix: two placeholders (prefix, upper bound), or one
    (prefix) when the prefix has no upper bound."""
    if dialect.name == "postgres":
        return f"{column} ~>=~ ? AND {column} ~<~ ?" if upper else f"{column} ~>=~ ?"
    return f"{column} >= ? AND {column} < ?" if upper else f"{column} >= ?"


def prefix_upper(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix`` (None: there is none)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates are no characters; skip past them
            code = 0xE000
        if code <= _MAX_CODE_POINT:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def like_escape(text: str) -> str:
    """``text`` as literal data inside a LIKE pattern written with ``ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


LIKE = "LIKE ? ESCAPE '\\'"


def measures_filters(dialect: Dialect) -> bool:
    """Whether to measure filters (bounded counts) to pick the one a search starts from.

    SQLite follows the SQL as written: the filter written as ``rid IN (...)`` is where it starts,
    and without ANALYZE statistics it cannot tell a rare code from a common one. PostgreSQL has
    statistics and reorders semi-joins itself; measuring there would only add round trips.
    """
    return dialect.name == "sqlite"  # the same on both engines: the backslash escapes % _ and itself
