"""The token modifiers that need terminology: ``:in``, ``:not-in``, ``:below`` and ``:above``.

Storage knows no code systems or value sets. The node hands the search an object with the
:class:`CodeSets` methods (its terminology service); a modifier becomes the list of ``system|code``
pairs it stands for, tested as exact matches on the token index. When the node cannot list those
codes (SNOMED CT descendants, an unknown value set) or they are more than :data:`MAX_CODES`, the
search is refused with a message saying why: a partial list would be a silently wrong answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from samen.fhir.outcome import FhirError
from samen.store.search import values as v
from samen.store.search.params import CodeSetMatch, SearchError

MODIFIERS = frozenset({"in", "not-in", "below", "above"})
MAX_CODES = 1000  # codes one parameter may stand for; each is a probe of the token index
Codings = frozenset[tuple[str, str]]  # (system, code) pairs


class CodeSets(Protocol):
    """The codes behind the terminology modifiers.

    Every method raises :class:`~samen.fhir.outcome.FhirError` whose message says why when the node
    cannot list the codes: an unknown value set, code system or code, a value set selecting codes
    of a system the node does not have, a code system it knows only in part.
    """

    def codes_in(self, value_set: str) -> Codings:
        """Every code of the value set with this canonical URL (``url|version`` allowed)."""
        ...

    def codes_below(self, system: str, code: str) -> Codings:
        """``code`` and every code it subsumes in ``system``."""
        ...

    def codes_above(self, system: str, code: str) -> Codings:
        """``code`` and every code that subsumes it in ``system``."""
        ...


def code_set_match(code_sets: CodeSets | None, name: str, raws: Sequence[str]) -> CodeSetMatch:
    """The codes of ``name`` (``code:in``, ``code:below``, ...) for the values ``raws`` (comma = OR) together.

    ``:not-in`` gives the codes of ``:in``; the caller negates the filter.
    """
    modifier = name.partition(":")[2]
    if code_sets is None:
        raise SearchError(f"The modifier ':{modifier}' (terminology) is not supported ('{name}')", code="not-supported")
    codings: set[tuple[str, str]] = set()
    for raw in raws:
        try:
            codings |= _codings(code_sets, name, modifier, raw)
        except FhirError as error:
            raise SearchError(
                f"'{name}={raw}' cannot be searched: {error.message}",
                code=error.issues[0].code,
            ) from error
    if len(codings) > MAX_CODES:
        raise SearchError(
            f"'{name}' stands for {len(codings)} codes, more than the {MAX_CODES} one search parameter may test",
            code="too-costly",
        )
    by_system: dict[str, list[str]] = {}
    for system, code in codings:
        by_system.setdefault(system, []).append(code)
    return CodeSetMatch(tuple((system, tuple(sorted(codes))) for system, codes in sorted(by_system.items())))


def _codings(code_sets: CodeSets, name: str, modifier: str, raw: str) -> Codings:
    if modifier in ("in", "not-in"):
        return code_sets.codes_in(v.unescape(raw))
    token = v.token_match(raw)
    if token.system is None or token.code is None:
        raise SearchError(f"'{name}={raw}': :{modifier} needs a value of the form system|code")
    if modifier == "below":
        return code_sets.codes_below(token.system, token.code)
    return code_sets.codes_above(token.system, token.code)
