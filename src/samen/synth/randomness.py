"""Deterministic randomness: one ``random.Random`` per (seed, stream, index), and weighted choice.

Deriving a generator from the index instead of drawing from one shared generator is what makes the
output independent of chunking and of the number of worker processes.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")

# Streams: independent sequences for the same index (a block, person, provider or household).
HOUSEHOLDS, CARE, PROVIDERS, RECORDS, ENROLMENT = 1, 2, 3, 4, 5
_INDEX_BITS = 44  # up to 17 trillion indices per stream


def derived_random(seed: int, stream: int, index: int) -> random.Random:
    """The generator for one block, person or provider; equal arguments give an equal sequence."""
    return random.Random((seed << (_INDEX_BITS + 8)) | (stream << _INDEX_BITS) | index)


class Weighted(Generic[T]):
    """Choice from fixed items with fixed weights in O(log n) (cumulative weights computed once)."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("items and weights must be non-empty and of equal length")
        self.items = tuple(items)
        self._cumulative = list(accumulate(weights))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect_right(self._cumulative, rng.random() * self._total)]
