"""The demo network as one object: set up once, started and stopped as a whole; also what the tests use::

    with DemoNetwork(tmp_path / "demo", port=18400, people=5400) as network:
        httpx.get(network.plan.org("hospital").base_url + "/metadata")
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from samen.demo import plan as plans
from samen.demo import setup
from samen.demo.plan import MIN_PEOPLE, Org, Plan
from samen.demo.processes import Child, Children, samen_command

DEFAULT_SEED = 1


class DemoNetwork:
    """Every process of the demo. ``start()`` sets up what is missing (once) and starts them; ``stop()`` ends them."""

    def __init__(self, directory: Path, port: int = 8400, people: int | None = None, seed: int | None = None,
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.directory = directory.resolve()
        self.port, self.people, self.seed, self.say = port, people, seed, say
        self.children = Children()
        self.plan: Plan | None = None
        self.reused = False  # whether start() found a complete setup

    def start(self) -> DemoNetwork:
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        plan = plans.load(self.directory)
        try:
            if plan is not None:
                self._check_same(plan)
                self.reused = True
                self.say(f"Reusing the demo in {self.directory} (set up before; delete the folder to start afresh)")
            else:
                plan = setup.prepare(self.directory, self.port, self.people or MIN_PEOPLE, self.seed or DEFAULT_SEED,
                                     self.say)
            self.plan = plan
            check_ports_free(plan)
            self.say(f"Starting {len(plan.orgs) + 1} processes (logs in {self.directory / 'logs'})")
            self.children.start([idp_child(plan), *(node_child(plan, org) for org in plan.national)],
                                progress=self.say)
            self.children.start([node_child(plan, org) for org in plan.providers], progress=self.say)
            if not self.reused:
                setup.finish(plan, self.say)
        except BaseException:
            self.stop()
            raise
        self.say(f"The network is up ({time.monotonic() - started:.1f} s).")
        return self

    def stop(self) -> None:
        self.children.stop()

    def check(self) -> None:
        """Raise ChildFailed (with the tail of its log) when a process of the network stopped."""
        self.children.check()

    def child(self, key: str) -> Child:
        return self.children.find(key)

    def _check_same(self, plan: Plan) -> None:
        different = [f"--{name} {value} (set up with {was})" for name, value, was in (
            ("port", self.port, plan.port), ("people", self.people, plan.people), ("seed", self.seed, plan.seed))
            if value is not None and value != was]
        if different:
            raise ValueError(f"{self.directory} holds a demo set up differently: {', '.join(different)}; "
                             "use the same options, or another --dir")

    def __enter__(self) -> DemoNetwork:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def idp_child(plan: Plan) -> Child:
    """``samen idp``: both test identity providers, the demo's professionals, every node a client."""
    clients = [f"--client={org.base_url}={org.base_url}/{path}" for org in plan.providers
               for path in ("auth/callback", "zorgverlener/callback")]
    argv = [*samen_command(), "idp", "--port", str(plan.port), "--key", str(plan.idp_key),
            "--professionals", str(plan.professionals_file), *clients]
    return Child("idp", argv, plan.log("idp"), f"{plan.professional_idp}/.well-known/openid-configuration")


def node_child(plan: Plan, org: Org) -> Child:
    """``samen serve`` for one organisation: its own SQLite file, keys and the shared trust list."""
    argv = [*samen_command(), "serve", "--db", str(plan.db(org)), "--port", str(org.port),
            "--keys", str(plan.keys(org)), "--trust-list", str(plan.trust_list)]
    argv += [arg for role in org.roles for arg in ("--role", role)]
    if org.key == "localization-index":  # objections reach the index only through its pseudonymiser
        argv += ["--pseudonymiser", plan.org("pseudonymiser").base_url]
    if org.key == "pseudonymiser":
        argv += ["--localization-index", plan.org("localization-index").base_url]
    if org.provider:
        argv += ["--organisation-type", org.org_type,
                 "--localization-index", plan.org("localization-index").base_url,
                 "--pseudonymiser", plan.org("pseudonymiser").base_url,
                 "--consent-registry", plan.org("consent-registry").base_url,
                 "--query-directory", plan.org("query-directory").base_url,
                 "--professional-idp", plan.professional_idp]
    return Child(org.key, argv, plan.log(org.key), f"{org.base_url}/metadata")


def check_ports_free(plan: Plan) -> None:
    """ValueError naming a port of the plan that something else listens on (another demo still running?)."""
    for port in (plan.port, *(org.port for org in plan.orgs)):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: a closed
            try:                                                        # connection's TIME_WAIT does not count
                sock.bind(("127.0.0.1", port))
            except OSError as error:
                raise ValueError(f"port {port} is in use ({error.strerror}): is another demo running? "
                                 "Stop it, or use another --port with another --dir") from error
