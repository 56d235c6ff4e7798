"""A change notification counts in every worker of a data holder, not only in the one the registry reached.

Two nodes of one organisation on one database stand in for two uvicorn workers of one holder node: the
registry notifies the first only (the second's endpoint is not on the holder's listed FHIR base, so it
cannot subscribe), and the second refuses on its next request though its cached permit has long to live.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from auth.orgs import Organisation, ProfessionalIdp, get_token, write_trust_list
from holder_network import Network
from serving import free_port, served_node

from samen.auth import policy as p
from samen.fhir.model import Model
from samen.synth.bsn import synthetic_bsn

CACHE_S = 60.0  # far longer than the test: only the notice can end a cached permit


def test_a_notification_to_one_worker_counts_in_every_worker(database_url: str, model: Model, tmp_path: Path) -> None:
    dezi = ProfessionalIdp.create("https://dezi.test")
    registry_org = Organisation.create(tmp_path, "10000001", "Toestemmingsregister", "OV")
    hospital = Organisation.create(tmp_path, "20000001", "Ziekenhuis", "V4")
    gp = Organisation.create(tmp_path, "30000001", "Huisarts", "Z3")
    port = free_port()
    trust = write_trust_list(tmp_path / "trust.json", [
        registry_org.entry(), hospital.entry(fhir_base=f"http://127.0.0.1:{port}/fhir"), gp.entry()], [dezi.entry()])
    holder = {"open_mode": False, "ura": hospital.ura, "organisation_type": "V4", "trust_list": str(trust),
              "keys_dir": str(hospital.keys.directory), "consent_cache_s": CACHE_S}
    with served_node(str(tmp_path / "registry.db"), model, open_mode=False, ura=registry_org.ura,
                     organisation_type="OV", keys_dir=str(registry_org.keys.directory), trust_list=str(trust),
                     roles=("consent-registry",)) as registry, \
            served_node(database_url, model, port=port, consent_registry=registry.settings.base_url,
                        **holder) as notified, \
            served_node(database_url, model, consent_registry=registry.settings.base_url, **holder) as other:
        assert notified.services["consent-notifications"].subscribed.wait(20)
        net = Network(registry, {"ziekenhuis": (hospital, notified)}, {"Z3": gp}, dezi, trust)
        bsn = synthetic_bsn(8, 5)
        consent = net.choose(bsn, "ziekenhuis", permit=True)

        def condition(worker: str) -> int:
            node = notified if worker == "notified" else other
            token = get_token(node.settings.base_url, gp, scopes="system/*.rs", purpose=p.BGZ, patient=bsn,
                              professional=dezi.attestation(gp))
            return httpx.get(f"{node.settings.base_url}/Condition", headers={"Authorization": f"Bearer {token}"},
                             timeout=30).status_code

        assert condition("notified") == 200 and condition("other") == 200  # each worker has the permit cached
        net.withdraw(consent)
        deadline = time.monotonic() + 10
        while condition("notified") == 200:
            assert time.monotonic() < deadline, "the notified worker did not take the notification"
            time.sleep(0.05)
        assert condition("other") == 403  # its next request: the notice is shared, the cache time is not waited out
        assert not other.services["consent-notifications"].subscribed.is_set()  # it was never notified itself
