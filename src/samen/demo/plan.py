"""Which organisations the demo runs, on which ports, with which files: everything decided before anything starts.

The national roles get fixed synthetic URAs; the care providers are taken from the ``samen synth`` manifest
(a hospital, two GP practices, a pharmacy and a nursing home). The plan is written to ``demo.json`` as the
last step of the setup, so its presence marks a complete setup, and a second run reads it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REGION = "Haaglanden"
GP_PEOPLE = 3_600  # samen synth makes one GP practice per 3,600 people (round), so two need 5,400
MIN_PEOPLE = 5_400
PLAN_FILE = "demo.json"

# Each care-provider kind the demo runs: (synth kind, key prefix, how many, consent holder category)
PROVIDER_KINDS: tuple[tuple[str, str, int, str], ...] = (
    ("hospital", "hospital", 1, "ziekenhuis"),
    ("gp", "gp", 2, "huisarts"),
    ("pharmacy", "pharmacy", 1, "apotheek"),
    ("nursing-home", "nursing-home", 1, "vvt"),
)


@dataclass(frozen=True)
class Org:
    """One organisation and its node: a national role or a care provider."""

    key: str  # short name, also the file names: "hospital", "gp-1", "localization-index", ...
    name: str
    ura: str
    org_type: str  # RoleCodeNL zorgaanbiedertype; NATIONAL_SERVICE for the national services
    port: int
    roles: tuple[str, ...] = ()  # samen serve --role ...
    folder: str = ""  # the synth folder of a care provider
    holder_category: str = ""  # its consent catalogue category

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def provider(self) -> bool:
        return bool(self.folder)


@dataclass(frozen=True)
class Person:
    """A synthetic person the scenarios use, with the custodians (org keys) that hold data about them."""

    bsn: str
    name: str
    birth_date: str
    custodians: tuple[str, ...]
    consent: tuple[tuple[str, str], ...]  # (holder category, "yes" | "no") recorded at the registry
    story: str  # what the person shows in the demo


@dataclass(frozen=True)
class Professional:
    """A test professional of the professional IdP (the fields of samen.idp.people.TestProfessional)."""

    uzi: str
    name: str
    role: str
    role_name: str
    ura: str
    organisation: str


# RoleCodeNL has no code for a national service; this type is in no care-exchange rule of the policy, so a national
# service can never pass as a care provider (its own purposes, such as localization-register, ask no type)
NATIONAL_SERVICE = "national-service"
# The national services: fixed synthetic URAs (9 series) and port offsets from --port
NATIONAL: tuple[tuple[str, str, str, int, tuple[str, ...]], ...] = (
    ("root-directory", "Landelijk Register Zorgaanbieders (root)", "90000801", 1, ("root-directory",)),
    ("query-directory", "Adresboek (zoekdirectory)", "90000802", 2, ("query-directory",)),
    ("pseudonymiser", "Pseudonimiseringsdienst", "90000803", 3, ("pseudonymiser",)),
    ("localization-index", "Nationale Verwijsindex", "90000804", 4, ("localization-index",)),
    ("consent-registry", "Toestemmingsregister", "90000805", 5, ("consent-registry",)),
)
PROVIDER_PORT_OFFSET = 10


@dataclass(frozen=True)
class Plan:
    directory: Path
    port: int  # the identity providers' port; the nodes follow
    people: int
    seed: int
    orgs: tuple[Org, ...]
    persons: tuple[Person, ...] = ()
    professionals: tuple[Professional, ...] = ()
    region: str = REGION

    # -- the processes' addresses
    @property
    def idp_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def professional_idp(self) -> str:
        return f"{self.idp_url}/professional"

    @property
    def citizen_idp(self) -> str:
        return f"{self.idp_url}/citizen"

    def org(self, key: str) -> Org:
        return next(org for org in self.orgs if org.key == key)

    @property
    def providers(self) -> tuple[Org, ...]:
        return tuple(org for org in self.orgs if org.provider)

    @property
    def national(self) -> tuple[Org, ...]:
        return tuple(org for org in self.orgs if not org.provider)

    # -- the files
    def db(self, org: Org) -> Path:
        return self.directory / "db" / f"{org.key}.db"

    def keys(self, org: Org) -> Path:
        return self.directory / "keys" / org.key

    def log(self, name: str) -> Path:
        return self.directory / "logs" / f"{name}.log"

    @property
    def synth_dir(self) -> Path:
        return self.directory / "synth"

    @property
    def trust_list(self) -> Path:
        return self.directory / "trust.json"

    @property
    def directory_trust_list(self) -> Path:
        """The trust list as the query directory gives it after the sync (for comparison; nodes use trust.json)."""
        return self.directory / "trust-from-directory.json"

    @property
    def professionals_file(self) -> Path:
        return self.directory / "professionals.json"

    @property
    def idp_key(self) -> Path:
        return self.directory / "keys" / "idp-key.json"

    def publication(self, org: Org) -> Path:
        """The ndjson file of the provider's address-book entries (Organization with its Endpoints)."""
        return self.directory / "directory" / f"{org.key}.ndjson"

    # -- the marker
    def save(self) -> None:
        """Write the plan: the last step of a complete setup."""
        document = asdict(self)
        document["directory"] = str(self.directory)
        temporary = self.directory / f"{PLAN_FILE}.tmp"
        temporary.write_text(json.dumps(document, indent=2, ensure_ascii=False))
        temporary.replace(self.directory / PLAN_FILE)


def load(directory: Path) -> Plan | None:
    """The plan of a complete setup in ``directory``, or None when there is none (yet)."""
    path = directory / PLAN_FILE
    if not path.exists():
        return None
    document = json.loads(path.read_text())
    return Plan(
        directory=directory, port=document["port"], people=document["people"], seed=document["seed"],
        orgs=tuple(Org(**{**o, "roles": tuple(o["roles"])}) for o in document["orgs"]),
        persons=tuple(Person(**{**p, "custodians": tuple(p["custodians"]),
                                "consent": tuple(tuple(c) for c in p["consent"])}) for p in document["persons"]),
        professionals=tuple(Professional(**p) for p in document["professionals"]),
        region=document["region"],
    )


def national_orgs(port: int) -> tuple[Org, ...]:
    return tuple(Org(key, name, ura, NATIONAL_SERVICE, port + offset, roles) for key, name, ura, offset, roles in NATIONAL)


def provider_orgs(manifest: dict[str, Any], port: int) -> tuple[Org, ...]:
    """The demo's care providers from a synth manifest, the busiest of each kind first.

    Raises ValueError when the region has too few (two GP practices need at least 5,400 people).
    """
    custodians = sorted(manifest["custodians"], key=lambda c: -c["resources"].get("Patient", 0))
    national_uras = {ura for _, _, ura, _, _ in NATIONAL}
    chosen: list[Org] = []
    for kind, prefix, count, holder_category in PROVIDER_KINDS:
        of_kind = [c for c in custodians if c["kind"] == kind][:count]
        if len(of_kind) < count:
            raise ValueError(f"the synthetic region has {len(of_kind)} {kind} organisation(s), the demo needs {count}: "
                             f"use --people {MIN_PEOPLE} or more (one GP practice per {GP_PEOPLE:,} people)")
        for number, custodian in enumerate(of_kind, start=1):
            if custodian["ura"] in national_uras:
                raise ValueError(f"synthetic URA {custodian['ura']} is one of the national services': use another --seed")
            key = prefix if count == 1 else f"{prefix}-{number}"
            chosen.append(Org(key, custodian["name"], custodian["ura"], custodian["type"]["code"],
                              port + PROVIDER_PORT_OFFSET + len(chosen), folder=custodian["folder"],
                              holder_category=holder_category))
    return tuple(chosen)
