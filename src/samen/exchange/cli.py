"""``samen bgz``: a person's BgZ (or medication overview) from every custodian, from the command line.

The command opens this organisation's node (its database, keys, trust list and the exchange settings, as
``samen serve`` takes them) and asks it ``$bgz`` (or ``$medication-overview``) in-process as the professional
of the attestation (:func:`samen.exchange.operations.ask`, as the clinician view does), so the call passes the
node's policy and lands on its audit trail. It prints a summary per section and per custodian, or the Bundle with ``--json``.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

import click
import orjson

from samen import logs
from samen.auth.attestations import AttestationError, verify_professional
from samen.auth.policy import BGZ, MEDICATION
from samen.cli_options import db_option
from samen.exchange.bgz import SERVICE
from samen.exchange.bgz_queries import SECTIONS
from samen.exchange.merge import SECTION_EXTENSION, SOURCE_EXTENSION
from samen.exchange.operations import ask
from samen.fhir.outcome import FhirError
from samen.node import Node
from samen.sample import elfproef
from samen.settings import Settings


@click.command("bgz")
@click.option("--patient", "bsn", required=True, help="The person's BSN.")
@click.option("--attestation", "attestation_file", required=True, type=click.File("r"),
              help="File with the professional's attestation (JWT from the professional IdP); - for stdin.")
@click.option("--medication", is_flag=True, help="The medication overview instead of the BgZ.")
@click.option("--json", "as_json", is_flag=True, help="Print the FHIR Bundle instead of the summary.")
@db_option()
@click.option("--base-url", envvar="SAMEN_BASE_URL", default="http://127.0.0.1:8080/fhir", show_default=True,
              help="This node's FHIR base URL.")
@click.option("--keys", "keys_dir", envvar="SAMEN_KEYS", required=True, help="This organisation's key directory.")
@click.option("--trust-list", envvar="SAMEN_TRUST_LIST", required=True, help="The trust list file.")
@click.option("--organisation-type", envvar="SAMEN_ORGANISATION_TYPE", default="", help="RoleCodeNL type of this "
                                                                                         "organisation.")
@click.option("--query-directory", envvar="SAMEN_QUERY_DIRECTORY", required=True, metavar="FHIR_BASE")
@click.option("--localization-index", envvar="SAMEN_LOCALIZATION_INDEX", required=True, metavar="FHIR_BASE")
@click.option("--pseudonymiser", envvar="SAMEN_PSEUDONYMISER", required=True, metavar="FHIR_BASE")
@click.option("--exchange-timeout", "timeout_s", envvar="SAMEN_EXCHANGE_TIMEOUT_S", default=10.0, show_default=True,
              type=click.FloatRange(0.1, 300), help="Seconds one custodian may take.")
def bgz_command(bsn: str, attestation_file: Any, medication: bool, as_json: bool, db_url: str, base_url: str,
                keys_dir: str, trust_list: str, organisation_type: str, query_directory: str,
                localization_index: str, pseudonymiser: str, timeout_s: float) -> None:
    """Fetch a person's BgZ (or --medication overview) from every custodian the localization index names."""
    if not elfproef(bsn):
        raise click.BadParameter(f"{bsn} is not a valid BSN", param_hint="--patient")
    attestation = attestation_file.read().strip()
    logs.configure("warning")  # on stderr: stdout is the summary or the Bundle
    settings = Settings(base_url=base_url.rstrip("/"), keys_dir=keys_dir, trust_list=trust_list,
                        organisation_type=organisation_type, query_directory=query_directory,
                        localization_index=localization_index, pseudonymiser=pseudonymiser,
                        exchange_timeout_s=timeout_s, access_log=False)
    node = Node.open(db_url, settings)
    try:
        bundle = _ask(node, bsn, attestation, MEDICATION if medication else BGZ)
    finally:
        node.close()
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(bundle, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        click.echo(summary(bundle))


def _ask(node: Node, bsn: str, attestation: str, purpose: str) -> dict[str, Any]:
    """The operation's Bundle, asked in-process as the attestation's professional of this organisation."""
    if SERVICE not in node.services:
        raise click.ClickException("the exchange is not configured on this node")
    try:
        professional = verify_professional(attestation, node.auth.trust)
        return ask(node, professional, bsn, attestation, purpose, client="cli").to_bundle()
    except AttestationError as error:
        raise click.ClickException(str(error)) from error
    except FhirError as error:
        raise click.ClickException(error.message) from error


def summary(bundle: dict[str, Any]) -> str:
    """Per section its entries (what, where from), then how each custodian answered."""
    by_section: dict[str, list[str]] = defaultdict(list)
    outcome: dict[str, Any] = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] == "OperationOutcome":
            outcome = resource
            continue
        code = next((x["valueCode"] for x in entry.get("extension", []) if x["url"] == SECTION_EXTENSION), "")
        sources = [sub["valueReference"]["display"] for x in entry.get("extension", []) if x["url"] == SOURCE_EXTENSION
                   for sub in x["extension"] if sub["url"] == "custodian"]
        by_section[code].append(f"  {describe(resource)}  [{', '.join(sources)}]")
    titles = {spec.code: spec.title_en for spec in SECTIONS}
    lines = []
    for code, found in by_section.items():
        lines.append(f"{titles.get(code, 'Medication overview')} ({len(found)})")
        lines.extend(found)
    lines.append("Custodians")
    lines.extend(f"  {issue['diagnostics']}" for issue in outcome.get("issue", []))
    return "\n".join(lines)


def describe(resource: dict[str, Any]) -> str:
    """A one-line description: type, what (code, medication or name), when and status."""
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or resource.get("vaccineCode") or {}
    what = concept.get("text") or next((c.get("display") or c.get("code") for c in concept.get("coding") or []), "")
    if resource["resourceType"] == "Patient":
        name = (resource.get("name") or [{}])[0]
        what = " ".join([*name.get("given", []), name.get("family", "")]).strip()
    when = next((resource[k] for k in ("effectiveDateTime", "authoredOn", "whenHandedOver", "onsetDateTime",
                                       "recordedDate", "birthDate", "occurrenceDateTime") if resource.get(k)), "")
    status = resource.get("status", "")
    return " ".join(part for part in (resource["resourceType"], what, when, f"({status})" if status else "") if part)
