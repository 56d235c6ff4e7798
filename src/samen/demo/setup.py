"""The demo's one-time setup, step by step, through the ``samen`` commands a real operator would use.

Before the nodes start: a synthetic region (``samen synth``), keys (``samen keys create``), the trust list,
the care providers' data and address-book entries (``samen import``), the root's listing
(``samen directory root add``) and the citizens' consent choices (``samen consent set``). Once they run:
the query directory's sync (``samen directory sync``), the trust list as the directory gives it
(``samen directory trust-list``) and the wait until every custodian has registered its patients at the
localization index (``samen localization status``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samen.auth.keys import KeyStore
from samen.demo import cast
from samen.demo.plan import REGION, Org, Plan, national_orgs, provider_orgs
from samen.demo.processes import run_steps, samen_command
from samen.directory import mcsd
from samen.directory.codes import AUTHORIZATION_SERVER, CONNECTION_TYPE, HL7_PAYLOAD_TYPE
from samen.sample import URA

Say = Callable[[str], None]


def prepare(directory: Path, port: int, people: int, seed: int, say: Say) -> Plan:
    """Everything that is done before the nodes start; returns the plan (not saved yet: that is the last step)."""
    samen = samen_command()
    synth_dir = directory / "synth"
    if not (synth_dir / "manifest.json").exists():
        shutil.rmtree(synth_dir, ignore_errors=True)  # an interrupted run: synth needs an empty folder
        say(f"[1/8] samen synth: {people:,} synthetic people in {REGION} (seed {seed})")
        run_steps([("samen synth", [*samen, "synth", "--people", str(people), "--seed", str(seed),
                                    "--region", REGION, "--out", str(synth_dir), "--no-progress"])],
                  directory / "logs" / "setup-synth.log")
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    orgs = (*national_orgs(port), *provider_orgs(manifest, port))
    providers = tuple(org for org in orgs if org.provider)
    plan = Plan(directory, port, people, seed, orgs, cast.persons(synth_dir, providers),
                cast.professionals(synth_dir, providers))

    missing = [org for org in orgs if not any(plan.keys(org).glob("*.json"))]
    say(f"[2/8] samen keys create: signing keys for {len(orgs)} organisations ({len(missing)} new)")
    for org in missing:
        shutil.rmtree(plan.keys(org), ignore_errors=True)
        plan.keys(org).mkdir(parents=True)
    run_steps([(f"keys {org.key}", [*samen, "keys", "create", "--ura", org.ura, "--dir", str(plan.keys(org))])
               for org in missing], plan.log("setup-keys"))

    say(f"[3/8] trust list {plan.trust_list} and {len(plan.professionals)} test professionals")
    write_json(plan.trust_list, trust_list(plan))
    write_json(plan.professionals_file, [vars(p) for p in plan.professionals])
    for org in providers:
        plan.publication(org).parent.mkdir(parents=True, exist_ok=True)
        plan.publication(org).write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in publication(plan, org)))

    total = sum(sum(c["resources"].values()) for c in manifest["custodians"]
                if c["folder"] in {org.folder for org in providers})
    say(f"[4/8] samen import: {total:,} resources into {len(providers)} care-provider nodes")
    plan.db(providers[0]).parent.mkdir(parents=True, exist_ok=True)
    run_steps([(f"import {org.key}", [*samen, "import", str(synth_dir / org.folder), str(plan.publication(org)),
                                      "--db", str(plan.db(org)), "--base-url", org.base_url, "--no-progress"])
               for org in providers], plan.log("setup-import"),
              progress=lambda done, all_, name: say(f"      {name} done ({done}/{all_})"))

    root = plan.org("root-directory")
    say(f"[5/8] samen directory root add: {len(providers)} organisations in the root address book")
    run_steps([(f"root add {org.key}", [*samen, "directory", "root", "add", "--db", str(plan.db(root)),
                                        "--ura", org.ura, "--name", org.name, "--type", org.org_type,
                                        "--endpoint", org.base_url]) for org in providers],
              plan.log("setup-root"), parallel=1)  # one writer at a time on the root's SQLite file

    registry = plan.org("consent-registry")
    choices = [(person, category, decision) for person in plan.persons for category, decision in person.consent]
    say(f"[6/8] samen consent set: {len(choices)} consent choices of {len(plan.persons)} people")
    run_steps([(f"consent {person.bsn} {category}", [
        *samen, "consent", "set", "--db", str(plan.db(registry)), "--bsn", person.bsn,
        "--holder-category", category, "--decision", decision]) for person, category, decision in choices],
        plan.log("setup-consent"), parallel=1)
    return plan


def finish(plan: Plan, say: Say, timeout_s: float = 300.0) -> None:
    """The steps that need the running network; then the plan is saved, marking the setup complete."""
    samen = samen_command()
    query = plan.org("query-directory")
    say("[7/8] samen directory sync: the query directory copies the root and every administration directory")
    run_steps([("directory sync", [*samen, "directory", "sync", "--db", str(plan.db(query)),
                                   "--root", plan.org("root-directory").base_url, "--keys", str(plan.keys(query)),
                                   "--exclude", query.base_url, "--report-dir", str(plan.directory / "sync-reports")]),
               ], plan.log("setup-sync"))
    run_steps([("directory trust-list", [*samen, "directory", "trust-list", "--db", str(plan.db(query)),
                                         "--out", str(plan.directory_trust_list)])], plan.log("setup-sync"))
    listed = len(json.loads(plan.directory_trust_list.read_text())["organisations"])
    say(f"      the directory lists {listed} of {len(plan.providers)} care providers with endpoints and keys")
    say("[8/8] localization: each custodian registers its patients at the index")
    wait_for_registrations(plan, say, timeout_s)
    plan.save()


def wait_for_registrations(plan: Plan, say: Say, timeout_s: float) -> dict[str, int]:
    """Poll ``samen localization status`` of every provider until none has changes waiting; the registrations."""
    deadline = time.monotonic() + timeout_s
    shown = ""
    while True:
        status = {org.key: localization_status(plan, org) for org in plan.providers}
        counts = {key: s["registrations"] for key, s in status.items()}
        line = ", ".join(f"{key} {count:,}" for key, count in counts.items())
        settled = line == shown  # the first round after an import registers in parts: wait for a still count
        if not settled:
            say(f"      registrations: {line}")
            shown = line
        if settled and all(s["pending"] == 0 and s["registrations"] > 0 and s["success"] for s in status.values()):
            return counts
        if time.monotonic() > deadline:
            errors = "; ".join(f"{key}: {s['error']}" for key, s in status.items() if s["error"])
            raise RuntimeError(f"the custodians did not finish registering within {timeout_s:.0f} s ({errors})")
        time.sleep(1.0)


def localization_status(plan: Plan, org: Org) -> dict[str, Any]:
    """``samen localization status`` of one provider, read from its output."""
    answer = subprocess.run([*samen_command(), "localization", "status", "--db", str(plan.db(org))],
                            capture_output=True, text=True, timeout=60, check=False)
    if answer.returncode != 0:
        raise RuntimeError(f"samen localization status failed for {org.key}: {answer.stderr.strip()}")
    fields = dict(line.split(":", 1) for line in answer.stdout.splitlines() if ":" in line)
    error = fields.get("last error", "").strip()
    return {"pending": int(fields["pending changes"]), "registrations": int(fields["registrations"]),
            "success": fields["last success"].strip() != "never",
            "error": "" if error == "never" else re.sub(r"\d{9}", "*********", error)}


def trust_list(plan: Plan) -> dict[str, Any]:
    """Every organisation of the demo with its keys inline, and both identity providers (docs/auth.md)."""
    organisations = [{"ura": org.ura, "name": org.name, "type": org.org_type, "active": True,
                      "endpoints": {"fhir": org.base_url, "token": f"{org.base_url}/auth/token"},
                      "jwks": KeyStore(plan.keys(org)).public_jwks()} for org in plan.orgs]
    issuers = [{"issuer": issuer, "kind": kind, "jwks_uri": f"{issuer}/jwks.json"}
               for issuer, kind in ((plan.professional_idp, "professional"), (plan.citizen_idp, "citizen"))]
    return {"organisations": organisations, "issuers": issuers}


def publication(plan: Plan, org: Org) -> list[dict[str, Any]]:
    """The provider's own address-book entries: its Organization (from synth) referring to its Endpoints:
    the FHIR base, the token endpoint and the JWKS (docs/directory.md, "Trust from the directory")."""
    organization = next(json.loads(line) for line in (plan.synth_dir / org.folder / "Organization.ndjson").open()
                        if any(i.get("system") == URA and i.get("value") == org.ura
                               for i in json.loads(line).get("identifier", [])))
    owner = {"reference": f"Organization/{organization['id']}"}
    payload = [{"coding": [{"system": HL7_PAYLOAD_TYPE, "code": "any"}]}]
    endpoints = [
        {"resourceType": "Endpoint", "id": f"{org.ura}-fhir", "status": "active", "address": org.base_url,
         "connectionType": {"system": CONNECTION_TYPE, "code": mcsd.FHIR_REST}, "payloadType": payload,
         "payloadMimeType": [mcsd.FHIR_JSON_MIME], "managingOrganization": owner, "name": f"{org.name}: FHIR"},
        {"resourceType": "Endpoint", "id": f"{org.ura}-token", "status": "active",
         "address": f"{org.base_url}/auth/token", "connectionType": {"system": AUTHORIZATION_SERVER,
                                                                     "code": mcsd.OAUTH2},
         "payloadType": payload, "managingOrganization": owner, "name": f"{org.name}: token endpoint"},
        {"resourceType": "Endpoint", "id": f"{org.ura}-jwks", "status": "active",
         "address": f"{org.base_url}/.well-known/jwks.json",
         "connectionType": {"system": AUTHORIZATION_SERVER, "code": mcsd.OAUTH2}, "payloadType": payload,
         "payloadMimeType": [mcsd.JWK_SET_MIME], "managingOrganization": owner, "name": f"{org.name}: keys"},
    ]
    organization["endpoint"] = [{"reference": f"Endpoint/{e['id']}"} for e in endpoints]
    return [*endpoints, organization]


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False))
    temporary.replace(path)

