"""``AuditEvent`` on the FHIR API, served from the trail: read and search, never written.

Search parameters (all optional, each at most once except ``patient``/``entity-identifier``):

- ``patient`` (``Patient/[id]`` or an id), ``patient:identifier`` / ``entity-identifier``
  (``[system|]BSN``): "who looked at my record" (a PGO); a BSN and the Patient ids that carry it
  find the same entries;
- ``agent-identifier`` / ``organization`` (``[system|]URA``): everything an organisation did;
- ``action`` (C, R, U, D, E), ``outcome`` (0, 4, 8, 12), ``purpose`` (purpose of use, or ``BTG``
  for break-the-glass), ``date`` (``ge``/``gt``/``le``/``lt``/``eq`` + a date), ``_id``;
- ``_count`` and the cursor ``_before`` (the next page's link carries it). Newest first.

A patient-bound token (a citizen's own app) sees only the entries of its own patient. Writes are
405: the trail is append-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from samen.api.messages import FhirRequest, FhirResponse
from samen.audit import store as entries
from samen.audit.chain import Entry
from samen.audit.events import BREAK_THE_GLASS, audit_event_of
from samen.audit.subjects import Subjects
from samen.auth.policy import ACUTE_CARE
from samen.fhir import outcome
from samen.fhir.primitives import date_range
from samen.store.store import Session

if TYPE_CHECKING:
    from samen.api.router import Route, Router
    from samen.audit.trail import AuditTrail
    from samen.auth.enforcement import Grant

_IGNORED = ("_sort", "_total", "_format", "_pretty")  # newest first, no total: nothing to choose
MAX_COUNT = 1000


class AuditEventProvider:
    """The :class:`~samen.api.router.TypeProvider` of AuditEvent."""

    interactions = frozenset({"read", "vread", "search"})

    def __init__(self, trail: AuditTrail, subjects: Subjects, default_count: int = 50) -> None:
        """``subjects``: the router's, so a patient's BSN is read (and cached) once for the trail and its search."""
        self.trail = trail
        self.subjects = subjects
        self.default_count = default_count

    def refresh(self) -> None:
        """Chain the spooled entries of reads first, so that a search finds every access answered so far."""
        self.trail.flush()

    def serve(self, session: Session, request: FhirRequest, route: Route, grant: Grant,
              new_id: str | None) -> FhirResponse:
        bound = _bound_patients(session, grant)
        if route.asked.interaction == "search":
            return self._search(session, request, bound)
        seq = route.res_id or ""
        entry = entries.read(session.conn, int(seq)) if seq.isdigit() else None
        if entry is None or (route.version not in (None, "1")):
            raise outcome.not_found(f"AuditEvent/{seq} is not known")
        if bound is not None and entry.patient not in bound:
            raise grant.refuse("This token is bound to another patient",
                               f"AuditEvent/{seq} is not about the token's patient", "patient-binding")
        return FhirResponse(200, body=_resource(entry))

    def _search(self, session: Session, request: FhirRequest, bound: tuple[str, ...] | None) -> FhirResponse:
        criteria, before, count = self._criteria(session, request.params)
        if bound is not None:
            asked = set(criteria.patients) if criteria.patients is not None else None
            patients = tuple(p for p in bound if asked is None or p in asked)
            criteria = entries.Criteria(**{**criteria.__dict__, "patients": patients})
        found = entries.search(session.conn, criteria, before=before, count=count + 1)
        page, more = found[:count], len(found) > count
        params = [(n, v) for n, v in request.params if n != "_before"]
        url = f"{request.base_url}/AuditEvent"
        links = [{"relation": "self", "url": f"{url}?{urlencode(request.params)}"}]
        if more:
            links.append({"relation": "next", "url": f"{url}?{urlencode([*params, ('_before', page[-1].seq)])}"})
        head = orjson.dumps({"resourceType": "Bundle", "type": "searchset", "link": links})[:-1]
        items = [b'{"fullUrl":"%s/%d","resource":%s,"search":{"mode":"match"}}' % (url.encode(), e.seq, _resource(e))
                 for e in page]
        return FhirResponse(200, body=head + b',"entry":[' + b",".join(items) + b"]}")

    def _criteria(self, session: Session, params: list[tuple[str, str]]) -> tuple[entries.Criteria, int | None, int]:
        fields: dict[str, Any] = {}
        before, count = None, self.default_count
        patients: set[str] = set()
        for name, value in params:
            if name in _IGNORED:
                continue
            if name in ("patient", "patient:identifier", "entity-identifier", "subject:identifier"):
                patients.update(_patient_keys(session, self.subjects, name, value))
                fields["patients"] = tuple(sorted(patients))
            elif name in ("agent-identifier", "organization", "organization:identifier"):
                fields["organisations"] = tuple(v.rsplit("|", 1)[-1] for v in value.split(","))
            elif name in ("action", "outcome", "purpose", "_id"):
                values = tuple(v.rsplit("|", 1)[-1] for v in value.split(","))
                if name == "purpose":
                    values = tuple(ACUTE_CARE if v == BREAK_THE_GLASS else v for v in values)
                if name == "_id":
                    if not all(v.isdigit() for v in values):
                        return entries.Criteria(seqs=()), None, count
                    fields["seqs"] = tuple(int(v) for v in values)
                else:
                    fields[{"action": "actions", "outcome": "outcomes", "purpose": "purposes"}[name]] = values
            elif name == "date":
                _date(fields, value)
            elif name in ("_count", "_before"):
                if not value.isdigit():
                    raise outcome.bad_request(f"{name} must be a number, not '{value}'")
                if name == "_count":
                    count = min(int(value), MAX_COUNT)
                else:
                    before = int(value)
            else:
                raise outcome.bad_request(f"AuditEvent cannot be searched by '{name}' on this node")
        return entries.Criteria(**fields), before, count


def _patient_keys(session: Session, subjects: Subjects, name: str, value: str) -> set[str]:
    """The trail's patient keys for a patient parameter: the BSN, and the Patient references that carry it."""
    keys: set[str] = set()
    for item in value.split(","):
        if name == "patient":
            patient_id = item.rsplit("/", 1)[-1]
            keys.add(f"Patient/{patient_id}")
            bsn = subjects.bsn(session, patient_id)
            if bsn:
                keys.add(bsn)
        else:
            keys.add(item.rsplit("|", 1)[-1])
    return keys


def _date(fields: dict[str, Any], value: str) -> None:
    prefix, text = (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", value)
    try:
        low, high = date_range(text)
    except ValueError as error:
        raise outcome.bad_request(f"date: {error}") from error
    if prefix in ("ge", "eq"):
        fields["recorded_from"] = low
    if prefix == "gt":
        fields["recorded_from"] = high + 1
    if prefix in ("le", "eq"):
        fields["recorded_to"] = high
    if prefix == "lt":
        fields["recorded_to"] = low - 1


def _bound_patients(session: Session, grant: Grant) -> tuple[str, ...] | None:
    """The patient keys a patient-bound grant may see (its BSN and Patient ids); None when not bound."""
    if not grant.patient_bound:
        return None
    keys = [f"Patient/{pid}" for pid in grant.patient_ids(session)]
    if grant.context.patient_bsn:
        keys.append(grant.context.patient_bsn)
    return tuple(keys)


def _resource(entry: Entry) -> bytes:
    """The entry's AuditEvent (rendered from the record the chain covers) with its id (the seq) and version."""
    event = audit_event_of(entry.event, entry.recorded_ms)
    return orjson.dumps({"resourceType": "AuditEvent", "id": str(entry.seq), "meta": {"versionId": "1"}, **event})


def register(router: Router) -> None:
    """Serve AuditEvent from the trail on ``router``."""
    if router.trail is not None:
        router.register_provider("AuditEvent", AuditEventProvider(router.trail, router.subjects,
                                                                  router.settings.default_page_size))
