"""The codes of a value set as sets with three-valued membership: in, not in, or undecided.

A value set built only from lists and complete code systems becomes one :class:`Enumerated`: a dict,
so a check is one lookup. Parts the node cannot list (all SNOMED CT descendants of X, a code system
it does not have) are :class:`Unlisted`: a code of another system is certainly not in them, a code
of their own system is undecided unless its syntax is already wrong. Unions, intersections and
exclusions of such parts follow Kleene's three-valued logic, so "undecided" never turns into a
false yes or no.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from samen.fhir.terminology.external import ExternalSystem


@dataclass(frozen=True)
class Entry:
    """One code of an expansion."""

    system: str
    code: str
    display: str | None = None
    version: str | None = None
    abstract: bool = False
    inactive: bool = False
    other_displays: tuple[str, ...] = ()  # designations: also acceptable as a display

    def to_json(self) -> dict[str, object]:
        entry: dict[str, object] = {"system": self.system}
        if self.version:
            entry["version"] = self.version
        entry["code"] = self.code
        if self.display:
            entry["display"] = self.display
        if self.abstract:
            entry["abstract"] = True
        if self.inactive:
            entry["inactive"] = True
        return entry


@dataclass(frozen=True)
class Answer:
    member: bool | None
    entry: Entry | None = None
    reason: str = ""  # why not, or why undecided


class Codes(Protocol):
    def find(self, system: str | None, code: str) -> Answer:
        """Whether ``system|code`` is in the set (``system`` None: a code of any system)."""
        ...

    def undecidable(self) -> list[str]:
        """Why the set cannot be listed; empty for an :class:`Enumerated` set."""
        ...


class Enumerated:
    """A listed set of codes; membership is a dict lookup."""

    def __init__(self, entries: Iterable[Entry], case_insensitive: frozenset[str] = frozenset()) -> None:
        self.case_insensitive = case_insensitive
        self._by_key: dict[tuple[str, str], Entry] = {}
        self._by_code: dict[str, Entry] = {}
        for entry in entries:
            self._by_key.setdefault(self._key(entry.system, entry.code), entry)
            self._by_code.setdefault(entry.code, entry)
        self.entries: tuple[Entry, ...] = tuple(self._by_key.values())

    def _key(self, system: str, code: str) -> tuple[str, str]:
        return system, code.lower() if system in self.case_insensitive else code

    def find(self, system: str | None, code: str) -> Answer:
        entry = self._by_code.get(code) if system is None else self._by_key.get(self._key(system, code))
        return Answer(entry is not None, entry)

    def undecidable(self) -> list[str]:
        return []

    def __contains__(self, key: tuple[str, str]) -> bool:
        return self._key(*key) in self._by_key


@dataclass(frozen=True)
class Unlisted:
    """Codes of one system (None: of any system) selected by a rule the node cannot evaluate."""

    system: str | None
    reason: str  # why the codes cannot be listed: "SNOMED CT (...) is not available on this node ..."
    syntax: ExternalSystem | None = None  # what the node does know about the system's codes

    def find(self, system: str | None, code: str) -> Answer:
        if system is not None and self.system is not None and system != self.system:
            return Answer(False)
        if self.syntax is None:
            return Answer(None, reason=f"{self.reason}; the code could not be checked")
        if (problem := self.syntax.check(code)) is not None:
            return Answer(False, reason=problem)
        return Answer(None, reason=f"{self.reason}; only the syntax of the code was checked ({self.syntax.rule})")

    def undecidable(self) -> list[str]:
        return [self.reason]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Codes, ...]

    def find(self, system: str | None, code: str) -> Answer:
        answers = [part.find(system, code) for part in self.parts]
        found = next((a for a in answers if a.member), None)
        return found or _undecided(answers) or Answer(False, reason=_first_reason(answers))

    def undecidable(self) -> list[str]:
        return [reason for part in self.parts for reason in part.undecidable()]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Codes, ...]

    def find(self, system: str | None, code: str) -> Answer:
        answers = [part.find(system, code) for part in self.parts]
        refused = next((a for a in answers if a.member is False), None)
        if refused is not None:
            return refused
        return _undecided(answers) or answers[0]

    def undecidable(self) -> list[str]:
        return [reason for part in self.parts for reason in part.undecidable()]


@dataclass(frozen=True)
class Without:
    base: Codes
    removed: Codes

    def find(self, system: str | None, code: str) -> Answer:
        answer = self.base.find(system, code)
        if answer.member is False:
            return answer
        removed = self.removed.find(system, code)
        if removed.member:
            return Answer(False, reason="the value set excludes it")
        if removed.member is None:
            return Answer(None, reason=removed.reason)
        return answer

    def undecidable(self) -> list[str]:
        return self.base.undecidable() + self.removed.undecidable()


EMPTY = Enumerated(())


def any_of(parts: Sequence[Codes]) -> Codes:
    """The union, listed when every part is listed."""
    if all(isinstance(part, Enumerated) for part in parts):
        return _merged([part for part in parts if isinstance(part, Enumerated)], lambda entry: True)
    return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))


def all_of(parts: Sequence[Codes]) -> Codes:
    """The intersection, listed when every part is listed."""
    if len(parts) == 1:
        return parts[0]
    listed = [part for part in parts if isinstance(part, Enumerated)]
    if len(listed) == len(parts):
        first, others = listed[0], listed[1:]
        return _merged([first], lambda entry: all((entry.system, entry.code) in other for other in others))
    return AllOf(tuple(parts))


def without(base: Codes, removed: Codes) -> Codes:
    """``base`` minus ``removed``, listed when both are listed."""
    if isinstance(removed, Enumerated) and not removed.entries:
        return base
    if isinstance(base, Enumerated) and isinstance(removed, Enumerated):
        return _merged([base], lambda entry: (entry.system, entry.code) not in removed)
    return Without(base, removed)


def _merged(sets: list[Enumerated], keep: Callable[[Entry], bool]) -> Enumerated:
    insensitive = frozenset().union(*(s.case_insensitive for s in sets)) if sets else frozenset()
    return Enumerated((entry for s in sets for entry in s.entries if keep(entry)), insensitive)


def _undecided(answers: list[Answer]) -> Answer | None:
    return next((a for a in answers if a.member is None), None)


def _first_reason(answers: list[Answer]) -> str:
    return next((a.reason for a in answers if a.reason), "")
