"""The ASGI entry point for uvicorn workers; every worker process builds its own node from the environment.

``samen serve`` sets these variables; they can also be used with any ASGI server:
``SAMEN_DB`` (database URL), ``SAMEN_BASE_URL``, ``SAMEN_MAX_BODY_BYTES``, ``SAMEN_LOG_LEVEL``, ``SAMEN_ACCESS_LOG`` (0 turns the per-request log off),
``SAMEN_PACKAGES`` (FHIR package files or folders, separated by ``os.pathsep``), ``SAMEN_VALIDATE``
(0 turns validation off), ``SAMEN_REQUIRE_PROFILES`` (``Type=url`` pairs separated by spaces),
``SAMEN_MUST_SUPPORT`` (1 reports missing must-support elements), ``SAMEN_URA``, ``SAMEN_ORGANISATION_TYPE``,
``SAMEN_KEYS`` (key directory), ``SAMEN_TRUST_LIST`` (trust list file), ``SAMEN_TOKEN_LIFETIME_S``,
``SAMEN_CITIZEN_IDP`` (issuer URL), ``SAMEN_CITIZEN_IDP_CLIENT`` (client id there), ``SAMEN_APPS`` (patient apps file),
``SAMEN_ROLES`` (role names separated by spaces), ``SAMEN_LOCALIZATION_INDEX``, ``SAMEN_PSEUDONYMISER``,
``SAMEN_CONSENT_REGISTRY`` (FHIR base URLs), ``SAMEN_CONSENT_CACHE_S``, ``SAMEN_AUDIT_RETENTION_DAYS``,
``SAMEN_QUERY_DIRECTORY`` (FHIR base URL), ``SAMEN_EXCHANGE_TIMEOUT_S``,
``SAMEN_OPEN`` (1: open development mode, refused unless the base URL is a loopback address).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from starlette.applications import Starlette

from samen import logs
from samen.node import Node
from samen.settings import Settings, parse_required_profiles

DEFAULT_DB = "var/samen.db"


def settings_from_env() -> Settings:
    defaults = Settings()
    return Settings(
        base_url=os.environ.get("SAMEN_BASE_URL", defaults.base_url).rstrip("/"),
        max_body_bytes=int(os.environ.get("SAMEN_MAX_BODY_BYTES", defaults.max_body_bytes)),
        bulk_dir=os.environ.get("SAMEN_BULK_DIR", defaults.bulk_dir),
        access_log=os.environ.get("SAMEN_ACCESS_LOG", "1") != "0",
        packages=packages_from_env(),
        validate=os.environ.get("SAMEN_VALIDATE", "1") != "0",
        required_profiles=parse_required_profiles(os.environ.get("SAMEN_REQUIRE_PROFILES", "").split()),
        report_must_support=os.environ.get("SAMEN_MUST_SUPPORT", "0") == "1",
        ura=os.environ.get("SAMEN_URA", ""),
        organisation_type=os.environ.get("SAMEN_ORGANISATION_TYPE", ""),
        keys_dir=os.environ.get("SAMEN_KEYS", ""),
        trust_list=os.environ.get("SAMEN_TRUST_LIST", ""),
        token_lifetime_s=int(os.environ.get("SAMEN_TOKEN_LIFETIME_S", defaults.token_lifetime_s)),
        citizen_idp=os.environ.get("SAMEN_CITIZEN_IDP", ""),
        citizen_idp_client_id=os.environ.get("SAMEN_CITIZEN_IDP_CLIENT", ""),
        professional_idp=os.environ.get("SAMEN_PROFESSIONAL_IDP", ""),
        professional_idp_client_id=os.environ.get("SAMEN_PROFESSIONAL_IDP_CLIENT", ""),
        apps_file=os.environ.get("SAMEN_APPS", ""),
        roles=tuple(os.environ.get("SAMEN_ROLES", "").split()),
        localization_index=os.environ.get("SAMEN_LOCALIZATION_INDEX", ""),
        pseudonymiser=os.environ.get("SAMEN_PSEUDONYMISER", ""),
        consent_registry=os.environ.get("SAMEN_CONSENT_REGISTRY", ""),
        consent_cache_s=float(os.environ.get("SAMEN_CONSENT_CACHE_S", defaults.consent_cache_s)),
        audit_retention_days=int(os.environ.get("SAMEN_AUDIT_RETENTION_DAYS", defaults.audit_retention_days)),
        query_directory=os.environ.get("SAMEN_QUERY_DIRECTORY", ""),
        exchange_timeout_s=float(os.environ.get("SAMEN_EXCHANGE_TIMEOUT_S", defaults.exchange_timeout_s)),
        open_mode=os.environ.get("SAMEN_OPEN", "0") == "1",
    )


def packages_from_env() -> tuple[Path, ...]:
    """``SAMEN_PACKAGES``: package paths separated by ``os.pathsep`` (``:`` on POSIX)."""
    return tuple(Path(part) for part in os.environ.get("SAMEN_PACKAGES", "").split(os.pathsep) if part)


def create() -> Starlette:
    logs.configure(os.environ.get("SAMEN_LOG_LEVEL", "info"))
    node = Node.open(os.environ.get("SAMEN_DB", DEFAULT_DB), settings_from_env())
    app = node.app(close_on_shutdown=True)
    gc.freeze()  # the node's long-lived objects leave the collector's generations: a full collection took ~90 ms
    return app
