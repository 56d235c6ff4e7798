"""Check-digit algorithms of the code systems the node knows by syntax only.

Each function takes the full code (check digit last) as a string of digits and says whether the check
digit is right.
"""

from __future__ import annotations

# Verhoeff's dihedral-group tables (multiplication, permutation).
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_ok(digits: str) -> bool:
    """Verhoeff's check (SNOMED CT identifiers)."""
    check = 0
    for position, digit in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


def luhn_ok(digits: str) -> bool:
    """The mod-10 (Luhn) check: every second digit from the right doubled (LOINC codes)."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def gs1_ok(digits: str) -> bool:
    """The GS1 mod-10 check: weights 3 and 1 alternating from the right of the data digits (GTIN)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


def modulus11_ok(digits: str) -> bool:
    """Modulus 11 with weights 2, 3, 4, ... from the right of the data digits; the check digit is
    ``11 - sum % 11`` (11 gives 0, 10 is never issued). The G-Standaard codes (GPK, HPK, PRK, ZI)."""
    total = sum(int(d) * weight for weight, d in enumerate(reversed(digits[:-1]), start=2))
    check = 11 - total % 11
    return check != 10 and check % 11 == int(digits[-1])
