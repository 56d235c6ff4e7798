"""The consent changes shared by a holder's workers: recorded once, seen by every RegistryConsent on the database."""

from __future__ import annotations

import time

import httpx
import pytest
from test_answers import PERMIT, QUESTION, _Tokens

from samen.consent import notices as notices_module
from samen.consent.holder import RegistryConsent
from samen.consent.notices import KEEP_MS, SharedNotices
from samen.fhir.model import Model
from samen.store.db import Database
from samen.store.store import Store


def _permitting(requests: list[object], during: object = None) -> httpx.Client:
    """A registry that permits everything, counting questions; ``during()`` runs while a question is answered."""

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if callable(during):
            during()
        return httpx.Response(200, json={"resourceType": "Parameters", "parameter": [
            {"name": "decision", "valueCode": "permit"}, {"name": "rule", "valueString": PERMIT.rule}]})

    return httpx.Client(transport=httpx.MockTransport(answer))


def _worker(store: Store, asked: list[object], during: object = None) -> RegistryConsent:
    return RegistryConsent("https://registry.test", _Tokens(), cache_s=60, notices=SharedNotices(store),  # type: ignore[arg-type]
                           http=_permitting(asked, during))


def test_a_change_recorded_by_one_worker_ends_the_kept_answers_of_another(database: Database, model: Model) -> None:
    store = Store(database, model)
    asked_first: list[object] = []
    asked_second: list[object] = []
    first, second = _worker(store, asked_first), _worker(store, asked_second)
    for _ in range(3):
        assert first.answer(QUESTION).permit and second.answer(QUESTION).permit
    assert (len(asked_first), len(asked_second)) == (1, 1)  # kept
    first.forget(QUESTION.patient_bsn)  # the registry's notification reached the first worker only
    assert second.answer(QUESTION).permit
    assert len(asked_second) == 2  # asked again
    second.answer(QUESTION)
    assert len(asked_second) == 2  # and kept again under the new notice
    first.forget("999911016")  # another person's change
    second.answer(QUESTION)
    assert len(asked_second) == 2  # left this person's kept answer alone


def test_an_answer_asked_while_another_worker_records_a_change_is_not_kept(database: Database, model: Model) -> None:
    store = Store(database, model)
    notices = SharedNotices(store)
    asked: list[object] = []
    racing = _worker(store, asked, during=lambda: notices.record(QUESTION.patient_bsn))
    racing.answer(QUESTION)
    racing.http = _permitting(asked)
    racing.answer(QUESTION)
    assert len(asked) == 2  # the first answer was asked before the change counted: not used again


def test_every_notice_changes_the_shared_mark_even_when_the_clock_stands_still(
        database: Database, model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    notices = SharedNotices(Store(database, model))
    assert notices.last(QUESTION.patient_bsn) == 0
    monkeypatch.setattr(notices_module, "now_ms", lambda: 1_000_000)
    marks = []
    for _ in range(3):
        notices.record(QUESTION.patient_bsn)
        marks.append(notices.last(QUESTION.patient_bsn))
    assert len(set(marks)) == 3


def test_old_notices_are_pruned_when_no_kept_answer_can_predate_them(database: Database, model: Model,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    notices = SharedNotices(Store(database, model))
    now = int(time.time() * 1000)
    monkeypatch.setattr(notices_module, "now_ms", lambda: now - KEEP_MS - 1)
    notices.record("999911016")
    monkeypatch.setattr(notices_module, "now_ms", lambda: now)
    notices.record(QUESTION.patient_bsn)
    assert notices.last("999911016") == 0 and notices.last(QUESTION.patient_bsn) == now
