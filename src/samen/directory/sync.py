"""The update client (IHE mCSD ITI-91, as the NL Generic Functions IG profiles it): fills a query directory from
the root directory (LRZa role) and every administration directory the root lists, incrementally.

One run:

1. The root is synced like any source; its Organizations (URA, name, type) and the Endpoints they refer to
   that list an administration directory (see :mod:`samen.directory.mcsd`) are read back from the query
   directory. Each distinct directory address becomes one source, allowed to publish about the URAs the root
   lists with it. A URA listed with several directories belongs to the first listing (the root entry this query
   directory copied first; entries that arrive in one run are taken in the order the root last changed them);
   the others are reported as conflicts. An address that is the root itself or an excluded one (the query
   directory) is reported as a loop and skipped.
2. Each source is synced (a few at a time): per resource type, ``[base]/Type/_history?_since=…&_count=…`` page by
   page (newest first: the first version seen of a resource is its latest; a ``next`` link seen before stops
   the type as a loop). ``_since`` is the source's own clock, the ``Bundle.meta.lastUpdated`` of its first
   answer in the last complete run, less :data:`OVERLAP_MS` so that a write still committing then is not lost.
   Versions already held (same ``meta.source``) are skipped, so the overlap costs nothing.
3. Each page is written in one transaction through :meth:`~samen.store.store.Session.put_many`; a DELETE in the
   history deletes the copy.

Rules: an administration directory publishes only about its own organisations. An Organization must carry an
allowed URA or be ``partOf`` (a chain of) one that does (a cycle is a loop); a Location, HealthcareService,
PractitionerRole or Endpoint must name such an Organization as its owner (``managingOrganization``,
``providedBy``, ``organization``; an Endpoint may instead be referred to by one, since the IG has the vendor as
its managing organisation); a Practitioner claims no organisation. Anything else is refused, reported and not
stored (a copy of an earlier version is deleted).

Ids: a source's resources are stored as ``{prefix}-{id}`` (``prefix``: 8 hex digits of the SHA-256 of the
source's address; an id that would be longer than 64 characters is replaced by a hash), and their relative
references (and absolute ones on the source's base) are rewritten the same way, so that sources never collide.
``meta.source`` keeps ``{source base}/{Type}/{id}/_history/{version}``: where each copy came from.

An unreachable source (connection error, 5xx, 429) is retried with backoff; if it stays down its earlier data is
kept, its ``_since`` is not advanced and the run goes on with the others. Each run gives one
:class:`SourceReport` per source.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from samen.directory import mcsd
from samen.directory.codes import URA_OID
from samen.fhir.primitives import date_range, ms_to_instant, now_ms
from samen.sample import URA
from samen.store.batch import BatchError
from samen.store.db import IN
from samen.store.store import Session, Store

ROOT, ADMINISTRATION = "root", "administration"
ROOT_TYPES = ("Organization", "Endpoint")
# Organizations first (owners are decided from them), then what refers to them; Endpoints after the
# Organizations and HealthcareServices that may refer to them.
SOURCE_TYPES = ("Organization", "HealthcareService", "Location", "PractitionerRole", "Endpoint", "Practitioner")
OWNER_ELEMENT = {"Location": "managingOrganization", "HealthcareService": "providedBy",
                 "PractitionerRole": "organization", "Endpoint": "managingOrganization"}
PAGE_SIZE = 1000
OVERLAP_MS = 2000
MAX_ID = 64
MAX_BYTES = 64 * 1024 * 1024  # one answer; a page of 1000 directory resources is a few MB
DEADLINE_S = 120.0  # one answer, in all: a read timeout alone lets a source trickle bytes forever
MAX_PAGES = 10_000  # of one type's history: a source could hand out new next links forever

TokenSource = Callable[[str, tuple[str, ...]], "str | None"]  # (source base, types) -> bearer token or None


class SourceUnreachable(Exception):
    """A source did not answer usefully after the retries; the message says what happened last."""


class SourceMisbehaved(Exception):
    """A source answered what no directory may: a ``next`` link off the source, an answer too large or too slow."""


@dataclass
class Source:
    url: str
    role: str
    uras: frozenset[str] = frozenset()  # the URAs an administration directory may publish about

    @property
    def prefix(self) -> str:
        return hashlib.sha256(self.url.encode()).hexdigest()[:8]


@dataclass
class SourceReport:
    source: str
    role: str
    uras: list[str]
    started: str
    finished: str = ""
    status: str = "ok"  # ok | unreachable | failed
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    previous_since: str | None = None
    since: str | None = None

    def conflict(self, kind: str, reference: str, reason: str) -> None:
        self.conflicts.append({"kind": kind, "resource": reference, "reason": reason})

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunResult:
    reports: list[SourceReport]
    listing_conflicts: list[dict[str, str]]

    def summary(self) -> str:
        total = {k: sum(getattr(r, k) for r in self.reports) for k in ("created", "updated", "deleted", "refused")}
        down = [r.source for r in self.reports if r.status != "ok"]
        text = (f"{len(self.reports)} sources: {total['created']} created, {total['updated']} updated, "
                f"{total['deleted']} deleted, {total['refused']} refused, "
                f"{sum(len(r.conflicts) for r in self.reports) + len(self.listing_conflicts)} conflicts")
        return text + (f"; not synced: {', '.join(down)}" if down else "")


class Fetcher:
    """GETs JSON from sources with retries and backoff; tokens per source when a token source is given."""

    def __init__(self, http: httpx.Client, tokens: TokenSource | None, attempts: int, backoff_s: float,
                 max_bytes: int = MAX_BYTES, deadline_s: float = DEADLINE_S) -> None:
        self.http = http
        self.tokens = tokens
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s

    def get(self, url: str, source: Source, types: tuple[str, ...]) -> dict[str, Any]:
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                headers = {"Accept": "application/fhir+json"}
                token = self.tokens(source.url, types) if self.tokens else None
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                with self.http.stream("GET", url, headers=headers) as answer:
                    status, content = answer.status_code, self._read(answer, url)
            except SourceMisbehaved:
                raise
            except Exception as error:  # connection refused, timeout, token refused: retried
                last = f"{type(error).__name__}: {error}"
                continue
            if status >= 500 or status == 429:
                last = f"HTTP {status}"
                continue
            if status != 200:
                raise SourceUnreachable(f"HTTP {status} for {url}: {content[:300].decode(errors='replace')}")
            try:
                body = orjson.loads(content)
            except orjson.JSONDecodeError as error:
                raise SourceUnreachable(f"not JSON from {url}: {error}") from error
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                raise SourceUnreachable(f"not a Bundle from {url}")
            return body
        raise SourceUnreachable(f"{url}: {last} (after {self.attempts} attempts)")

    def _read(self, answer: httpx.Response, url: str) -> bytes:
        """The body, at most ``max_bytes`` of it, within ``deadline_s`` of the request."""
        deadline = time.monotonic() + self.deadline_s
        body = bytearray()
        for chunk in answer.iter_bytes():
            body += chunk
            if len(body) > self.max_bytes:
                raise SourceMisbehaved(f"the answer to {url} is larger than {self.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise SourceMisbehaved(f"the answer to {url} took longer than {self.deadline_s} s")
        return bytes(body)


class UpdateClient:
    """Syncs a query directory (``store``) from a root directory and the administration directories it lists."""

    def __init__(self, store: Store, *, http: httpx.Client | None = None, tokens: TokenSource | None = None,
                 attempts: int = 3, backoff_s: float = 0.5, workers: int = 4, page_size: int = PAGE_SIZE,
                 exclude: Iterable[str] = (), progress: Callable[[str], None] = lambda message: None,
                 max_bytes: int = MAX_BYTES, deadline_s: float = DEADLINE_S, max_pages: int = MAX_PAGES) -> None:
        self.store = store
        self.max_pages = max_pages
        self.fetcher = Fetcher(http or httpx.Client(timeout=60), tokens, attempts, backoff_s, max_bytes, deadline_s)
        self.workers = workers
        self.page_size = page_size
        self.exclude = {_normal(url) for url in exclude}
        self.progress = progress
        self._write_lock = threading.Lock()  # one writer at a time: pages of several sources interleave

    # -- a run ----------------------------------------------------------------------------------

    def run(self, root_url: str) -> RunResult:
        root = Source(root_url.rstrip("/"), ROOT)
        root_report = self.sync_source(root)
        sources, listing_conflicts = self.listed_sources(root)
        self.progress(f"root: {len(sources)} administration directories listed")
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            reports = list(pool.map(self.sync_source, sources))
        self._forget_unlisted(root, sources)
        return RunResult([root_report, *reports], listing_conflicts)

    def listed_sources(self, root: Source) -> tuple[list[Source], list[dict[str, str]]]:
        """The administration directories the root lists (from the root's copy in the query directory)."""
        return listed_sources(self.store, root, self.exclude)

    # -- one source -----------------------------------------------------------------------------

    def sync_source(self, source: Source) -> SourceReport:
        report = SourceReport(source.url, source.role, sorted(source.uras), ms_to_instant(now_ms()))
        state = self._state(source)
        report.previous_since = state
        types = ROOT_TYPES if source.role == ROOT else SOURCE_TYPES
        clocks: list[int | None] = []
        try:
            for res_type in types:
                clocks.append(_clock(_SourceRun(self, source, report, res_type).sync(state)))
        except SourceUnreachable as error:
            report.status = "unreachable"
            report.errors.append(str(error))
        except Exception as error:  # a bug or a database error: reported, the other sources go on
            report.status = "failed"
            report.errors.append(f"{type(error).__name__}: {error}")
        report.since = report.previous_since  # not advanced unless the whole source was synced
        if report.status == "ok" and clocks and None not in clocks:  # a type without a clock: no safe since
            report.since = ms_to_instant(min(c for c in clocks if c is not None) - OVERLAP_MS)
        self._save_state(source, report)
        report.finished = ms_to_instant(now_ms())
        self.progress(f"{source.url}: {report.status}, {report.created} created, {report.updated} updated, "
                      f"{report.deleted} deleted, {report.refused} refused"
                      + "".join(f"; {error}" for error in report.errors))
        return report

    def _state(self, source: Source) -> str | None:
        with self.store.session(write=False) as session:
            rows = session.conn.execute("SELECT since FROM directory_sync_source WHERE url = ?", (source.url,))
        return rows[0][0] if rows else None

    def _save_state(self, source: Source, report: SourceReport) -> None:
        error = "; ".join(report.errors) or None
        with self._write_lock, self.store.session() as session:
            session.conn.execute("DELETE FROM directory_sync_source WHERE url = ?", (source.url,))
            session.conn.execute(
                "INSERT INTO directory_sync_source (url, role, prefix, since, last_run_ms, last_error) "
                "VALUES (?, ?, ?, ?, ?, ?)", (source.url, source.role, source.prefix, report.since, now_ms(), error))

    def _forget_unlisted(self, root: Source, listed: list[Source]) -> None:
        """Sources the root no longer lists: their copies are deleted (their organisations left the network)."""
        keep = {root.url, *(s.url for s in listed)}
        with self._write_lock, self.store.session() as session:
            rows = session.conn.execute("SELECT url, prefix FROM directory_sync_source")
            for url, prefix in rows:
                if url in keep:
                    continue
                for res_type, res_id in session.conn.execute(
                        "SELECT res_type, res_id FROM resource WHERE deleted = 0 AND res_id LIKE ?", (prefix + "-%",)):
                    session.delete(res_type, res_id)
                session.conn.execute("DELETE FROM directory_sync_source WHERE url = ?", (url,))
                self.progress(f"{url}: no longer listed by the root; its copies are deleted")


class _SourceRun:
    """The sync of one resource type of one source: pages of its history, written page by page."""

    def __init__(self, client: UpdateClient, source: Source, report: SourceReport, res_type: str) -> None:
        self.client = client
        self.source = source
        self.report = report
        self.res_type = res_type
        self.prefix = source.prefix
        self.seen: set[str] = set()
        self.types = ROOT_TYPES if source.role == ROOT else SOURCE_TYPES

    def sync(self, since: str | None) -> str | None:
        """Sync this type; returns the source's clock at its first answer."""
        params = [("_count", str(self.client.page_size))] + ([("_since", since)] if since else [])
        url: str | None = str(httpx.URL(f"{self.source.url}/{self.res_type}/_history", params=params))
        visited: set[str] = set()
        first_time: str | None = None
        held: list[tuple[str, dict[str, Any] | None, str]] = []  # Organizations: written once all are read
        while url:
            if url in visited:
                self.report.conflict("loop", f"{self.res_type}/_history", f"the next link {url} was seen before")
                break
            if len(visited) == self.client.max_pages:
                raise SourceMisbehaved(f"{self.res_type}/_history has more than {self.client.max_pages} pages")
            visited.add(url)
            page = self.client.fetcher.get(url, self.source, self.types)
            if len(visited) == 1:  # the clock of the first answer: the later pages were read after it
                first_time = (page.get("meta") or {}).get("lastUpdated")
            entries = self._latest(page)
            if self.res_type == "Organization":
                held += entries
            else:
                self._write(entries)
            url = next((link.get("url") for link in page.get("link") or []
                        if isinstance(link, dict) and link.get("relation") == "next"), None)
            if url is not None and not _on_source(str(url), self.source.url):
                raise SourceMisbehaved(f"the next link {url} of {self.res_type}/_history is not on {self.source.url}")
        if held:  # oldest first: a new copy's rid follows the order its source wrote them (first listed wins)
            self._write(held[::-1])
        return first_time

    def _latest(self, page: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None, str]]:
        """(source id, resource or None for a deletion, version) of each resource's newest version on the page."""
        found = []
        for entry in page.get("entry") or []:
            if not isinstance(entry, dict):
                continue
            request = entry.get("request") or {}
            resource = entry.get("resource")
            if request.get("method") == "DELETE" or resource is None:
                parts = str(request.get("url", "")).split("/")
                res_type, res_id = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
                resource = None
            elif isinstance(resource, dict):
                res_type, res_id = resource.get("resourceType"), resource.get("id")
            else:
                continue
            if res_type != self.res_type or not isinstance(res_id, str) or not res_id or res_id in self.seen:
                continue
            self.seen.add(res_id)
            version = str(((resource or {}).get("meta") or {}).get("versionId", ""))
            found.append((res_id, resource, version))
        return found

    # -- writing --------------------------------------------------------------------------------

    def _write(self, entries: list[tuple[str, dict[str, Any] | None, str]]) -> None:
        if not entries:
            return
        with self.client._write_lock, self.client.store.session() as session:
            held = _held_sources(session, self.res_type, [self.local_id(i) for i, _, _ in entries])
            owners = _Owners(self, session, entries) if self.source.role == ADMINISTRATION else None
            puts: list[tuple[dict[str, Any], bool]] = []  # (copy, whether it replaces a held one)
            for source_id, resource, version in entries:
                local = self.local_id(source_id)
                reference = f"{self.res_type}/{source_id}"
                if resource is None:
                    if local in held:
                        session.delete(self.res_type, local)
                        self.report.deleted += 1
                    continue
                refusal = owners.refusal(source_id, resource) if owners else ""
                if refusal:
                    self.report.refused += 1
                    self.report.conflict("loop" if "loop" in refusal else "conflicting-claim", reference, refusal)
                    if local in held:
                        session.delete(self.res_type, local)
                    continue
                origin = f"{self.source.url}/{reference}/_history/{version}"
                if version and held.get(local) == origin:  # without a versionId nothing says it is unchanged
                    self.report.unchanged += 1
                    continue
                puts.append((self._copy(resource, local, origin), local in held))
            self._put(session, puts)

    def _put(self, session: Session, puts: list[tuple[dict[str, Any], bool]]) -> None:
        while puts:
            try:
                session.put_many([copy for copy, _ in puts])
                break
            except BatchError as error:  # one resource cannot be stored: refuse it, store the rest
                bad, _ = puts.pop(error.index)
                self.report.refused += 1
                self.report.conflict("invalid", f"{self.res_type}/{bad.get('id')}", str(error))
        replaced = sum(1 for _, held in puts if held)
        self.report.updated += replaced
        self.report.created += len(puts) - replaced

    def _copy(self, resource: dict[str, Any], local: str, origin: str) -> dict[str, Any]:
        copy = _rewrite(resource, self)
        copy["id"] = local
        meta = {k: v for k, v in (copy.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
        meta["source"] = origin
        copy["meta"] = meta
        return copy

    def local_id(self, source_id: str) -> str:
        return local_id(self.prefix, source_id)

    def source_id_of(self, value: Any, res_type: str) -> str | None:
        """The id in this source of a Reference to its own ``res_type`` (relative or on its base); else None."""
        if not isinstance(value, dict) or not isinstance(value.get("reference"), str):
            return None
        reference = value["reference"].removeprefix(self.source.url + "/")
        parts = reference.split("/")
        if len(parts) in (2, 4) and parts[0] == res_type and (len(parts) == 2 or parts[2] == "_history"):
            return parts[1]
        return None

    def local_reference(self, reference: str) -> str:
        """A reference as the query directory holds it: ``Type/id`` (relative or on the source's base) mapped."""
        relative = reference
        if reference.startswith(self.source.url + "/"):
            relative = reference[len(self.source.url) + 1:]
        elif "://" in reference or reference.startswith(("#", "urn:")):
            return reference
        parts = relative.split("/")
        if len(parts) not in (2, 4) or not parts[0][:1].isupper():
            return reference
        parts[1] = self.local_id(parts[1])
        return "/".join(parts)


class _Owners:
    """Decides whether a resource of an administration directory is about an organisation it may publish about."""

    def __init__(self, run: _SourceRun, session: Session,
                 entries: list[tuple[str, dict[str, Any] | None, str]]) -> None:
        self.run = run
        self.allowed = run.source.uras
        self.batch = {i: r for i, r, _ in entries if r is not None} if run.res_type == "Organization" else {}
        self.decided: dict[str, str] = {}  # Organization source id -> refusal ("" accepted)
        referenced = set()
        for _, resource, _ in entries:
            if resource is None:
                continue
            owner = run.source_id_of(resource.get(OWNER_ELEMENT.get(run.res_type, "")), "Organization")
            if owner:
                referenced.add(owner)
            partof = run.source_id_of(resource.get("partOf"), "Organization")
            if partof:
                referenced.add(partof)
        self.stored = _live(session, "Organization", [run.local_id(i) for i in referenced])
        self.referring: set[str] = set()
        if run.res_type == "Endpoint":
            ids = [run.local_id(i) for i, r, _ in entries if r is not None]
            self.referring = _referred_endpoints(session, ids)

    def refusal(self, source_id: str, resource: dict[str, Any]) -> str:
        res_type = self.run.res_type
        if res_type == "Practitioner":
            return ""
        if res_type == "Organization":
            return self._organisation(source_id, [])
        owner = resource.get(OWNER_ELEMENT[res_type])
        refused = self._owner(owner)
        if refused and res_type == "Endpoint" and self.run.local_id(source_id) in self.referring:
            return ""  # used by an organisation or service of this directory (managed by a vendor)
        return refused

    def _owner(self, owner: Any) -> str:
        if not isinstance(owner, dict):
            return "names no owning organisation"
        identifier = owner.get("identifier")
        if isinstance(identifier, dict) and identifier.get("system") == URA:
            if identifier.get("value") in self.allowed:
                return ""
            return f"claims URA {identifier.get('value')}, which this directory may not publish about"
        owner_id = self.run.source_id_of(owner, "Organization")
        if owner_id is None:
            return "names no owning organisation"
        if self.run.local_id(owner_id) in self.stored:
            return ""
        return f"its organisation Organization/{owner_id} is not one this directory may publish about"

    def _organisation(self, source_id: str, chain: list[str]) -> str:
        if source_id in self.decided:
            return self.decided[source_id]
        if source_id in chain:
            return "partOf loop: " + " -> ".join([*chain, source_id])
        resource = self.batch.get(source_id)
        if resource is None:  # not in this run: accepted earlier when a copy is held
            return "" if self.run.local_id(source_id) in self.stored else f"partOf Organization/{source_id} is unknown"
        uras = [i.get("value") for i in resource.get("identifier") or []
                if isinstance(i, dict) and i.get("system") in (URA, URA_OID)]  # the IG names the URA by both
        foreign = [u for u in uras if u not in self.allowed]
        if foreign:
            verdict = f"claims URA {', '.join(map(str, foreign))}, which this directory may not publish about"
        elif uras:
            verdict = ""
        else:
            parent = self.run.source_id_of(resource.get("partOf"), "Organization")
            if parent is None:
                verdict = "has no URA of its own and is part of no organisation"
            else:
                verdict = self._organisation(parent, [*chain, source_id])
                if verdict and not verdict.startswith("partOf loop"):
                    verdict = f"part of Organization/{parent}, which is refused"
        self.decided[source_id] = verdict
        return verdict


# -- helpers ----------------------------------------------------------------------------------------


def listed_sources(store: Store, root: Source, exclude: set[str] | frozenset[str] = frozenset()
                   ) -> tuple[list[Source], list[dict[str, str]]]:
    """The administration directories ``root`` lists (from its copy in the query directory at ``store``), each with
    the URAs it may publish about; and the listing's conflicts. ``exclude``: addresses never to sync from."""
    organisations, endpoints = _root_copy(store, root.prefix)
    by_address: dict[str, set[str]] = {}
    owner_of: dict[str, str] = {}
    conflicts: list[dict[str, str]] = []
    for organisation in organisations:  # oldest root entry first; an inactive one is still synced (revoked, listed)
        uras = [i.get("value") for i in organisation.get("identifier") or [] if i.get("system") == URA]
        for reference in organisation.get("endpoint") or []:
            endpoint = endpoints.get(str(reference.get("reference", "")).removeprefix("Endpoint/"))
            if endpoint is None or endpoint.get("status") != "active" or not mcsd.is_admin_directory(endpoint):
                continue
            address = _normal(str(endpoint.get("address", "")))
            if not address.startswith(("http://", "https://")):
                continue
            if address == _normal(root.url) or address in exclude:
                conflicts.append({"kind": "loop", "resource": f"Organization/{organisation['id']}",
                                  "reason": f"lists {address} (the root or query directory itself)"})
                continue
            for ura in uras:
                if ura in owner_of and owner_of[ura] != address:
                    conflicts.append({"kind": "conflicting-claim", "resource": f"Organization/{organisation['id']}",
                                      "reason": f"URA {ura} is listed with {owner_of[ura]} first; {address} "
                                                "may not publish about it"})
                    continue
                owner_of[ura] = address
                by_address.setdefault(address, set()).add(ura)
    sources = []
    prefixes = {**_known_prefixes(store), root.prefix: root.url}
    for address, uras in sorted(by_address.items()):
        source = Source(address, ADMINISTRATION, frozenset(uras))
        taken = prefixes.setdefault(source.prefix, address)
        if taken != address:  # its copies would get (and overwrite) the other source's ids
            conflicts.append({"kind": "conflicting-claim", "resource": address,
                              "reason": f"{address} has the id prefix {source.prefix} of {taken}; not synced"})
            continue
        sources.append(source)
    return sources, conflicts


def _known_prefixes(store: Store) -> dict[str, str]:
    """The id prefixes of sources synced before (their copies may still be held), to their address."""
    with store.session(write=False) as session:
        rows = session.conn.execute("SELECT prefix, url FROM directory_sync_source ORDER BY last_run_ms")
    return {prefix: url for prefix, url in rows}


def local_id(prefix: str, source_id: str) -> str:
    """The id of a source's resource in the query directory."""
    candidate = f"{prefix}-{source_id}"
    if len(candidate) <= MAX_ID:
        return candidate
    return f"{prefix}-{hashlib.sha256(source_id.encode()).hexdigest()[:40]}"


def _rewrite(value: Any, run: _SourceRun) -> Any:
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                copy[key] = run.local_reference(item)
            else:
                copy[key] = _rewrite(item, run)
        return copy
    if isinstance(value, list):
        return [_rewrite(item, run) for item in value]
    return value


def _held_sources(session: Session, res_type: str, ids: list[str]) -> dict[str, str]:
    """The live copies among ``ids``: their ``meta.source`` (where and which version they came from)."""
    held: dict[str, str] = {}
    for res_id, content in session.conn.execute_in(
            "SELECT r.res_id, v.content FROM resource r JOIN resource_version v ON v.rid = r.rid "
            "AND v.version = r.version WHERE r.deleted = 0 AND r.res_type = ? AND r.res_id " + IN, (res_type,), ids):
        held[res_id] = str((orjson.loads(content).get("meta") or {}).get("source", ""))
    return held


def _live(session: Session, res_type: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = session.conn.execute_in("SELECT res_id FROM resource WHERE deleted = 0 AND res_type = ? AND res_id " + IN,
                                   (res_type,), ids)
    return {row[0] for row in rows}


def _referred_endpoints(session: Session, ids: list[str]) -> set[str]:
    """Endpoints among ``ids`` that a live Organization or HealthcareService (copies: same source) refers to."""
    if not ids:
        return set()
    rows = session.conn.execute_in(
        "SELECT target_id FROM idx_reference WHERE param = 'endpoint' AND res_type IN "
        "('Organization', 'HealthcareService') AND target_type = 'Endpoint' AND target_id " + IN, (), ids)
    return {row[0] for row in rows}


def _root_copy(store: Store, prefix: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The root's Organizations (oldest first) and Endpoints (by their id in the root) as copied."""
    organisations: list[dict[str, Any]] = []
    endpoints: dict[str, dict[str, Any]] = {}
    with store.session(write=False) as session:
        rows = session.conn.execute(
            "SELECT r.res_type, v.content FROM resource r JOIN resource_version v ON v.rid = r.rid "
            "AND v.version = r.version WHERE r.deleted = 0 AND r.res_type IN ('Organization', 'Endpoint') "
            "AND r.res_id LIKE ? ORDER BY r.rid", (prefix + "-%",))
    for res_type, content in rows:
        resource = orjson.loads(content)
        if res_type == "Organization":
            organisations.append(resource)
        else:
            endpoints[resource["id"]] = resource
    return organisations, endpoints


def _clock(text: str | None) -> int | None:
    """The source's clock (a ``Bundle.meta.lastUpdated``) in epoch ms; None when absent or not an instant."""
    try:
        return date_range(text)[0] if text is not None else None
    except ValueError:
        return None


def _on_source(url: str, base: str) -> bool:
    """Whether ``url`` is on the source at ``base`` (same scheme, host and port, under its path)."""
    link, own = urlsplit(url), urlsplit(base)
    return ((link.scheme.lower(), link.netloc.lower()) == (own.scheme.lower(), own.netloc.lower())
            and (link.path + "/").startswith(own.path.rstrip("/") + "/"))


def _normal(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
