"""``samen consent set|show``: the registry's operator (or a demo) records and lists a citizen's choices.

Both run in-process through the router as the operator, so a choice set here is validated, compiled
and notified exactly like one from a PGO.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click
import orjson

from samen.api.messages import FhirRequest, FhirResponse
from samen.auth.enforcement import OPERATOR_CONTEXT
from samen.cli_options import db_option
from samen.consent import catalogue, choices
from samen.fhir.outcome import FhirError
from samen.node import Node
from samen.sample import BSN, elfproef
from samen.settings import Settings


def _codes(kind: str) -> click.Choice:
    return click.Choice([code for code, _, _ in getattr(catalogue, f"{kind}_categories")()])


@click.group("consent")
def consent_group() -> None:
    """The consent registry (Mitz-like): citizens' choices."""


@consent_group.command("set")
@db_option()
@click.option("--bsn", required=True, help="The citizen's BSN.")
@click.option("--holder-category", required=True, type=_codes("holder"), help="Category of the data holder.")
@click.option("--data-category", type=_codes("data"), help="Data category [default: all data].")
@click.option("--requester-category", type=_codes("requester"), help="Category of the requester [default: all].")
@click.option("--decision", required=True, type=click.Choice(["yes", "no"]))
def set_command(db_url: str, bsn: str, holder_category: str, data_category: str | None,
                requester_category: str | None, decision: str) -> None:
    """Record a choice; an active choice for the same combination gets a new version (its history shows both)."""
    _check_bsn(bsn)
    choice = choices.Choice(holder_category, data_category or choices.ANY, requester_category or choices.ANY,
                            decision == "yes")
    node = Node.open(db_url, Settings(roles=("consent-registry",)))
    try:
        with node.store.session(write=False) as session:
            rows = session.conn.execute(
                "SELECT consent_id FROM consent_choice WHERE bsn = ? AND holder_category = ? AND data_category = ? "
                "AND requester_category = ? ORDER BY updated_ms DESC", (bsn, choice.holder, choice.data, choice.requester))
        body = choices.consent_resource("", bsn, choice, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        del body["patient"]["reference"]  # the registry refers it to its Patient for the BSN
        if rows:
            response = _ask(node, FhirRequest("PUT", f"Consent/{rows[0][0]}", body={**body, "id": rows[0][0]}))
        else:
            response = _ask(node, FhirRequest("POST", "Consent", body=body))
    finally:
        node.close()
    assert response.stored is not None
    click.echo(f"Consent/{response.stored.res_id} version {response.stored.version}: {choice.describe()}")


@consent_group.command("show")
@db_option()
@click.option("--bsn", required=True, help="The citizen's BSN.")
def show_command(db_url: str, bsn: str) -> None:
    """List a citizen's choices, newest first, with their status."""
    _check_bsn(bsn)
    node = Node.open(db_url, Settings(roles=("consent-registry",)))
    try:
        patients = _entries(_ask(node, FhirRequest("GET", "Patient", [("identifier", f"{BSN}|{bsn}")])))
        found = [] if not patients else _entries(_ask(node, FhirRequest(
            "GET", "Consent", [("patient", f"Patient/{patients[0]['id']}"), ("_sort", "-_lastUpdated"),
                               ("_count", "1000")])))
    finally:
        node.close()
    if not found:
        click.echo(f"no choices recorded for {bsn}: every closed question is answered deny")
    for consent in found:
        try:
            described = choices.read_choice(consent).describe()
        except FhirError:
            described = "(not a catalogue choice)"
        click.echo(f"Consent/{consent['id']} v{consent['meta']['versionId']} {consent['status']:<8} {described} "
                   f"({consent.get('dateTime', '')})")


def _ask(node: Node, request: FhirRequest) -> FhirResponse:
    request.access, request.base_url = OPERATOR_CONTEXT, node.settings.base_url
    try:
        return node.router.handle(request)
    except FhirError as error:
        raise click.ClickException(error.message) from error


def _entries(response: FhirResponse) -> list[dict[str, Any]]:
    payload = response.payload()
    return [entry["resource"] for entry in orjson.loads(payload or b"{}").get("entry", [])]


def _check_bsn(bsn: str) -> None:
    if not elfproef(bsn):
        raise click.BadParameter(f"{bsn} is not a valid BSN", param_hint="--bsn")
