"""The data holder's short memory of consent answers: reused for a configured time, dropped on a change.

An answer is kept per closed question for ``ttl_s`` seconds at most; a change notification for a
person drops all of that person's answers at once. A question asked while a notification arrives
must not put the answer from before the change back: every notification advances a generation,
and an answer is kept only when the generation did not move while it was being asked (one counter
for everyone: an answer asked during some notification is simply not kept). A notification reaches
one worker process: each answer also carries the person's last notice shared by all workers
(:mod:`samen.consent.notices`) as read before asking, and counts only while that notice is unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from samen.auth.consent import ConsentAnswer, ConsentQuestion

MAX_ANSWERS = 50_000
MAX_TTL_S = 300.0  # "short": the bound of samen serve --consent-cache


class AnswerCache:
    """Thread-safe; ``ttl_s`` 0 keeps nothing."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= ttl_s <= MAX_TTL_S:  # also NaN, which would never expire
            raise ValueError(f"The consent cache time must be 0 to {MAX_TTL_S:g} seconds, not {ttl_s}")
        self.ttl_s = ttl_s
        self.clock = clock
        # question -> (answer, valid until, the person's shared notice when it was asked)
        self._answers: dict[ConsentQuestion, tuple[ConsentAnswer, float, int]] = {}
        self._generation = 0  # changes notified so far
        self._lock = threading.Lock()

    def get(self, question: ConsentQuestion, notice: int = 0) -> ConsentAnswer | None:
        """The kept answer, if it is still alive and was asked under the person's current shared ``notice``."""
        with self._lock:
            kept = self._answers.get(question)
            if kept is None:
                return None
            if self.clock() >= kept[1] or kept[2] != notice:
                del self._answers[question]
                return None
            return kept[0]

    def generation(self) -> int:
        """Take this before asking; hand it to :meth:`put` with the answer."""
        with self._lock:
            return self._generation

    def put(self, question: ConsentQuestion, answer: ConsentAnswer, generation: int, notice: int = 0) -> None:
        """Keep ``answer`` unless a change was notified since ``generation`` was taken; ``notice``: the
        person's shared notice read before asking."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            if self._generation != generation:
                return
            if len(self._answers) >= MAX_ANSWERS:
                now = self.clock()
                self._answers = {q: kept for q, kept in self._answers.items() if kept[1] > now}
                if len(self._answers) >= MAX_ANSWERS:
                    self._answers.clear()
            self._answers[question] = (answer, self.clock() + self.ttl_s, notice)

    def forget(self, bsn: str) -> int:
        """Drop every answer about ``bsn``; how many were dropped."""
        with self._lock:
            self._generation += 1
            dropped = [question for question in self._answers if question.patient_bsn == bsn]
            for question in dropped:
                del self._answers[question]
            return len(dropped)
