"""``samen idp``: the test citizen and professional identity providers, in one process."""

from __future__ import annotations

from pathlib import Path

import click

from samen import logs
from samen.idp.http import create_idp_app
from samen.idp.keys import IdpKey
from samen.idp.people import DEFAULT_PROFESSIONALS, load_professionals
from samen.idp.providers import CITIZEN_PATH, PROFESSIONAL_PATH, parse_clients, test_providers


@click.command("idp")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8090, show_default=True, type=int, help="TCP port to listen on.")
@click.option("--base-url", default=None, help="Public base URL [default: http://HOST:PORT].")
@click.option("--client", "clients", multiple=True, metavar="CLIENT_ID=REDIRECT_URI",
              help="A relying party and one of its redirect URIs; repeatable. No other client is served.")
@click.option("--key", "key_path", default="var/idp-key.json", show_default=True, type=click.Path(path_type=Path),
              help="The IdPs' signing key (a private JWK); made when absent.")
@click.option("--professionals", "professionals_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON list of test professionals (uzi, name, role, role_name, ura, organisation) "
                   "instead of the built-in ones.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def idp_command(host: str, port: int, base_url: str | None, clients: tuple[str, ...], key_path: Path,
                professionals_path: Path | None, log_level: str) -> None:
    """Serve the test identity providers: a citizen IdP (DigiD-like, log in with a synthetic BSN)
    at BASE/citizen and a professional IdP (Dezi-like, choose a test professional) at BASE/professional.

    Both are OpenID Connect providers (authorization code + PKCE S256); point a node at them with
    `samen serve --citizen-idp BASE/citizen --professional-idp BASE/professional`. One process, on
    purpose: logins in progress are kept in memory.
    """
    import uvicorn

    logs.configure(log_level)
    try:
        registered = parse_clients(list(clients))
        professionals = load_professionals(professionals_path) if professionals_path else DEFAULT_PROFESSIONALS
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    base = (base_url or f"http://{host}:{port}").rstrip("/")
    app = create_idp_app(test_providers(base, IdpKey.at(key_path), registered, professionals))
    click.echo(f"samen idp: citizen IdP {base}{CITIZEN_PATH}, professional IdP {base}{PROFESSIONAL_PATH}; "
               f"{len(registered)} client(s) registered", err=True)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, server_header=False)
