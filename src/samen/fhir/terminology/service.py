"""The terminology service of a node: lookup, code validation and expansion over the registry.

Code systems and value sets come from the node's :class:`~samen.fhir.conformance.Conformance`
registry (the R4 core with the v2/v3 tables, plus loaded packages such as the Nictiz terminology).
Both are immutable while the node runs, so each code system index and each value set's set of codes
is built once, on first use, and shared by all threads: a second check against the same value set
is a dict lookup. Create the service after the packages are loaded.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from samen.fhir.conformance import Conformance
from samen.fhir.outcome import FhirError, not_found
from samen.fhir.terminology.codesystems import CodeSystemIndex, Concept
from samen.fhir.terminology.expansion import Composer
from samen.fhir.terminology.external import external_system
from samen.fhir.terminology.implicit import implicit_value_set
from samen.fhir.terminology.membership import Answer, Codes, Entry, Enumerated, Unlisted
from samen.fhir.terminology.results import CodeResult, Lookup

Coding = tuple[str | None, str, str | None]  # system, code, display
LARGEST_EXPANSION = 10_000  # codes in one $expand answer without an explicit count
_CODE_SYSTEM_KEY = "CodeSystem "  # cache key prefix of "all codes of a code system"
_WORD = re.compile(r"[^\w]+")


class Terminology:
    """Satisfies :class:`samen.fhir.validation.bindings.CodeValidator` and, for the token search
    modifiers, :class:`samen.store.search.codesets.CodeSets`; thread-safe."""

    def __init__(self, conformance: Conformance) -> None:
        self.conformance = conformance
        self._indexes: dict[str, CodeSystemIndex | None] = {}
        self._codes: dict[str, Codes] = {}
        self._value_set_ids: dict[str, str] | None = None
        self._lock = threading.Lock()

    # -- validation -------------------------------------------------------------------------

    def validate_code(
        self,
        value_set: str | dict[str, Any],
        system: str | None,
        code: str,
        display: str | None = None,
        *,
        abstract: bool = False,
    ) -> CodeResult:
        """Whether ``system|code`` is in ``value_set`` (``valid`` None: the node cannot decide, and says why).

        ``value_set`` is a canonical URL (``url|version``) or a ValueSet resource given inline (not cached).
        ``abstract`` allows codes that are only groupers (v3 ``notSelectable``), as ``$validate-code`` does.
        """
        return self.validate_codings(value_set, [(system, code, display)], abstract=abstract)

    def validate_codings(
        self, value_set: str | dict[str, Any], codings: Sequence[Coding], *, abstract: bool = False
    ) -> CodeResult:
        """A CodeableConcept's codings (system, code, display): valid when one of them is in the value set,
        undecided when none is and one cannot be decided."""
        if isinstance(value_set, str):
            codes, where = self._value_set_codes(value_set), f"the value set {value_set}"
        else:
            codes, where = self._compose(value_set), f"the value set {_name(value_set)}"
        return _best([_verdict(codes.find(s, c), where, s, c, d, abstract) for s, c, d in codings])

    def validate_in_code_system(self, system: str, codings: Sequence[Coding]) -> CodeResult:
        """Whether one of ``codings`` is a code of ``system`` (``CodeSystem/$validate-code``); codings
        without a system are taken to be of ``system``, codings of other systems do not count."""
        key = _CODE_SYSTEM_KEY + system
        codes = self._codes.get(key)
        if codes is None:
            codes = self._remember(key, self._compose({"compose": {"include": [{"system": system}]}}))
        where = f"the code system {system}"
        own = [(code, display) for coding_system, code, display in codings if coding_system in (None, system)]
        if not own:
            return CodeResult(False, f"None of the codings is of {where}")
        return _best([_verdict(codes.find(system, code), where, system, code, display, True) for code, display in own])

    # -- lookup -----------------------------------------------------------------------------

    def lookup(self, system: str, code: str, version: str | None = None) -> Lookup:
        """The concept ``system|code``; FhirError 404 when unknown, 422 when the system is not available."""
        index = self.code_system(system)
        concept = index.find(code) if index is not None else None
        if index is None or concept is None:
            raise self._not_found(system, code, index)
        if version and index.version and version != index.version:
            raise not_found(f"Version {version} of the code system {system} is not known (here: {index.version})")
        hierarchy = [{"code": "parent", "valueCode": p} for p in index.parents.get(concept.code, ())]
        hierarchy += [{"code": "child", "valueCode": c} for c in index.children.get(concept.code, ())]
        return Lookup(
            system=system,
            name=index.name,
            version=index.version,
            code=concept.code,
            display=concept.display,
            definition=concept.definition,
            designations=concept.designations,
            properties=concept.properties + tuple(hierarchy),
            abstract=concept.abstract,
            inactive=concept.inactive,
        )

    def _not_found(self, system: str, code: str, index: CodeSystemIndex | None) -> FhirError:
        syntax = external_system(system)
        if syntax is not None and (index is None or not index.complete):
            problem = syntax.check(code)
            if problem is not None:
                return not_found(problem)
            return FhirError(
                422,
                f"{syntax.name} ({system}) is not available on this node: '{code}' is well-formed "
                f"({syntax.rule}), but it cannot be looked up",
                "not-supported",
            )
        if index is None:
            return not_found(f"The code system {system} is not known to this node")
        partly = "" if index.complete else f" (the node knows this system only partly: content '{index.content}')"
        return not_found(f"The code '{code}' is not in the code system {system}{partly}")

    # -- expansion --------------------------------------------------------------------------

    def expand(
        self,
        value_set: str | dict[str, Any],
        filter: str | None = None,
        count: int | None = None,
        offset: int | None = None,
    ) -> dict[str, Any]:
        """The ValueSet with an ``expansion``: codes matching ``filter`` (word prefixes), paged.

        FhirError 404 for an unknown value set; 422 (not-supported) when it selects codes the node
        cannot list, such as SNOMED CT descendants; 422 (too-costly) above :data:`LARGEST_EXPANSION`
        codes without ``count``.
        """
        definition, codes = self._listed(value_set)
        terms = list(dict.fromkeys(term for term in _WORD.split(filter.casefold()) if term)) if filter else []
        entries = [e for e in codes.entries if _matches(e, terms)] if terms else list(codes.entries)
        start = offset or 0
        if count is None and len(entries) - start > LARGEST_EXPANSION:
            raise FhirError(
                422,
                f"The expansion has {len(entries)} codes, more than {LARGEST_EXPANSION}: ask for a page with 'count'",
                "too-costly",
            )
        page = entries[start:] if count is None else entries[start : start + count]
        return _expanded(definition, page, len(entries), start, filter, count)

    # -- code sets for search (samen.store.search.codesets.CodeSets) --------------------------

    def codes_in(self, value_set: str) -> frozenset[tuple[str, str]]:
        """Every (system, code) of the value set ``value_set`` (a canonical URL), for ``:in``.

        FhirError as :meth:`expand` raises it when the value set is unknown or cannot be listed.
        """
        _, codes = self._listed(value_set)
        return frozenset((entry.system, entry.code) for entry in codes.entries)

    def codes_below(self, system: str, code: str) -> frozenset[tuple[str, str]]:
        """``code`` and its descendants in ``system``, for ``:below``; FhirError when the node cannot tell."""
        index, concept = self._hierarchy(system, code, "below")
        return frozenset((system, c) for c in (concept.code, *index.descendants(concept.code)))

    def codes_above(self, system: str, code: str) -> frozenset[tuple[str, str]]:
        """``code`` and its ancestors in ``system``, for ``:above``; FhirError when the node cannot tell."""
        index, concept = self._hierarchy(system, code, "above")
        return frozenset((system, c) for c in (concept.code, *index.ancestors(concept.code)))

    def _hierarchy(self, system: str, code: str, direction: str) -> tuple[CodeSystemIndex, Concept]:
        """The index and concept to follow the hierarchy from: only a complete code system has all of it."""
        index = self.code_system(system)
        concept = index.find(code) if index is not None else None
        if index is None or concept is None:
            raise self._not_found(system, code, index)
        if not index.complete:
            raise FhirError(
                422,
                f"The code system {system} is only partly known here (content '{index.content}'): "
                f"the codes {direction} '{code}' cannot all be listed",
                "not-supported",
            )
        return index, concept

    # -- registry ---------------------------------------------------------------------------

    def value_set(self, url: str) -> dict[str, Any] | None:
        """The ValueSet with this canonical URL (``url|version``), or the implicit one it stands for."""
        return self.conformance.value_set(url) or implicit_value_set(url)

    def value_set_by_id(self, resource_id: str) -> dict[str, Any] | None:
        """The ValueSet with this logical id among the registry's (packages first, then the core)."""
        if self._value_set_ids is None:
            ids = {url.rsplit("/", 1)[1]: url for url in self.conformance.core_urls() if "/ValueSet/" in url}
            for resource in self.conformance.local_resources("ValueSet"):
                if isinstance(resource.get("id"), str):
                    ids[resource["id"]] = resource["url"]
            self._value_set_ids = ids
        url = self._value_set_ids.get(resource_id)
        return self.value_set(url) if url is not None else None

    def code_system(self, url: str) -> CodeSystemIndex | None:
        """The index of the CodeSystem with this canonical URL, built on first use."""
        if url in self._indexes:
            return self._indexes[url]
        resource = self.conformance.code_system(url)
        index = CodeSystemIndex(resource) if resource is not None else None
        with self._lock:
            return self._indexes.setdefault(url, index)

    # -- internals --------------------------------------------------------------------------

    def _listed(self, value_set: str | dict[str, Any]) -> tuple[dict[str, Any], Enumerated]:
        """The ValueSet and all its codes; FhirError 404 when unknown, 422 when the node cannot list them."""
        if isinstance(value_set, str):
            definition = self.value_set(value_set)
            if definition is None:
                raise not_found(f"The value set {value_set} is not known to this node")
            codes = self._value_set_codes(value_set)
        else:
            definition, codes = value_set, self._compose(value_set)
        if not isinstance(codes, Enumerated):
            reasons = "; ".join(dict.fromkeys(codes.undecidable()))
            raise FhirError(422, f"The value set {_name(definition)} cannot be expanded: {reasons}", "not-supported")
        return definition, codes

    def _value_set_codes(self, url: str, importing: tuple[str, ...] = ()) -> Codes:
        codes = self._codes.get(url)
        if codes is not None:
            return codes
        if url in importing:
            return Unlisted(None, f"the value set {url} imports itself ({' -> '.join((*importing, url))})")
        definition = self.value_set(url)
        if definition is None:
            return self._remember(url, Unlisted(None, f"the value set {url} is not known to this node"))
        return self._remember(url, self._compose(definition, (*importing, url)))

    def _compose(self, definition: dict[str, Any], importing: tuple[str, ...] = ()) -> Codes:
        """The codes of a ValueSet; undecided, saying so, when its JSON does not have the shapes of one
        (an inline value set, or one of a package, that the node did not validate)."""
        composer = Composer(self.code_system, lambda imported: self._value_set_codes(imported, importing))
        try:
            return composer.codes(definition)
        except (AttributeError, TypeError, KeyError) as error:
            return Unlisted(None, f"the value set {_name(definition)} is malformed: an element has the wrong "
                                  f"JSON type or lacks a property ({type(error).__name__}: {error})")

    def _remember(self, key: str, codes: Codes) -> Codes:
        with self._lock:
            return self._codes.setdefault(key, codes)


def _name(value_set: dict[str, Any]) -> str:
    url = value_set.get("url")
    return url if isinstance(url, str) and url else "(given inline)"


def _verdict(
    answer: Answer, where: str, system: str | None, code: str, display: str | None, abstract: bool
) -> CodeResult:
    label = f"{system}|{code}" if system else code
    entry = answer.entry
    if answer.member is None:
        return CodeResult(None, f"The code '{label}' could not be checked against {where}: {answer.reason}")
    if not answer.member or entry is None:
        because = f": {answer.reason}" if answer.reason else ""
        return CodeResult(False, f"The code '{label}' is not in {where}{because}")
    if entry.abstract and not abstract:
        return CodeResult(False, f"The code '{label}' is abstract (a grouper) and cannot be used", entry.display)
    warnings = []
    if display is not None and not _display_matches(entry, display):
        shown = f"'{entry.display}'" if entry.display else "none"
        warnings.append(f"the display '{display}' is not a display of '{label}' (the code system's display is {shown})")
    if entry.inactive:
        warnings.append(f"the code '{label}' is inactive")
    message = "; ".join(warnings)
    return CodeResult(True, message[:1].upper() + message[1:], entry.display)


def _best(results: list[CodeResult]) -> CodeResult:
    for wanted in (True, None):
        found = next((result for result in results if result.valid is wanted), None)
        if found is not None:
            return found
    return CodeResult(False, "; ".join(result.message for result in results))


def _display_matches(entry: Entry, display: str) -> bool:
    wanted = " ".join(display.split()).casefold()
    return any(" ".join(d.split()).casefold() == wanted for d in (entry.display or "", *entry.other_displays))


def _matches(entry: Entry, terms: list[str]) -> bool:
    """Every term (a word of the filter, casefolded) starts a word of the display, or the code."""
    words = [*_WORD.split((entry.display or "").casefold()), entry.code.casefold()]
    return all(any(word.startswith(term) for word in words) for term in terms)


def _expanded(
    definition: dict[str, Any], page: list[Entry], total: int, offset: int, filter: str | None, count: int | None
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": "offset", "valueInteger": offset}]
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    if filter:
        parameters.append({"name": "filter", "valueString": filter})
    result = {key: value for key, value in definition.items() if key not in ("text", "expansion")}
    result["expansion"] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "total": total,
        "offset": offset,
        "parameter": parameters,
        "contains": [entry.to_json() for entry in page],
    }
    if not page:
        del result["expansion"]["contains"]
    return result
