"""Who appears in the demo: the synthetic people the scenarios use and the professionals who can log in.

Both are read from the ``samen synth`` output of the chosen care providers (their Patient and
PractitionerRole files), so the logins and BSNs printed are ones the nodes really hold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from samen.demo.plan import Org, Person, Professional
from samen.sample import BSN

UZI = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers"


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        with path.open("rb") as file:
            yield from (orjson.loads(line) for line in file if line.strip())


def _bsn(patient: dict[str, Any]) -> str:
    return next((i["value"] for i in patient.get("identifier", []) if i.get("system") == BSN), "")


def persons(synth_dir: Path, providers: tuple[Org, ...]) -> tuple[Person, ...]:
    """Three people of the scenarios: one at four custodians (all "yes"), one whose "no" refuses the hospital,
    one of the other GP practice. Raises ValueError when the region has no such people."""
    held: dict[str, set[str]] = defaultdict(set)
    about: dict[str, tuple[str, str]] = {}
    for org in providers:
        for patient in _lines(synth_dir / org.folder / "Patient.ndjson"):
            bsn = _bsn(patient)
            held[bsn].add(org.key)
            official = patient.get("name", [{}])[0]
            about[bsn] = (official.get("text", ""), patient.get("birthDate", ""))

    def first(wanted: set[str], unwanted: set[str] = frozenset(), taken: tuple[str, ...] = ()) -> str:
        for bsn in sorted(held):
            keys = {k.split("-")[0] if k.startswith("gp-") else k for k in held[bsn]}
            if wanted <= keys and not unwanted & keys and bsn not in taken:
                return bsn
        raise ValueError(f"no person in the synthetic region is known to {', '.join(sorted(wanted))}: "
                         "use more --people or another --seed")

    everyone = {org.holder_category for org in providers}
    four = first({"hospital", "nursing-home", "gp", "pharmacy"})
    refuser = first({"hospital", "gp", "pharmacy"}, {"nursing-home"}, (four,))
    gp_of_four = next(k for k in held[four] if k.startswith("gp-"))
    other_gp = next(org.key for org in providers if org.key.startswith("gp-") and org.key != gp_of_four)
    other = next(bsn for bsn in sorted(held) if other_gp in held[bsn] and "hospital" in held[bsn]
                 and bsn not in (four, refuser))

    def person(bsn: str, consent: tuple[tuple[str, str], ...], story: str) -> Person:
        name, birth_date = about[bsn]
        return Person(bsn, name, birth_date, tuple(sorted(held[bsn])), consent, story)

    yes_to_all = tuple((category, "yes") for category in sorted(everyone))
    return (
        person(four, yes_to_all, "data at four custodians, said yes to all: the full BgZ; hospital to nursing home"),
        person(refuser, (("apotheek", "yes"), ("huisarts", "yes"), ("ziekenhuis", "no")),
               "said no for hospitals: the hospital refuses, the others answer"),
        person(other, yes_to_all, f"patient of the other GP practice ({other_gp}), said yes to all"),
    )


def professionals(synth_dir: Path, providers: tuple[Org, ...]) -> tuple[Professional, ...]:
    """Every practitioner role of the chosen providers, as test professionals of the professional IdP."""
    found = []
    for org in providers:
        for role in _lines(synth_dir / org.folder / "PractitionerRole.ndjson"):
            practitioner = role.get("practitioner", {})
            uzi = practitioner.get("reference", "").rsplit("/", 1)[-1]
            coding = next(iter(c for s in role.get("specialty", []) for c in s.get("coding", [])), {})
            if uzi and coding.get("code"):
                found.append(Professional(uzi, practitioner.get("display", uzi), coding["code"],
                                          coding.get("display", coding["code"]), org.ura, org.name))
    return tuple(found)
