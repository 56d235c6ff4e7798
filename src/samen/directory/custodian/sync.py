"""Which registrations to add and take back, and sending them: the part the worker and reconcile share.

A :class:`Plan` compares what the store holds (the desired set of (BSN, category)) with the ledger,
within a scope: the (BSN, categories) that queued changes touched, or everything (reconcile).
:class:`Sender` carries a plan out: one batched call to the pseudonymiser and one transaction at the
index per :data:`CHUNK` registrations; registrations that went away are deleted by their List id.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from samen.directory.custodian import holdings, ledger
from samen.directory.custodian.holdings import ALL
from samen.directory.custodian.ledger import Entry, Registered
from samen.directory.custodian.outbox import Change
from samen.directory.localization_client import OBJECTED, LocalizationClient, LocalizationError, Registration
from samen.fhir.model import Model
from samen.store.db import Conn

CHUNK = 500  # registrations per pseudonymiser call and index transaction
Desired = dict[str, dict[str, str]]  # BSN -> category -> a patient id holding data of it
Scope = dict[str, frozenset[str] | None]  # BSN -> the categories to compare (None: all)
_NINE_DIGITS = re.compile(r"\b\d{9}\b")


@dataclass
class Plan:
    register: list[Entry] = field(default_factory=list)  # list_id still empty
    deregister: list[Entry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.register or self.deregister)


def for_changes(conn: Conn, model: Model, changes: Sequence[Change]) -> Plan:
    """The plan for queued changes: their patients' BSNs (now, and as registered before), their categories."""
    asked: dict[str, set[str]] = defaultdict(set)
    for change in changes:
        asked[change.patient_id].add(change.category)
    current = holdings.bsns(conn, asked)
    former = ledger.bsns_of_patients(conn, asked)
    scope: dict[str, set[str] | None] = {}
    for patient_id, codes in asked.items():
        for bsn in {current.get(patient_id), *former.get(patient_id, ())} - {None}:
            if ALL in codes or scope.get(bsn, set()) is None:
                scope[bsn] = None
            else:
                scope.setdefault(bsn, set()).update(codes)  # type: ignore[union-attr]
    if not scope:
        return Plan()
    patients = {patient_id: bsn for bsn, ids in holdings.patients_with(conn, scope).items() for patient_id in ids}
    wanted = None if any(codes is None for codes in scope.values()) else set().union(*scope.values())
    desired = _desired(holdings.held(conn, model, patients, wanted), patients)
    frozen = {bsn: None if codes is None else frozenset(codes) for bsn, codes in scope.items()}
    return compare(desired, ledger.entries(conn, scope), frozen)


def for_everything(conn: Conn, model: Model, *, full: bool = False) -> Plan:
    """The plan that brings the ledger in line with the whole store; ``full`` re-sends every registration."""
    patients = holdings.bsns(conn, None)
    desired = _desired(holdings.held(conn, model, None), patients)
    registered = ledger.entries(conn)
    plan = compare(desired, registered, {bsn: None for bsn in {*desired, *registered}})
    if full:
        plan.register = [Entry(bsn, code, patient_id, "") for bsn, codes in sorted(desired.items())
                         for code, patient_id in sorted(codes.items())]
    return plan


def compare(desired: Desired, registered: Registered, scope: Scope) -> Plan:
    plan = Plan()
    for bsn, codes in sorted(scope.items()):
        have, got = desired.get(bsn, {}), registered.get(bsn, {})
        for code in sorted(codes if codes is not None else {*have, *got}):
            if code in have and code not in got:
                plan.register.append(Entry(bsn, code, have[code], ""))
            elif code in got and code not in have:
                plan.deregister.append(got[code])
    return plan


def _desired(held: dict[str, set[str]], patients: dict[str, str]) -> Desired:
    desired: Desired = defaultdict(dict)
    for patient_id, codes in sorted(held.items()):
        bsn = patients.get(patient_id)
        if bsn is not None:
            for code in codes:
                desired[bsn].setdefault(code, patient_id)
    return desired


Recorder = Callable[[Sequence[Entry], Sequence[Entry]], None]  # (registered, deregistered): keep in the ledger


class Sender:
    """Carries plans out at one index for this custodian (its URA)."""

    def __init__(self, client: LocalizationClient, custodian_ura: str) -> None:
        self.client = client
        self.custodian_ura = custodian_ura

    def send(self, plan: Plan, record: Recorder) -> None:
        """Register and deregister; ``record`` is called after each part the index accepted.

        Raises :class:`LocalizationError` (what was accepted before is recorded already).
        """
        for start in range(0, len(plan.register), CHUNK):
            chunk = plan.register[start : start + CHUNK]
            tokens = self.client.pseudonymize([entry.bsn for entry in chunk])
            if len(tokens) != len(chunk):
                raise LocalizationError(502, f"the pseudonymiser answered {len(tokens)} tokens for {len(chunk)}")
            registrations = [Registration(token, entry.category, self.custodian_ura)
                             for token, entry in zip(tokens, chunk)]
            try:
                ids: Sequence[str | None] = self.client.register(registrations)
            except LocalizationError as error:
                if error.status != OBJECTED:
                    raise
                ids = self.client.register_each(registrations)  # the others in the chunk still count
            if len(ids) != len(chunk):
                raise LocalizationError(502, f"the index answered {len(ids)} registrations for {len(chunk)}")
            record([Entry(e.bsn, e.category, e.patient_id, list_id) for e, list_id in zip(chunk, ids)
                    if list_id is not None], ())
        for start in range(0, len(plan.deregister), CHUNK):
            chunk = plan.deregister[start : start + CHUNK]
            for entry in chunk:
                try:
                    self.client.delete(entry.list_id)
                except LocalizationError as error:
                    if error.status not in (404, 410):  # gone already: that is what was asked
                        raise
            record((), chunk)


def without_bsns(message: str) -> str:
    """An error message fit for logs and the status: nine-digit numbers (BSNs) masked."""
    return _NINE_DIGITS.sub("*********", message)

