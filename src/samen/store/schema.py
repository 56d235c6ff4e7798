"""The storage schema and its migrations, one list for both engines.

Resources are versioned JSON (``resource_version``) with one row per logical resource
(``resource``) pointing at its current version. Search values live in typed index tables keyed
by the resource's internal ``rid``, so that every search is an index lookup; the value indexes end in
``rid`` (and a date's other bound) so that most searches are answered from the index alone. ``grp`` ties together
the components of one composite value (0 for ordinary rows).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    rid_column: str  # auto-assigned internal key
    blob: str
    pattern_ops: str  # operator class that lets LIKE 'abc%' use a b-tree index
    for_update: str  # after a SELECT: lock the rows read until the transaction ends (SQLite has one writer)


SQLITE = Dialect("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB", "", "")
POSTGRES = Dialect(
    "postgres", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA", " text_pattern_ops", " FOR UPDATE"
)

INDEX_TABLES = ("idx_string", "idx_token", "idx_reference", "idx_date", "idx_number", "idx_quantity", "idx_uri")

_V1 = """
CREATE TABLE resource (
    rid {rid},
    res_type TEXT NOT NULL,
    res_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_ms BIGINT NOT NULL,
    deleted SMALLINT NOT NULL DEFAULT 0,
    UNIQUE (res_type, res_id)
);
CREATE TABLE resource_version (
    rid BIGINT NOT NULL,
    version INTEGER NOT NULL,
    res_type TEXT NOT NULL,
    res_id TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    method TEXT NOT NULL,
    content {blob},
    PRIMARY KEY (rid, version)
);
CREATE INDEX resource_version_updated ON resource_version (updated_ms);
CREATE INDEX resource_version_type_updated ON resource_version (res_type, updated_ms);
CREATE INDEX resource_type_updated ON resource (res_type, updated_ms);

CREATE TABLE idx_string (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, grp INTEGER NOT NULL DEFAULT 0,
    value TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX idx_string_value ON idx_string (res_type, param, value{pattern_ops}, rid);
CREATE INDEX idx_string_rid ON idx_string (rid, param);

CREATE TABLE idx_token (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, grp INTEGER NOT NULL DEFAULT 0,
    system TEXT, code TEXT, text TEXT
);
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system, rid);
CREATE INDEX idx_token_rid ON idx_token (rid, param);

CREATE TABLE idx_reference (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, grp INTEGER NOT NULL DEFAULT 0,
    target_type TEXT, target_id TEXT, url TEXT
);
CREATE INDEX idx_reference_target ON idx_reference (target_id, target_type, res_type, param, rid);
CREATE INDEX idx_reference_url ON idx_reference (url);
CREATE INDEX idx_reference_rid ON idx_reference (rid, param);

CREATE TABLE idx_date (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, grp INTEGER NOT NULL DEFAULT 0,
    lo BIGINT NOT NULL, hi BIGINT NOT NULL
);
CREATE INDEX idx_date_lo ON idx_date (res_type, param, lo, hi, rid);
CREATE INDEX idx_date_hi ON idx_date (res_type, param, hi, lo, rid);
CREATE INDEX idx_date_rid ON idx_date (rid, param);

CREATE TABLE idx_number (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, grp INTEGER NOT NULL DEFAULT 0,
    lo DOUBLE PRECISION NOT NULL, hi DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_number_lo ON idx_number (res_type, param, lo, hi, rid);
CREATE INDEX idx_number_rid ON idx_number (rid, param);

CREATE TABLE idx_quantity (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, grp INTEGER NOT NULL DEFAULT 0,
    system TEXT, code TEXT, unit TEXT, lo DOUBLE PRECISION NOT NULL, hi DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_quantity_lo ON idx_quantity (res_type, param, lo, hi, rid);
CREATE INDEX idx_quantity_hi ON idx_quantity (res_type, param, hi, lo, rid);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid, param);

CREATE TABLE idx_uri (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL, grp INTEGER NOT NULL DEFAULT 0,
    uri TEXT NOT NULL
);
CREATE INDEX idx_uri_value ON idx_uri (res_type, param, uri{pattern_ops}, rid);
CREATE INDEX idx_uri_rid ON idx_uri (rid, param);

CREATE TABLE bulk_job (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    transaction_ms BIGINT,
    progress TEXT,
    result {blob},
    error TEXT
);
"""

# The files `samen import` has imported, keyed by the SHA-256 of their content. IF NOT EXISTS: before
# this migration the importer made the table itself.
_V2 = """
CREATE TABLE IF NOT EXISTS bulk_import (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    resources INTEGER NOT NULL,
    finished_ms BIGINT NOT NULL
);
"""

# Values of browser sign-in flows kept between two requests (SMART App Launch: a launch waiting for
# the identity provider, an authorization code), shared by all worker processes; each row is taken once.
_V3 = """
CREATE TABLE auth_grant (
    handle TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    content {blob} NOT NULL
);
CREATE INDEX auth_grant_expires ON auth_grant (expires_ms);
"""

# The localization index (NVI role): registrations by pseudonym, never a BSN; objections.
# ``pseudonym`` is the index's own 32-byte recipient pseudonym; the unique key makes registering twice
# idempotent and answers a search by person (and category) from the index alone.
_V4 = """
CREATE TABLE nvi_registration (
    id TEXT PRIMARY KEY,
    pseudonym {blob} NOT NULL,
    category TEXT NOT NULL,
    custodian TEXT NOT NULL,
    registered BIGINT NOT NULL
);
CREATE UNIQUE INDEX nvi_registration_key ON nvi_registration (pseudonym, category, custodian);
CREATE TABLE nvi_objection (
    pseudonym {blob} PRIMARY KEY,
    recorded BIGINT NOT NULL
)
"""

# The custodian side of localization: what this node has registered at the index, and the outbox of changes.
# custodian_outbox: "(patient, category) may have changed" rows written with the data ("*": every category);
# custodian_ledger: what this node registered (its own patients' BSNs); custodian_state: the worker's lease
# (one worker process sends at a time) and its status.
_V5 = """
CREATE TABLE custodian_outbox (
    seq {rid},
    patient_id TEXT NOT NULL,
    category TEXT NOT NULL,
    queued_ms BIGINT NOT NULL
);
CREATE TABLE custodian_ledger (
    bsn TEXT NOT NULL,
    category TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    list_id TEXT NOT NULL,
    registered_ms BIGINT NOT NULL,
    PRIMARY KEY (bsn, category)
);
CREATE INDEX custodian_ledger_patient ON custodian_ledger (patient_id);
CREATE TABLE custodian_state (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL DEFAULT '',
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    last_success_ms BIGINT,
    last_error TEXT,
    last_error_ms BIGINT,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_at_ms BIGINT NOT NULL DEFAULT 0,
    imports_seen_ms BIGINT NOT NULL DEFAULT -1
);
"""

# The query directory's update client: per source (``role`` "root" or "administration"), how far it has
# synced. ``since`` is the source's own clock (the ``Bundle.meta.lastUpdated`` of its first answer in the
# last complete run, less an overlap), sent back as ``_since``; NULL: never completed, load everything.
# ``prefix`` namespaces the ids of the source's resources in the query directory.
_V6 = """
CREATE TABLE directory_sync_source (
    url TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    prefix TEXT NOT NULL,
    since TEXT,
    last_run_ms BIGINT NOT NULL,
    last_error TEXT
)
"""

# The audit trail: hash-chained, append-only entries; the head (last entry) and the anchor (last pruned entry).
_V7 = """
CREATE TABLE audit_entry (
    seq BIGINT PRIMARY KEY,
    recorded_ms BIGINT NOT NULL,
    patient TEXT NOT NULL,
    organisation TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    purpose TEXT NOT NULL,
    event {blob} NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_entry_patient ON audit_entry (patient, seq);
CREATE INDEX audit_entry_organisation ON audit_entry (organisation, seq);
CREATE INDEX audit_entry_recorded ON audit_entry (recorded_ms);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    anchor_seq BIGINT NOT NULL,
    anchor_hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, anchor_seq, anchor_hash) VALUES (1, 0, '', 0, '')
"""

# The consent registry: citizens' choices compiled from their Consent resources (one row per active Consent,
# '*' for "any" data or requester category) so the closed question is one index lookup; the Subscriptions
# of data holders that are active, and the notifications still to be delivered to them.
# At a data holder: the last change notified per person (consent_notice), shared by the node's workers.
_V8 = """
CREATE TABLE consent_choice (
    bsn TEXT NOT NULL,
    holder_category TEXT NOT NULL,
    data_category TEXT NOT NULL,
    requester_category TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    permit SMALLINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (bsn, holder_category, data_category, requester_category, consent_id)
);
CREATE INDEX consent_choice_consent ON consent_choice (consent_id);
CREATE TABLE consent_subscription (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    bsn TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    headers TEXT NOT NULL
);
CREATE TABLE consent_delivery (
    seq {rid},
    subscription_id TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    bsn TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_ms BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX consent_delivery_due ON consent_delivery (due_ms);
CREATE TABLE consent_notice (
    bsn TEXT PRIMARY KEY,
    changed_ms BIGINT NOT NULL
);
CREATE INDEX consent_notice_changed ON consent_notice (changed_ms)
"""

# The audit spool (samen.audit.spool): how far each process's spool file is chained into the trail.
_V9 = """
CREATE TABLE audit_spool (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)
"""

MIGRATIONS: list[tuple[int, str]] = [(1, _V1), (2, _V2), (3, _V3), (4, _V4), (5, _V5), (6, _V6), (7, _V7), (8, _V8),
                                     (9, _V9)]


def migration_statements(dialect: Dialect, sql: str) -> list[str]:
    """Split one migration into statements with the dialect's column types filled in."""
    text = sql.format(rid=dialect.rid_column, blob=dialect.blob, pattern_ops=dialect.pattern_ops)
    return [statement.strip() for statement in text.split(";") if statement.strip()]
