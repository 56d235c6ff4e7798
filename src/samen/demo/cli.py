"""``samen demo``: the whole network on this machine, with data, logins and scenarios to try."""

from __future__ import annotations

import signal
import textwrap
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

from samen.demo.plan import MIN_PEOPLE, Plan

SHOWN_PER_PROVIDER = 3  # professionals printed per care provider: one per role, the nurse first (eOverdracht)
NURSE = "30.000"
WIDTH = 110  # of the printed scenarios


@click.command("demo")
@click.option("--dir", "directory", default="var/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo keeps its databases, keys, logs and synthetic data (reused by the next run).")
@click.option("--port", default=8400, show_default=True, type=click.IntRange(1024, 65000),
              help="First port: the identity providers; national roles on the next ports, care providers from +10.")
@click.option("--people", type=click.IntRange(MIN_PEOPLE), default=None,
              help=f"Synthetic people in the region (first run) [default: {MIN_PEOPLE:,}, enough for two GP practices].")
@click.option("--seed", type=click.IntRange(0), default=None, help="Seed of the synthetic region (first run) [default: 1].")
def demo_command(directory: Path, port: int, people: int | None, seed: int | None) -> None:
    """Start a whole network on loopback: national roles and care providers, each its own process.

    \b
    The first run makes a synthetic region (samen synth), loads each care provider's data into its own
    node, fills the address book, registers the patients at the localization index and records some
    consent choices; a next run reuses all of it and starts in seconds. Prints the URLs, demo logins
    and scenarios to try, then runs until Ctrl-C, which stops every process.
    """
    from samen.demo.network import DemoNetwork
    from samen.demo.processes import ChildFailed

    previous = _stop_on_signals()
    network = DemoNetwork(directory, port, people, seed, say=lambda line: click.echo(line, err=True))
    try:
        network.start()
        assert network.plan is not None
        click.echo(summary(network.plan))
        while True:
            network.check()
            time.sleep(0.5)
    except ChildFailed as failed:
        raise click.ClickException(str(failed)) from failed
    except (ValueError, RuntimeError) as error:
        raise click.ClickException(str(error)) from error
    except KeyboardInterrupt:
        click.echo("\nStopping the demo...", err=True)
    finally:
        network.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("All demo processes stopped.", err=True)


def _stop_on_signals() -> dict[signal.Signals, Any]:
    """SIGINT (Ctrl-C) and SIGTERM stop the demo, also when it was started with SIGINT ignored (as a background
    job of a script is); returns the handlers they replace."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    return {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}


def summary(plan: Plan) -> str:
    """The URLs, logins and scenarios, as printed once the network is up."""
    lines = ["", "samen demo: a health-data network on this machine (all data synthetic)", "",
             "National roles:"]
    lines += [f"  {org.name:<42} {org.base_url}" for org in plan.national]
    lines += [f"  {'Test identity providers (DigiD-/Dezi-like)':<42} {plan.citizen_idp}  {plan.professional_idp}",
              "", "Care providers (each a node with its own SQLite file):"]
    lines += [f"  {org.key:<13} {org.name:<40} URA {org.ura}  {org.base_url}" for org in plan.providers]
    lines += ["", "Demo people (look them up by BSN in the clinician view):"]
    lines += [f"  BSN {p.bsn}  {p.name} ({p.birth_date}): {p.story}; held by {', '.join(p.custodians)}"
              for p in plan.persons]
    lines += ["", "Demo professionals (choose one at the professional IdP):"]
    for org in plan.providers:
        by_role = {p.role: p for p in reversed(plan.professionals) if p.ura == org.ura}  # the first of each role
        shown = sorted(by_role.values(), key=lambda p: (p.role != NURSE, p.role))[:SHOWN_PER_PROVIDER]
        lines += [f"  {org.key:<13} UZI {p.uzi}  {p.name} ({p.role_name})" for p in shown]
    lines += ["", "Scenarios to try:"] + [textwrap.fill(s, WIDTH, initial_indent=f"  {n}. ", subsequent_indent="     ")
                                          for n, s in enumerate(scenarios(plan), start=1)]
    lines += ["", "Every node: [base]/metadata, its address book at [base]/beheer/adresboek, audit trail with "
              "`samen audit verify --db <file>`; logs in " + str(plan.directory / "logs"),
              "Press Ctrl-C to stop every process."]
    return "\n".join(lines)


def scenarios(plan: Plan) -> list[str]:
    four, refuser = plan.persons[0], plan.persons[1]
    gp = next(k for k in four.custodians if k.startswith("gp-"))
    refuser_gp = next(k for k in refuser.custodians if k.startswith("gp-"))
    gp_base, hospital_base = plan.org(gp).base_url, plan.org("hospital").base_url
    return [
        f"A GP asks for a hospital patient's BgZ: log in at {gp_base}/zorgverlener as a GP of {gp}, look up "
        f"BSN {four.bsn}: one overview from the GP practice, the pharmacy, the hospital and the nursing home, each "
        "entry naming its source.",
        f"A hospital nurse hands over to the nursing home: log in at {hospital_base}/zorgverlener as a "
        f"verpleegkundige, open BSN {four.bsn} and start an eOverdracht to {plan.org('nursing-home').name}; "
        f"accept it at {plan.org('nursing-home').base_url}/zorgverlener.",
        f"A patient's \"no\" refuses one custodian: as a GP of {refuser_gp}, ask for BSN {refuser.bsn}'s BgZ at "
        f"{plan.org(refuser_gp).base_url}/zorgverlener; the hospital answers 403 (no consent for hospitals) and is "
        "listed as refused, the GP practice and pharmacy answer.",
    ]
