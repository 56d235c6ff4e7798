"""The data holder's cache of consent answers: per whole question, short, and dropped on a change."""

from __future__ import annotations

import dataclasses
import math

import pytest

from samen.auth.consent import ConsentAnswer, ConsentQuestion
from samen.consent.answers import AnswerCache

QUESTION = ConsentQuestion("999911120", "20000001", "huisarts", "medicatiegegevens", "30000001", "apotheek",
                           "medication-transfer")
PERMIT = ConsentAnswer(True, "choice Consent/1: yes", "medicatiegegevens", "Consent/1", "https://registry")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_permit_is_kept_for_that_very_question_only() -> None:
    cache = AnswerCache(10, clock=Clock())
    cache.put(QUESTION, PERMIT, cache.generation())
    assert cache.get(QUESTION) == PERMIT
    for field in ("patient_bsn", "holder_ura", "holder_category", "data_category", "requester_ura",
                  "requester_category", "purpose"):
        other = dataclasses.replace(QUESTION, **{field: getattr(QUESTION, field) + "x"})
        assert cache.get(other) is None, field


def test_an_answer_lives_the_configured_time_and_a_change_drops_it() -> None:
    clock = Clock()
    cache = AnswerCache(10, clock=clock)
    cache.put(QUESTION, PERMIT, cache.generation())
    clock.now += 9.9
    assert cache.get(QUESTION) == PERMIT
    clock.now += 0.1
    assert cache.get(QUESTION) is None
    cache.put(QUESTION, PERMIT, cache.generation())
    assert cache.forget(QUESTION.patient_bsn) == 1 and cache.get(QUESTION) is None


def test_an_answer_asked_while_a_change_was_notified_is_not_kept() -> None:
    cache = AnswerCache(10, clock=Clock())
    asked_at = cache.generation()
    cache.forget("999911016")  # any person's change, while the question was on its way
    cache.put(QUESTION, PERMIT, asked_at)
    assert cache.get(QUESTION) is None


@pytest.mark.parametrize("ttl_s", [-1.0, math.nan, math.inf, 301.0])
def test_a_cache_time_that_is_not_short_is_refused(ttl_s: float) -> None:
    with pytest.raises(ValueError, match="consent cache"):
        AnswerCache(ttl_s)


class _Tokens:
    """A token client for a registry that takes any token (the registry here is a broken one)."""

    def token(self, request: object) -> str:
        return "token"

    def forget(self, request: object) -> None:
        pass


@pytest.mark.parametrize("body", [
    {"resourceType": "Parameters", "parameter": 5},
    {"resourceType": "Parameters", "parameter": [{"name": "decision", "valueCode": "permit"}, {"name": "rule"}]},
    {"resourceType": "Parameters", "parameter": [{"name": "decision", "valueCode": "permit"},
                                                 {"name": "rule", "valueString": "x"}, {"name": "consent",
                                                                                        "valueReference": 3}]},
    {"resourceType": "Parameters", "parameter": [{"name": "decision", "valueCode": "yes"},
                                                 {"name": "rule", "valueString": "x"}]},
    ["not", "parameters"],
])
def test_an_answer_the_holder_cannot_read_is_a_deny_and_not_kept(body: object) -> None:
    import httpx

    from samen.consent.holder import UNAVAILABLE, RegistryConsent

    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body)))
    consent = RegistryConsent("https://registry.test", _Tokens(), cache_s=10, http=http)  # type: ignore[arg-type]
    answer = consent.answer(QUESTION)
    assert not answer.permit and answer.rule == UNAVAILABLE
    assert consent.answers.get(QUESTION) is None


def test_an_answer_counts_only_under_the_shared_notice_it_was_asked_under() -> None:
    cache = AnswerCache(10, clock=Clock())
    cache.put(QUESTION, PERMIT, cache.generation(), notice=5)
    assert cache.get(QUESTION, 5) == PERMIT
    assert cache.get(QUESTION, 6) is None  # another worker recorded a change of this person's choices
    assert cache.get(QUESTION, 5) is None  # and the answer is gone
