"""What this node holds, read from its store: per patient the data categories of its compartment, and BSNs.

A resource counts for a patient when one of the Patient compartment's search parameters of its type
refers to that Patient (the index rows of the store, so only current, undeleted versions count); a
Patient resource counts for itself. Its category is :func:`~samen.directory.categories.category_of`.
Types that belong to one category only are answered from the reference index alone; types that can
belong to several (Observation: laboratory, vital signs, other) need the stored JSON.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import orjson

from samen.directory.categories import categories, category_of
from samen.fhir.model import Model
from samen.sample import BSN
from samen.store.db import IN, Conn
from samen.store.indexer import Indexer

ALL = "*"  # an outbox category meaning "every category of this patient" (a Patient was written or deleted)
NOT_REGISTERED = frozenset({"Logging"})  # the node's own audit trail is no care data of the patient
PATIENT = "Patient"

_BSNS = (
    "SELECT r.res_id, t.code FROM idx_token t JOIN resource r ON r.rid = t.rid "
    "WHERE t.res_type = 'Patient' AND t.param = 'identifier' AND t.system = ? AND t.code IS NOT NULL AND "
)


@cache
def categories_by_type() -> dict[str, frozenset[str]]:
    """Resource type -> the registered categories its resources can belong to."""
    found: dict[str, set[str]] = defaultdict(set)
    for concept in categories():
        if concept.code not in NOT_REGISTERED:
            for res_type in concept.resource_types:
                found[res_type].add(concept.code)
    return {res_type: frozenset(codes) for res_type, codes in found.items()}


def category(resource: dict[str, Any]) -> str | None:
    """The category this node registers ``resource`` under, or None."""
    code = category_of(resource)
    return None if code in NOT_REGISTERED else code


def patients_of(model: Model, indexer: Indexer, res_type: str, res_id: str, content: dict[str, Any]) -> set[str]:
    """The ids of this node's Patients in whose compartment ``content`` is."""
    if res_type == PATIENT:
        return {res_id}
    params = model.compartment_params(res_type)
    if not params:
        return set()
    return {target_id for param, _, target_type, target_id, _ in indexer.index(content).reference
            if target_type == PATIENT and target_id and param in params}


def held(conn: Conn, model: Model, patient_ids: Collection[str] | None,
         wanted: Collection[str] | None = None) -> dict[str, set[str]]:
    """Per patient (of ``patient_ids``; None: every patient) the categories (of ``wanted``; None: all) held."""
    found: dict[str, set[str]] = defaultdict(set)
    for patient_id, code in _holdings(conn, model, patient_ids, wanted):
        found[patient_id].add(code)
    return found


def _holdings(conn: Conn, model: Model, patient_ids: Collection[str] | None,
              wanted: Collection[str] | None) -> Iterator[tuple[str, str]]:
    ids = sorted(patient_ids) if patient_ids is not None else None
    if ids is not None and not ids:
        return
    for res_type, codes in sorted(categories_by_type().items()):
        if wanted is not None and not codes & set(wanted):
            continue
        if res_type == PATIENT:
            for (patient_id,) in _run(conn, "SELECT res_id FROM resource WHERE res_type = 'Patient' AND deleted = 0",
                                      (), "res_id", ids):
                yield patient_id, PATIENT
            continue
        params = model.compartment_params(res_type)
        if not params:
            continue
        marks = ", ".join("?" * len(params))
        where = f"i.res_type = ? AND i.target_type = 'Patient' AND i.param IN ({marks})"
        if len(codes) == 1:
            (code,) = codes
            sql = f"SELECT DISTINCT i.target_id FROM idx_reference i WHERE {where}"
            for (patient_id,) in _run(conn, sql, (res_type, *params), "i.target_id", ids):
                yield patient_id, code
            continue
        sql = ("SELECT DISTINCT i.target_id, i.rid, v.content FROM idx_reference i "
               "JOIN resource r ON r.rid = i.rid JOIN resource_version v ON v.rid = r.rid AND v.version = r.version "
               f"WHERE {where}")
        for patient_id, _, content in _run(conn, sql, (res_type, *params), "i.target_id", ids):
            code = category(orjson.loads(content))
            if code is not None:
                yield patient_id, code


def _run(conn: Conn, sql: str, args: Sequence[Any], column: str, ids: Sequence[str] | None) -> list[tuple]:
    if ids is None:
        return conn.execute(sql, args)
    return conn.execute_in(f"{sql} AND {column} {IN}", args, ids)


def bsns(conn: Conn, patient_ids: Collection[str] | None) -> dict[str, str]:
    """Patient id -> BSN (of ``patient_ids``; None: every Patient with one). A Patient without a BSN is left out."""
    if patient_ids is None:
        rows = conn.execute(_BSNS + "r.deleted = 0", (BSN,))
    else:
        rows = conn.execute_in(_BSNS + f"r.deleted = 0 AND r.res_id {IN}", (BSN,), sorted(patient_ids))
    return {patient_id: bsn for patient_id, bsn in sorted(rows)}


def patients_with(conn: Conn, bsn_values: Iterable[str]) -> dict[str, set[str]]:
    """BSN -> the ids of this node's Patients that carry it (usually one)."""
    found: dict[str, set[str]] = defaultdict(set)
    for patient_id, bsn in conn.execute_in(_BSNS + f"r.deleted = 0 AND t.code {IN}", (BSN,), sorted(set(bsn_values))):
        found[bsn].add(patient_id)
    return found
