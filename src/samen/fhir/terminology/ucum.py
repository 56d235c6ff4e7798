"""The syntax of a UCUM expression (https://ucum.org/ucum, section "Syntax rules").

Checks the grammar only: terms joined by ``.`` and ``/``, parentheses, exponents, integer factors,
``{annotations}``, bracketed atoms such as ``[in_i]``, and the characters UCUM allows. Whether an
atom (``mg``, ``mm[Hg]``) is in the UCUM table is not checked: the node does not ship the table, so
``xyz`` passes while ``mg/`` and ``m g`` do not.
"""

from __future__ import annotations

import re

_UNIT = re.compile(r"(?:\[[!-Z\\^-~]+\]|[!#-'*,0-9:-<>-Z\\^-z|~])+")  # printable ASCII but "()+-./=[]{}
_EXPONENT = re.compile(r"^(?P<unit>.*?)(?P<exponent>[+-]?[0-9]+)$")
_ANNOTATION = re.compile(r"\{[!-z|~]*\}")  # printable ASCII except { and }
_DIGITS = re.compile(r"[0-9]+")  # ASCII: UCUM has no digits of other scripts
_TEN_POWER = ("10*", "10^")


class UcumSyntaxError(ValueError):
    pass


def ucum_problem(expression: str) -> str | None:
    """What is wrong with the syntax of ``expression``, or None when it parses."""
    if not expression:
        return "a UCUM unit cannot be empty"
    try:
        position = _term(expression, 1 if expression.startswith("/") else 0)
    except UcumSyntaxError as error:
        return f"'{expression}' is not valid UCUM syntax: {error}"
    if position != len(expression):
        unexpected = expression[position]
        return f"'{expression}' is not valid UCUM syntax: unexpected '{unexpected}' at position {position + 1}"
    return None


def _term(text: str, position: int) -> int:
    position = _component(text, position)
    while position < len(text) and text[position] in "./":
        position = _component(text, position + 1)
    return position


def _component(text: str, position: int) -> int:
    if position >= len(text):
        raise UcumSyntaxError("a unit is missing at the end")
    if text[position] == "(":
        position = _term(text, position + 1)
        if position >= len(text) or text[position] != ")":
            raise UcumSyntaxError("a '(' is not closed")
        return position + 1
    if text[position] == "{":
        return _annotation(text, position)
    if (digits := _DIGITS.match(text, position)) and not text.startswith(_TEN_POWER, position):
        return digits.end()  # an integer factor
    unit = _UNIT.match(text, position)
    if unit is None:
        raise UcumSyntaxError(f"unexpected '{text[position]}' at position {position + 1}")
    end = unit.end()
    if end < len(text) and text[end] in "+-":  # a signed exponent: s-1, m+2
        exponent = _DIGITS.match(text, end + 1)
        if exponent is None:
            raise UcumSyntaxError(f"a sign at position {end + 1} is not followed by an exponent")
        end = exponent.end()
    _check_unit(text[position:end])
    return _annotation(text, end) if end < len(text) and text[end] == "{" else end


def _check_unit(token: str) -> None:
    split = _EXPONENT.match(token)
    unit = split.group("unit") if split else token
    if not unit:
        raise UcumSyntaxError(f"'{token}' has an exponent without a unit")
    if unit[0].isdigit() and unit not in _TEN_POWER:
        raise UcumSyntaxError(f"a unit symbol cannot start with a digit ('{token}')")


def _annotation(text: str, position: int) -> int:
    annotation = _ANNOTATION.match(text, position)
    if annotation is None:
        raise UcumSyntaxError(f"the annotation at position {position + 1} is not closed or has a space")
    return annotation.end()
