"""The Bulk Data export operations on a :class:`~samen.api.router.Router`.

Endpoints (``[base]`` is the node's FHIR base URL):

- kick-off: ``GET|POST [base]/$export``, ``[base]/Patient/$export``, ``[base]/Group/[id]/$export``
  with ``Prefer: respond-async``; answers 202 with ``Content-Location`` = the status URL. A POST
  carries the parameters in a ``Parameters`` resource.
- status: ``GET [base]/$export-status?job=[id]``: 202 with ``X-Progress`` while running, 200 with
  the manifest when done, 500 with an OperationOutcome when the job failed, 404 for unknown jobs;
  ``DELETE`` on the same URL cancels the job (202) and removes its files.
- files: ``GET [base]/$export-file?job=[id]&file=[Type].ndjson`` (``application/fhir+ndjson``).

Status and file URLs are ``$operations`` at the base so that the router's existing ``$operation``
dispatch serves them; no new routes were needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode
from weakref import WeakKeyDictionary

import orjson

from samen.api.messages import FhirRequest, FhirResponse
from samen.api.router import Router
from samen.audit.events import DISCLOSURE, EXPORT
from samen.auth.enforcement import Enforcer, job_owner
from samen.bulk.export import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    NDJSON,
    Exporter,
    Job,
    load_job,
    parse_request,
    status_url,
)
from samen.fhir import outcome
from samen.store.store import Session

_PARAMETER_VALUES = ("valueString", "valueCode", "valueInstant", "valueDateTime", "valueUri", "valueUrl")


_exporters: WeakKeyDictionary[Router, Exporter] = WeakKeyDictionary()


def register(router: Router) -> Exporter:
    """Register the export operations on ``router`` and resume jobs orphaned by a crashed process."""
    exporter = Exporter(router.store, router.settings)
    _exporters[router] = exporter
    for method in ("GET", "POST"):
        for pattern, level in (("$export", "system"), ("Patient/$export", "patient"), ("Group/{id}/$export", "group")):
            router.register_operation(method, pattern, _kick_off(exporter, router.enforcer, level), writes=True,
                                      audit_kind=EXPORT)
    router.register_operation(
        "GET", "$export-status", lambda session, request: _status(exporter, session, request), writes=False
    )
    router.register_operation(
        "DELETE", "$export-status", lambda session, request: _cancel(exporter, session, request), writes=True
    )
    router.register_operation(
        "GET", "$export-file", lambda session, request: _file(exporter, session, request), writes=False,
        audit_kind=DISCLOSURE,
    )
    exporter.recover()
    return exporter


def exporter_for(router: Router) -> Exporter | None:
    """The exporter :func:`register` put on ``router`` (to wait for its jobs, say)."""
    return _exporters.get(router)


def _kick_off(exporter: Exporter, enforcer: Enforcer, level: str) -> Callable[[Session, FhirRequest], FhirResponse]:
    def operation(session: Session, request: FhirRequest) -> FhirResponse:
        if not request.prefer_async:
            raise outcome.bad_request("A bulk data export needs the header 'Prefer: respond-async'")
        params = request.params if request.method != "POST" else [*request.params, *_body_parameters(request.body)]
        url = f"{request.base_url}/{request.path}"
        if request.method != "POST" and request.params:
            url += "?" + urlencode(request.params)
        group_id = request.segments[1] if level == "group" else None
        export = parse_request(
            exporter.model, level, params, url=url, base_url=request.base_url, group_id=group_id, strict=request.strict
        )
        export = replace(export, patients=enforcer.export_patients(session, request.access),
                         owner=job_owner(request.access))
        if group_id is not None:
            group = session.read("Group", group_id)
            if group is None or group.deleted:
                raise outcome.not_found(f"Group/{group_id} is not known")
        job = exporter.create(session, export)  # committed with this write session, or not at all
        exporter.start(job)
        return FhirResponse(
            202,
            body=outcome.information(f"Export job {job.job_id} accepted"),
            headers={"Content-Location": status_url(request.base_url, job.job_id)},
        )

    return operation


def _body_parameters(body: Any) -> list[tuple[str, str]]:
    if body is None:
        return []
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise outcome.bad_request("A POST kick-off takes a Parameters resource")
    params = []
    for parameter in body.get("parameter") or []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if not isinstance(name, str):
            raise outcome.bad_request("Every parameter needs a name")
        value = next((parameter[key] for key in _PARAMETER_VALUES if key in parameter), None)
        if value is None and "valueReference" in parameter:
            value = str((parameter["valueReference"] or {}).get("reference", ""))
        if not isinstance(value, str):
            raise outcome.bad_request(f"Parameter '{name}' needs a string, code, instant or reference value")
        params.append((name, value))
    return params


def _own_job(session: Session, request: FhirRequest, job_id: str) -> Job | None:
    """The job, if the caller is the one who started it (another's job is as unknown as a missing one)."""
    job = load_job(session, job_id)
    return job if job is not None and job.request.owner == job_owner(request.access) else None


def _job_param(request: FhirRequest) -> str:
    job_id = dict(request.params).get("job")
    if not job_id:
        raise outcome.bad_request("The parameter 'job' is missing")
    return job_id


def _status(exporter: Exporter, session: Session, request: FhirRequest) -> FhirResponse:
    job_id = _job_param(request)
    job = _own_job(session, request, job_id)
    if job is None or job.status not in (IN_PROGRESS, COMPLETED, FAILED):
        raise outcome.not_found(f"No export job '{job_id}'")
    if job.status == IN_PROGRESS:
        if exporter.is_orphaned(job):
            # in a thread of its own: adopting writes in a session of its own, never nested in this one
            threading.Thread(target=exporter.adopt_if_orphaned, args=(job,), daemon=True).start()
        return FhirResponse(202, headers={"X-Progress": job.progress_text[:200], "Retry-After": "1"})
    if job.status == FAILED:
        raise outcome.FhirError(500, f"The export failed: {job.error}", "exception")
    manifest = orjson.dumps(job.manifest(request.base_url))
    return FhirResponse(200, body=manifest, headers={"Content-Type": "application/json"})


def _cancel(exporter: Exporter, session: Session, request: FhirRequest) -> FhirResponse:
    job_id = _job_param(request)
    if _own_job(session, request, job_id) is None or not exporter.cancel(session, job_id):
        raise outcome.not_found(f"No export job '{job_id}'")
    return FhirResponse(202, body=outcome.information(f"Export job {job_id} cancelled and its files removed"))


def _file(exporter: Exporter, session: Session, request: FhirRequest) -> FhirResponse:
    job_id = _job_param(request)
    name = dict(request.params).get("file", "")
    job = _own_job(session, request, job_id)
    path = exporter.file_path(job, name) if job is not None else None
    if path is None:
        raise outcome.not_found(f"Export job '{job_id}' has no file '{name}'")
    return FhirResponse(200, body=path.read_bytes(), headers={"Content-Type": NDJSON})
