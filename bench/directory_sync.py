"""Directory sync at national scale: 10,000 organisations (about 100,000 directory resources) in 10 administration
directories, a root that lists them, and the update client filling an empty query directory; then 100 changes
and an incremental sync.

Targets (issue 6): the full sync in <= 120 s, the incremental sync of 100 changes in <= 2 s.

Each administration directory and the root is a real ``samen serve --open`` process (its SQLite database loaded
directly before it starts); the update client runs in this process and writes into a SQLite query directory.

    .venv/bin/python bench/directory_sync.py [--organisations 10000] [--directories 10] [--folder var/bench-dir]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import Server  # noqa: E402  (bench/run.py: samen serve in its own process group)

from samen.directory.mcsd import admin_directory_endpoint  # noqa: E402
from samen.directory.root import endpoint_id, organisation_id  # noqa: E402
from samen.directory.sync import UpdateClient  # noqa: E402
from samen.fhir.model import Model  # noqa: E402
from samen.sample import ORGANIZATION_TYPE, URA  # noqa: E402
from samen.store.db import open_database  # noqa: E402
from samen.store.store import Store  # noqa: E402

TYPES = ("V4", "Z3", "J8", "X3", "G5")
CITIES = (("Utrecht", 52.09, 5.12), ("Amsterdam", 52.37, 4.90), ("Rotterdam", 51.92, 4.48), ("Groningen", 53.22, 6.57),
          ("Eindhoven", 51.44, 5.47), ("Zwolle", 52.51, 6.09), ("Maastricht", 50.85, 5.69), ("Leeuwarden", 53.20, 5.80))


def ura_of(n: int) -> str:
    return f"{20000000 + n:08d}"


def resources_of(n: int, base: str) -> list[dict]:
    """One organisation's directory: 10 resources (Organization, 2 Locations, 2 HealthcareServices, an Endpoint,
    2 Practitioners and their PractitionerRoles)."""
    ura, o = ura_of(n), f"org{n}"
    city, lat, lon = CITIES[n % len(CITIES)]
    specialty = {"system": "urn:oid:2.16.840.1.113883.2.4.6.7", "code": f"0{300 + n % 40}"}
    found = [
        {"resourceType": "Organization", "id": o, "active": True, "name": f"Zorgorganisatie {n}",
         "identifier": [{"system": URA, "value": ura}],
         "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": TYPES[n % len(TYPES)]}]}],
         "address": [{"city": city}], "endpoint": [{"reference": f"Endpoint/{o}-fhir"}]},
        {"resourceType": "Endpoint", "id": f"{o}-fhir", "status": "active", "address": f"{base}/org/{n}",
         "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                            "code": "hl7-fhir-rest"},
         "payloadType": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/endpoint-payload-type",
                                      "code": "any"}]}],
         "managingOrganization": {"reference": f"Organization/{o}"}},
    ]
    for i in range(2):
        found += [
            {"resourceType": "Location", "id": f"{o}-loc{i}", "status": "active", "name": f"Locatie {n}.{i}",
             "managingOrganization": {"reference": f"Organization/{o}"},
             "address": {"city": city, "postalCode": f"{1000 + n % 8999} AB"},
             "position": {"latitude": lat + (n % 100) / 1000, "longitude": lon + i / 100}},
            {"resourceType": "HealthcareService", "id": f"{o}-hs{i}", "active": True, "name": f"Dienst {n}.{i}",
             "providedBy": {"reference": f"Organization/{o}"}, "location": [{"reference": f"Location/{o}-loc{i}"}],
             "specialty": [{"coding": [specialty]}]},
            {"resourceType": "Practitioner", "id": f"{o}-p{i}", "name": [{"family": f"Arts{n}x{i}"}]},
            {"resourceType": "PractitionerRole", "id": f"{o}-r{i}", "active": True,
             "organization": {"reference": f"Organization/{o}"},
             "practitioner": {"reference": f"Practitioner/{o}-p{i}"},
             "specialty": [{"coding": [specialty]}]},
        ]
    return found


def load(path: Path, model: Model, resources: list[dict]) -> None:
    database = open_database(str(path))
    database.migrate()
    store = Store(database, model)
    for start in range(0, len(resources), 5000):
        with store.session() as session:
            session.put_many(resources[start:start + 5000])
    database.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--organisations", type=int, default=10_000)
    parser.add_argument("--directories", type=int, default=10)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--folder", type=Path, default=Path("var/bench-directory"))
    options = parser.parse_args()
    shutil.rmtree(options.folder, ignore_errors=True)
    options.folder.mkdir(parents=True)
    model = Model.load()
    servers: list[Server] = []
    try:
        per = options.organisations // options.directories
        started = time.monotonic()
        admin_urls = []
        for d in range(options.directories):
            db = options.folder / f"admin{d}.db"
            load(db, model, [r for n in range(d * per, (d + 1) * per) for r in resources_of(n, "https://bench")])
        print(f"loaded {options.directories} administration directories in {time.monotonic() - started:.1f} s",
              file=sys.stderr)
        for d in range(options.directories):
            server = Server(str(options.folder / f"admin{d}.db"), 1, options.folder / f"admin{d}.log",
                            ["--open", "--log-level", "warning", "--no-access-log"])
            servers.append(server)
            admin_urls.append(server.base)
        root_entries = []
        for n in range(per * options.directories):
            ura, address = ura_of(n), admin_urls[n // per]
            root_entries += [admin_directory_endpoint(endpoint_id(ura), address, ura),
                             {"resourceType": "Organization", "id": organisation_id(ura), "active": True,
                              "identifier": [{"system": URA, "value": ura}], "name": f"Zorgorganisatie {n}",
                              "type": [{"coding": [{"system": ORGANIZATION_TYPE, "code": TYPES[n % len(TYPES)]}]}],
                              "endpoint": [{"reference": f"Endpoint/{endpoint_id(ura)}"}]}]
        load(options.folder / "root.db", model, root_entries)
        root = Server(str(options.folder / "root.db"), 1, options.folder / "root.log",
                      ["--open", "--log-level", "warning", "--no-access-log", "--role", "root-directory"])
        servers.append(root)

        database = open_database(str(options.folder / "query.db"))
        database.migrate()
        store = Store(database, model)
        client = UpdateClient(store, workers=4)
        started = time.monotonic()
        result = client.run(root.base)
        full_s = time.monotonic() - started
        print(f"full sync: {full_s:.1f} s; {result.summary()}")

        # 100 changes: updates of HealthcareServices spread over the directories (through their REST API)
        import httpx
        changed = 0
        for k in range(options.changes):
            d = k % options.directories
            n = d * per + k // options.directories
            hs = next(r for r in resources_of(n, "https://bench") if r["id"] == f"org{n}-hs0")
            hs["name"] = f"Dienst {n}.0 (gewijzigd)"
            answer = httpx.put(f"{admin_urls[d]}/HealthcareService/{hs['id']}", json=hs, timeout=30)
            changed += answer.status_code == 200
        timings = []
        for attempt in range(3):
            started = time.monotonic()
            incremental = client.run(root.base)
            timings.append(time.monotonic() - started)
            if attempt == 0:
                print(f"incremental sync after {changed} changes: {timings[0]:.2f} s; {incremental.summary()}")
        print(f"incremental syncs (first with the changes, then none): {', '.join(f'{t:.2f}' for t in timings)} s; "
              f"median {statistics.median(timings):.2f} s")
        print(f"targets: full {full_s:.1f} / 120 s = {full_s / 120:.2f}x; incremental {timings[0]:.2f} / 2 s = "
              f"{timings[0] / 2:.2f}x")
        database.close()
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
