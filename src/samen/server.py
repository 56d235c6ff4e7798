"""``samen serve``: one node behind uvicorn, with as many worker processes as asked."""

from __future__ import annotations

import os
from pathlib import Path

import click

from samen import __version__, logs
from samen.audit import chainer as audit_chainer
from samen.auth.apps import load_apps
from samen.auth.keys import KeyStoreError
from samen.auth.node_auth import IdentityError, NodeAuth
from samen.auth.trust import TrustListError
from samen.cli_options import db_option, safe_url
from samen.fhir import definitions
from samen.fhir.conformance import Conformance, ConformanceError
from samen.fhir.conformance.loading import load_packages
from samen.fhir.model import Model
from samen.roles import ROLES, check_roles
from samen.settings import Settings, open_mode_refusal, parse_required_profiles


@click.command()
@db_option()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port to listen on.")
@click.option("--base-url", envvar="SAMEN_BASE_URL", default=None,
              help="Public base URL of the FHIR API [default: http://HOST:PORT/fhir].")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (one per core is a good start on PostgreSQL); one more process, the audit "
                   "chainer, chains their audit entries into the trail.")
@click.option("--max-body", "max_body_bytes", default=16 * 1024 * 1024, show_default=True, type=int,
              help="Largest request body accepted, in bytes (larger: 413).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--access-log/--no-access-log", default=True, show_default=True,
              help="Log one structured line per request (method, path, status, duration).")
@click.option("--package", "packages", multiple=True, envvar="SAMEN_PACKAGES",
              type=click.Path(exists=True, path_type=Path),
              help="A FHIR package (.tgz or folder of JSON/XML conformance resources) to load; repeatable.")
@click.option("--validate/--no-validate", default=True, show_default=True,
              help="Validate every written resource against FHIR R4 and the profiles it claims "
                   "(--no-validate: structural checks only).")
@click.option("--require-profile", "required_profiles", multiple=True, metavar="TYPE=URL",
              help="Every written resource of TYPE must conform to profile URL (from a --package); repeatable.")
@click.option("--must-support", is_flag=True,
              help="Report must-support elements that a resource leaves out (as information, never an error).")
@click.option("--ura", envvar="SAMEN_URA", default="",
              help="This organisation's URA [default: the URA of the --keys].")
@click.option("--organisation-type", envvar="SAMEN_ORGANISATION_TYPE", default="",
              help="This organisation's type (RoleCodeNL zorgaanbiedertype code, e.g. V4 ziekenhuis).")
@click.option("--keys", "keys_dir", envvar="SAMEN_KEYS", default=None,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Key directory of this organisation (samen keys create); without it the node issues no tokens.")
@click.option("--trust-list", envvar="SAMEN_TRUST_LIST", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON file of the organisations and identity providers this node trusts (reloaded on change).")
@click.option("--citizen-idp", envvar="SAMEN_CITIZEN_IDP", default="", metavar="ISSUER_URL",
              help="Issuer URL of the citizen identity provider (DigiD-like OpenID Connect, found by discovery); "
                   "turns on SMART App Launch for patient apps (needs --keys).")
@click.option("--citizen-idp-client", envvar="SAMEN_CITIZEN_IDP_CLIENT", default="", metavar="CLIENT_ID",
              help="This node's client id at the citizen identity provider [default: the base URL].")
@click.option("--professional-idp", envvar="SAMEN_PROFESSIONAL_IDP", default="", metavar="ISSUER_URL",
              help="Issuer URL of the professional identity provider (Dezi-like OpenID Connect, found by "
                   "discovery); turns on the clinician view at BASE_URL/zorgverlener (needs --keys).")
@click.option("--professional-idp-client", envvar="SAMEN_PROFESSIONAL_IDP_CLIENT", default="", metavar="CLIENT_ID",
              help="This node's client id at the professional identity provider [default: the base URL].")
@click.option("--apps", "apps_file", envvar="SAMEN_APPS", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON file of the patient apps allowed to launch (client_id, name, redirect_uris).")
@click.option("--role", "roles", multiple=True, envvar="SAMEN_ROLES", metavar="ROLE",
              help="A national role this node takes on (repeatable): " + ", ".join(sorted(ROLES)) + ".")
@click.option("--localization-index", envvar="SAMEN_LOCALIZATION_INDEX", default="", metavar="FHIR_BASE",
              help="Register this custodian's patients at this localization index (needs --pseudonymiser and --keys).")
@click.option("--pseudonymiser", envvar="SAMEN_PSEUDONYMISER", default="", metavar="FHIR_BASE",
              help="The pseudonymisation service that turns BSNs into transport tokens for the index.")
@click.option("--consent-registry", envvar="SAMEN_CONSENT_REGISTRY", default="", metavar="FHIR_BASE",
              help="Ask this consent registry the closed question before releasing patient data.")
@click.option("--consent-cache", "consent_cache_s", envvar="SAMEN_CONSENT_CACHE_S", default=10.0, show_default=True,
              type=click.FloatRange(0, 300), help="Seconds a consent answer may be reused (a change notification "
                                                  "ends it sooner).")
@click.option("--audit-retention-days", envvar="SAMEN_AUDIT_RETENTION_DAYS", default=0, show_default=True,
              type=click.IntRange(0), help="Prune audit entries older than this many days (0: keep them all).")
@click.option("--query-directory", envvar="SAMEN_QUERY_DIRECTORY", default="", metavar="FHIR_BASE",
              help="The mCSD query directory where the custodians' endpoints are looked up (BgZ, medication).")
@click.option("--exchange-timeout", "exchange_timeout_s", envvar="SAMEN_EXCHANGE_TIMEOUT_S", default=10.0,
              show_default=True, type=click.FloatRange(0.1, 300),
              help="Seconds one custodian may take in total in a BgZ or medication retrieval before it is "
                   "reported as timed out.")
@click.option("--open", "open_mode", is_flag=True,
              help="Development only: serve everything without a token. Refused unless --host (and the base URL) "
                   "is a loopback address; warned about at every start.")
def serve(db_url: str, host: str, port: int, base_url: str | None, workers: int, max_body_bytes: int,
          log_level: str, access_log: bool, packages: tuple[Path, ...], validate: bool,
          required_profiles: tuple[str, ...], must_support: bool, ura: str, organisation_type: str,
          keys_dir: Path | None, trust_list: Path | None, citizen_idp: str, citizen_idp_client: str,
          professional_idp: str, professional_idp_client: str,
          apps_file: Path | None, roles: tuple[str, ...], localization_index: str, pseudonymiser: str,
          consent_registry: str, consent_cache_s: float, audit_retention_days: int, query_directory: str,
          exchange_timeout_s: float, open_mode: bool) -> None:
    """Start one node: the FHIR API under BASE_URL, storage in --db."""
    import uvicorn

    logs.configure(log_level)
    base_url = base_url or f"http://{host}:{port}/fhir"
    if open_mode and open_mode_refusal(base_url, host):
        raise click.UsageError(open_mode_refusal(base_url, host))
    try:
        definitions.load()  # fail early, with the command that fixes it
    except definitions.DefinitionsMissing as missing:
        raise click.ClickException(str(missing)) from missing
    try:
        required = parse_required_profiles(list(required_profiles))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--require-profile") from error
    if packages or required:
        _check_packages(packages, required)
    identity = _check_identity(ura, keys_dir, trust_list)
    if citizen_idp and not keys_dir:
        raise click.BadParameter("patient app access needs the node's identity: give --keys too",
                                 param_hint="--citizen-idp")
    if professional_idp and not keys_dir:
        raise click.BadParameter("the clinician view needs the node's identity: give --keys too",
                                 param_hint="--professional-idp")
    if apps_file:
        try:
            load_apps(apps_file)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--apps") from error
    roles = tuple(role for value in roles for role in value.split())
    try:
        check_roles(roles)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--role") from error
    os.environ.update(
        SAMEN_DB=db_url,
        SAMEN_BASE_URL=base_url,
        SAMEN_MAX_BODY_BYTES=str(max_body_bytes),
        SAMEN_LOG_LEVEL=log_level,
        SAMEN_ACCESS_LOG="1" if access_log else "0",
        SAMEN_PACKAGES=os.pathsep.join(str(path.resolve()) for path in packages),
        SAMEN_VALIDATE="1" if validate else "0",
        SAMEN_REQUIRE_PROFILES=" ".join(f"{res_type}={url}" for res_type, url in required),
        SAMEN_MUST_SUPPORT="1" if must_support else "0",
        SAMEN_URA=ura,
        SAMEN_ORGANISATION_TYPE=organisation_type,
        SAMEN_KEYS=str(keys_dir.resolve()) if keys_dir else "",
        SAMEN_TRUST_LIST=str(trust_list.resolve()) if trust_list else "",
        SAMEN_CITIZEN_IDP=citizen_idp,
        SAMEN_CITIZEN_IDP_CLIENT=citizen_idp_client,
        SAMEN_PROFESSIONAL_IDP=professional_idp,
        SAMEN_PROFESSIONAL_IDP_CLIENT=professional_idp_client,
        SAMEN_APPS=str(apps_file.resolve()) if apps_file else "",
        SAMEN_ROLES=" ".join(roles),
        SAMEN_LOCALIZATION_INDEX=localization_index,
        SAMEN_PSEUDONYMISER=pseudonymiser,
        SAMEN_CONSENT_REGISTRY=consent_registry,
        SAMEN_CONSENT_CACHE_S=str(consent_cache_s),
        SAMEN_AUDIT_RETENTION_DAYS=str(audit_retention_days),
        SAMEN_QUERY_DIRECTORY=query_directory,
        SAMEN_EXCHANGE_TIMEOUT_S=str(exchange_timeout_s),
        SAMEN_OPEN="1" if open_mode else "0",
    )
    click.echo(f"samen {__version__}: FHIR R4 API at {os.environ['SAMEN_BASE_URL']} (database: {safe_url(db_url)})", err=True)
    click.echo(identity, err=True)
    if open_mode:
        click.echo("OPEN MODE: every request is served without authentication (development only)", err=True)
    chainer = audit_chainer.start(db_url, log_level)  # chains the workers' audit spools beside them
    try:
        uvicorn.run("samen.asgi:create", factory=True, host=host, port=port, workers=workers,
                    log_config=None, access_log=False, server_header=False)
    finally:
        audit_chainer.stop(chainer)


def _check_packages(packages: tuple[Path, ...], required: tuple[tuple[str, str], ...]) -> None:
    """Load the packages once before any worker starts, so a broken one stops here, its file named."""
    conformance = Conformance()
    try:
        load_packages(packages, conformance, Model.load())
    except (ConformanceError, definitions.DefinitionsMissing) as error:
        raise click.ClickException(str(error)) from error
    for res_type, url in required:
        profile = conformance.structure_definition(url)
        if profile is None:
            raise click.BadParameter(f"no profile {url} in the loaded packages", param_hint="--require-profile")
        if profile.get("type") != res_type:
            raise click.BadParameter(f"{url} is a profile on {profile.get('type')}, not on {res_type}",
                                     param_hint="--require-profile")


def _check_identity(ura: str, keys_dir: Path | None, trust_list: Path | None) -> str:
    """Read the keys and the trust list once before any worker starts; the line that says who the node is."""
    settings = Settings(ura=ura, keys_dir=str(keys_dir or ""), trust_list=str(trust_list or ""))
    try:
        auth = NodeAuth.from_settings(settings, resource_types=())
    except (IdentityError, KeyStoreError, TrustListError) as error:
        raise click.ClickException(str(error)) from error
    auth.close()
    trusted = f"trust list {trust_list}" if trust_list else "no trust list: no organisation is trusted"
    if not auth.ura:
        return f"no identity (--keys): this node issues and accepts no access tokens; {trusted}"
    return f"identity: URA {auth.ura}, keys in {keys_dir}; {trusted}"
