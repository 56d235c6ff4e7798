"""``samen quickstart``: a working node with synthetic Dutch sample data, and requests to try on it.

Fetches the R4 definitions if needed, loads :func:`samen.sample.sample_bundle` as one transaction
(only when the database holds no sample data yet, so running it again changes nothing), prints the
base URL and ``curl`` commands built from the data that is really there, then serves the node the
way ``samen serve`` does.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import click
import orjson

from samen.cli_options import db_option, safe_url
from samen.fhir import definitions
from samen.sample import BSN, LOINC, MAX_PATIENTS, SYNTHETIC_TAG, sample_bundle
from samen.server import serve
from samen.settings import Settings, open_mode_refusal

if TYPE_CHECKING:  # the node is imported when used, so that `samen --help` stays light
    from samen.node import Node

DEFAULT_DB = "var/quickstart.db"
SYNTHETIC = f"{SYNTHETIC_TAG['system']}|{SYNTHETIC_TAG['code']}"


@dataclass(frozen=True)
class Example:
    """One request to try: what it shows, and the request itself."""

    title: str
    method: str
    url: str  # absolute, query included
    body: dict[str, Any] | None = None

    def curl(self) -> str:
        args = ["curl", "-s"]
        if self.method != "GET":
            args += ["-X", self.method]
        args.append(self.url)
        if self.body is not None:
            args += ["-H", "Content-Type: application/fhir+json", "-d", orjson.dumps(self.body).decode()]
        return shlex.join(args)


@dataclass(frozen=True)
class Result:
    loaded: int  # resources created now; 0 when the sample data was already there
    examples: list[Example]


def prepare(db_url: str, base_url: str, patients: int = 25, seed: int = 1) -> Result:
    """Open the node at ``db_url``, load the sample data unless present, and build the examples."""
    from samen.node import Node

    node = Node.open(db_url, Settings(base_url=base_url))
    try:
        loaded = 0
        if _sample_patient(node) is None:
            loaded = load(node, sample_bundle(patients, seed))
        patient = _sample_patient(node)
        assert patient is not None, "the sample data did not load"
        return Result(loaded, examples(base_url, patient))
    finally:
        node.close()


def load(node: Node, bundle: dict[str, Any]) -> int:
    """Post ``bundle`` (a transaction) to the node; returns the number of entries it created."""
    from samen.api.messages import FhirRequest
    from samen.auth.enforcement import OPERATOR_CONTEXT

    request = FhirRequest("POST", "", body=bundle, base_url=node.settings.base_url, access=OPERATOR_CONTEXT)
    response = node.router.handle(request)
    payload = response.payload()
    answer = orjson.loads(payload) if payload else {}
    return sum(1 for entry in answer.get("entry", []) if entry.get("response", {}).get("status", "").startswith("201"))


def _sample_patient(node: Node) -> dict[str, Any] | None:
    """A Patient carrying the synthetic tag, or None when there is none."""
    from samen.api.messages import FhirRequest
    from samen.auth.enforcement import OPERATOR_CONTEXT

    params = [("_tag", SYNTHETIC), ("_count", "1")]
    request = FhirRequest("GET", "Patient", params, base_url=node.settings.base_url, access=OPERATOR_CONTEXT)
    response = node.router.handle(request)
    payload = response.payload()
    entries = orjson.loads(payload).get("entry", []) if payload else []
    return entries[0]["resource"] if entries else None


def examples(base_url: str, patient: dict[str, Any]) -> list[Example]:
    """Requests that answer with real data: they use this patient's id, BSN and family name."""
    ref = f"Patient/{patient['id']}"
    bsn = next(i["value"] for i in patient["identifier"] if i.get("system") == BSN)
    family = patient["name"][0]["family"]

    def url(path: str, *params: tuple[str, str]) -> str:
        query = urlencode(params, safe=":/|", quote_via=quote)
        return f"{base_url}/{path}" + (f"?{query}" if query else "")

    new_patient = {
        "resourceType": "Patient",
        "meta": {"tag": [SYNTHETIC_TAG]},
        "name": [{"family": "Jansen", "given": ["Sanne"]}],
        "gender": "female",
        "birthDate": "1990-02-14",
    }
    return [
        Example("What this node supports (CapabilityStatement)", "GET", url("metadata")),
        Example("A patient by BSN", "GET", url("Patient", ("identifier", f"{BSN}|{bsn}"))),
        Example("Patients by family name", "GET", url("Patient", ("family", family))),
        Example(
            "This patient's blood pressures, newest first",
            "GET",
            url("Observation", ("subject", ref), ("code", f"{LOINC}|85354-9"), ("_sort", "-date")),
        ),
        Example(
            "This patient's prescriptions, with the prescribing practitioners included",
            "GET",
            url("MedicationRequest", ("subject", ref), ("_include", "MedicationRequest:requester")),
        ),
        Example("The version history of this patient", "GET", url(f"{ref}/_history")),
        Example("Create a patient", "POST", url("Patient"), new_patient),
    ]


@click.command()
@db_option(DEFAULT_DB, envvar=None)  # never SAMEN_DB: sample data must not land in a real node's store
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on: a loopback address, since the quickstart node runs in open mode.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port to listen on.")
@click.option("--patients", default=25, show_default=True, type=click.IntRange(1, MAX_PATIENTS),
              help="Number of sample patients.")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the sample data generator.")
@click.option("--no-serve", is_flag=True, help="Load the data and print the examples, then exit.")
@click.pass_context
def quickstart(ctx: click.Context, db_url: str, host: str, port: int, patients: int, seed: int,
               no_serve: bool) -> None:
    """Start here: a node with synthetic Dutch sample data, and requests to try.

    Loads the sample data into --db (once; running it again loads nothing), prints the base URL and
    curl commands that work on that data, then serves the node like `samen serve --open`: in open
    development mode, without authentication, so only on a loopback address.
    """
    if not definitions.compact_path().exists():
        click.echo("Fetching the FHIR R4 definitions (once)...", err=True)
    definitions.fetch()
    base_url = f"http://{host}:{port}/fhir"
    if open_mode_refusal(base_url, host):
        raise click.UsageError(open_mode_refusal(base_url, host))
    result = prepare(db_url, base_url, patients, seed)
    if result.loaded:
        click.echo(f"Loaded {result.loaded} synthetic resources ({patients} patients, seed {seed}) "
                   f"into {safe_url(db_url)}.")
    else:
        click.echo(f"{safe_url(db_url)} already holds the sample data; nothing loaded.")
    click.echo(f"\nFHIR base URL: {base_url}")
    click.echo("Open development mode: no access token needed. A real node refuses patient data without one "
               "(samen serve without --open).")
    click.echo(f"All sample data is made up and tagged {SYNTHETIC}. Try:\n")
    for example in result.examples:
        click.echo(f"# {example.title}\n{example.curl()}\n")
    if no_serve:
        click.echo(f"Serve it with: samen serve --open --db {shlex.quote(safe_url(db_url))} --host {host} "
                   f"--port {port}")
        return
    ctx.invoke(serve, db_url=db_url, host=host, port=port, open_mode=True)
