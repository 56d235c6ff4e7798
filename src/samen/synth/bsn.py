"""Synthetic BSNs: unique per (seed, person), passing the elfproef, in the unissued 9 series.

A BSN is ``9`` + six digits that are a bijection of the person's index modulo a million + an eighth
digit + the check digit. Of the ten possible eighth digits at least nine give a check digit (the
weighted sum must leave a remainder below 10); the ``n``-th of those encodes the millions of the index.
So nine million people per seed get nine million different valid numbers. Real BSNs are not issued
with a leading 9 (the official test numbers, ``9999xxxxx``, are in that series too), and every
resource carries the synthetic tag besides.
"""

from __future__ import annotations

_MILLION = 1_000_000
MAX_PEOPLE = 9 * _MILLION
_STEP = 7_654_321  # coprime with 10: index -> (index * _STEP + offset) mod 10**6 is a bijection
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3)  # of digits 1-7; digit 8 weighs 2, the check digit -1


def synthetic_bsn(seed: int, index: int) -> str:
    """The BSN of person ``index`` in the population of ``seed`` (0 <= index < :data:`MAX_PEOPLE`)."""
    if not 0 <= index < MAX_PEOPLE:
        raise ValueError(f"person index must be below {MAX_PEOPLE}")
    millions, rest = divmod(index, _MILLION)
    first = f"9{(rest * _STEP + seed * 104_729) % _MILLION:06d}"
    partial = sum(int(digit) * weight for digit, weight in zip(first, _WEIGHTS))
    eighth = [d for d in range(10) if (partial + 2 * d) % 11 < 10][millions]
    return f"{first}{eighth}{(partial + 2 * eighth) % 11}"
