"""Large code systems that no package carries, known to the node by the syntax of their codes only.

For these the node can say that a code is malformed (a wrong SNOMED CT check digit, a LOINC code
without its check digit, a G-Standaard number that fails modulus 11), never that a well-formed code
exists. Value sets that list their codes are still checked exactly; value sets that select codes by
rule ("all descendants of X") are answered with "undecided" and say why. docs/terminology.md has
the rules and where they come from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from samen.fhir.terminology.checkdigits import gs1_ok, luhn_ok, modulus11_ok, verhoeff_ok
from samen.fhir.terminology.ucum import ucum_problem

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
G_STANDAARD = "urn:oid:2.16.840.1.113883.2.4.4."
G_STANDAARD_THESAURUS = "urn:oid:2.16.840.1.113883.2.4.4.1.902."

Check = Callable[[str], str | None]  # the problem with a code's syntax, None when it looks right


@dataclass(frozen=True)
class ExternalSystem:
    name: str
    check: Check
    rule: str  # what the syntax check covers, for messages and docs


def external_system(url: str) -> ExternalSystem | None:
    """The syntax rules of the code system ``url``, if the node has any."""
    system = EXTERNAL_SYSTEMS.get(url)
    if system is None and url.startswith(G_STANDAARD_THESAURUS):
        return _G_STANDAARD_THESAURUS
    return system


# -- SNOMED CT ----------------------------------------------------------------------------------

_SCTID = re.compile(r"[1-9]\d{5,17}", re.ASCII)  # ASCII: digits of other scripts are no digits here
_CONCEPT_PARTITIONS = ("00", "10")  # short and long (extension namespace) concept identifiers
_EXPRESSION_TERM = re.compile(r"\|[^|]*\|")
_EXPRESSION_CHARS = frozenset(":=|{},+()<>")


def _snomed_problem(code: str) -> str | None:
    if _EXPRESSION_CHARS.intersection(code):
        ids = re.findall(r"\d+", _EXPRESSION_TERM.sub(" ", code), re.ASCII)
        if not ids:
            return f"'{code}' is neither a SNOMED CT concept id nor an expression of concept ids"
        return next((p for p in map(_sctid_problem, ids) if p is not None), None)
    return _sctid_problem(code)


def _sctid_problem(code: str) -> str | None:
    if not _SCTID.fullmatch(code):
        return f"'{code}' is not a SNOMED CT identifier (6 to 18 digits, not starting with 0)"
    if code[-3:-1] not in _CONCEPT_PARTITIONS:
        return f"'{code}' is a SNOMED CT description or relationship id (partition {code[-3:-1]}), not a concept id"
    if not verhoeff_ok(code):
        return f"'{code}' has a wrong SNOMED CT check digit (Verhoeff)"
    return None


# -- LOINC --------------------------------------------------------------------------------------

_LOINC_TERM = re.compile(r"(\d{1,7})-(\d)", re.ASCII)
_LOINC_PART = re.compile(r"L[APGL]\d{1,9}-\d", re.ASCII)  # parts, answers, groups, answer lists


def _loinc_problem(code: str) -> str | None:
    term = _LOINC_TERM.fullmatch(code)
    if term is not None:
        return None if luhn_ok(term.group(1) + term.group(2)) else f"'{code}' has a wrong LOINC check digit (mod 10)"
    if _LOINC_PART.fullmatch(code):
        return None
    return f"'{code}' is not a LOINC code (digits, a hyphen and a check digit, e.g. 8867-4; or LP/LA/LG/LL codes)"


# -- G-Standaard (Z-Index) ----------------------------------------------------------------------


def _g_standaard_number(name: str) -> Check:
    """GPK, HPK, PRK, ZI-nummer, SSK: 8 digits ("8(7+1)") with a modulus-11 check digit; leading
    zeros may be left out (``71587`` is GPK ``00071587``)."""

    def problem(code: str) -> str | None:
        if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 8):
            return f"'{code}' is not a G-Standaard {name} (at most 8 digits)"
        if not modulus11_ok(code.zfill(8)):
            return f"'{code}' has a wrong G-Standaard {name} check digit (modulus 11)"
        return None

    return problem


def _digits(name: str, longest: int) -> Check:
    def problem(code: str) -> str | None:
        if code.isascii() and code.isdigit() and len(code) <= longest:
            return None
        return f"'{code}' is not a {name} (at most {longest} digits)"

    return problem


def _pattern(name: str, pattern: str, example: str) -> Check:
    compiled = re.compile(pattern, re.ASCII)

    def problem(code: str) -> str | None:
        return None if compiled.fullmatch(code) else f"'{code}' is not a {name} code (e.g. {example})"

    return problem


def _gtin_problem(code: str) -> str | None:
    if not (code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14)):
        return f"'{code}' is not a GTIN (8, 12, 13 or 14 digits)"
    return None if gs1_ok(code) else f"'{code}' has a wrong GTIN check digit (GS1 mod 10)"


_G_STANDAARD_THESAURUS = ExternalSystem(
    "G-Standaard thesaurus", _digits("G-Standaard thesaurus item number", 6), "1 to 6 digits"
)
_G_NUMBER_RULE = "at most 8 digits, modulus-11 check digit"
_ICD_10 = ExternalSystem(
    "ICD-10", _pattern("ICD-10", r"[A-Z]\d\d(\.[0-9A-Z]{1,4})?", "J45.9"), "letter, two digits, optional .subcode"
)

EXTERNAL_SYSTEMS: dict[str, ExternalSystem] = {
    SNOMED: ExternalSystem(
        "SNOMED CT", _snomed_problem, "6-18 digits, concept partition, Verhoeff check digit; expressions per id"
    ),
    LOINC: ExternalSystem("LOINC", _loinc_problem, "NNNNN-C with mod-10 check digit; LP/LA/LG/LL codes by pattern"),
    UCUM: ExternalSystem("UCUM", ucum_problem, "UCUM grammar; atoms not checked against the UCUM table"),
    G_STANDAARD + "1": ExternalSystem("G-Standaard GPK", _g_standaard_number("GPK"), _G_NUMBER_RULE),
    G_STANDAARD + "7": ExternalSystem("G-Standaard HPK", _g_standaard_number("HPK"), _G_NUMBER_RULE),
    G_STANDAARD + "8": ExternalSystem("G-Standaard ZI-nummer", _g_standaard_number("ZI-nummer"), _G_NUMBER_RULE),
    G_STANDAARD + "10": ExternalSystem("G-Standaard PRK", _g_standaard_number("PRK"), _G_NUMBER_RULE),
    G_STANDAARD + "1.725": ExternalSystem("G-Standaard SSK", _g_standaard_number("SSK"), _G_NUMBER_RULE),
    G_STANDAARD + "1.750": ExternalSystem(
        "G-Standaard stofnaamcode (SNK)", _digits("G-Standaard stofnaamcode", 6), "1 to 6 digits"
    ),
    "https://www.gs1.org/gtin": ExternalSystem("GTIN", _gtin_problem, "8/12/13/14 digits, GS1 mod-10 check digit"),
    "http://www.whocc.no/atc": ExternalSystem(
        "ATC", _pattern("ATC", r"[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?", "N02BE01"), "one of the five ATC level patterns"
    ),
    "http://hl7.org/fhir/sid/icd-10": _ICD_10,
    "http://hl7.org/fhir/sid/icd-10-nl": _ICD_10,
    "urn:iso:std:iso:3166": ExternalSystem(
        "ISO 3166", _pattern("ISO 3166 country", r"[A-Z]{2}|[A-Z]{3}|\d{3}", "NL"), "alpha-2, alpha-3 or numeric-3"
    ),
    "urn:oid:1.0.639.1": ExternalSystem(
        "ISO 639-1", _pattern("ISO 639-1 language", r"[a-z]{2}", "nl"), "two lower-case letters"
    ),
    "urn:ietf:bcp:47": ExternalSystem(
        "BCP 47",
        _pattern("BCP 47 language tag", r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", "nl-NL"),
        "language tag: subtags of 1-8 letters or digits",
    ),
    "urn:ietf:bcp:13": ExternalSystem(
        "BCP 13",
        _pattern("media type", r"[a-z0-9][a-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(;.*)?", "application/pdf"),
        "type/subtype",
    ),
}
