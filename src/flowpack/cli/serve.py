"""Serving a store over HTTP: ``flowpack serve`` and ``flowpack token create``.

``flowpack [--store URL] serve`` serves the store named by ``--store`` (any location, the
default local one included) at ``http(s)://HOST:PORT``; clients open it as an ``http(s)://``
store URL and send their token from ``$FLOWPACK_TOKEN``.  Tokens are made by ``flowpack token
create`` and kept hashed in the server's config file (``--config``, else
``$FLOWPACK_SERVER_CONFIG``, else ``~/.config/flowpack/server.json``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.render import print_json

if TYPE_CHECKING:
    from flowpack.cas.location import Location

_CONFIG_HELP = (
    "Server config file holding hashed tokens  "
    "[default: $FLOWPACK_SERVER_CONFIG or ~/.config/flowpack/server.json]"
)
_config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=_CONFIG_HELP,
)


def _config_path(config: Path | None) -> Path:
    from flowpack.backends.http.auth import default_config_path

    return config if config is not None else default_config_path()


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@_config_option
@click.option(
    "--anonymous",
    type=click.Choice(["none", "read", "write", "admin"]),
    default=None,
    help="Scope for requests without a token  [default: admin on loopback without any token, "
    "else none]; required to listen elsewhere without tokens.",
)
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--max-body",
    default=64 << 20,
    show_default=True,
    type=click.IntRange(1),
    help="Largest upload accepted, in bytes.",
)
@click.option(
    "--body-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds an upload may take to arrive.",
)
@pass_cli
def serve_command(
    cli: CliContext,
    host: str,
    port: int,
    config: Path | None,
    anonymous: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    max_body: int,
    body_timeout: float,
) -> None:
    """Serve the store over HTTP until interrupted.

    Refuses to listen on a non-loopback address without tokens unless --anonymous is given.
    """
    try:
        from flowpack.backends.http.server import ServerSettings
        from flowpack.backends.http.serving import serve
    except ImportError as exc:
        from flowpack.cas.errors import MissingDependency

        raise MissingDependency(
            f"flowpack serve needs {exc.name or 'starlette and uvicorn'}: "
            "install it with: pip install 'flowpack[server]'"
        ) from exc
    from flowpack.cas.opening import ENV_STORE, default_store_url
    from flowpack.cas.registry import open_location
    from flowpack.cas.urls import redact

    url = cli.store_url or os.environ.get(ENV_STORE) or default_store_url()
    settings = ServerSettings(max_body=max_body, body_timeout=body_timeout)
    with open_location(url) as location:
        scheme = "https" if tls_cert else "http"
        click.echo(f"serving {redact(url)} at {scheme}://{host}:{port}", err=True)
        serve(
            location,
            host=host,
            port=port,
            config=_config_path(config),
            settings=settings,
            anonymous=anonymous,
            tls_cert=tls_cert,
            tls_key=tls_key,
            pages={"/flows/{project}/{flow}": audit_page},
        )


def audit_page(location: Location, params: Mapping[str, str]) -> str:
    """``/flows/P/F``: the audit view of flow P/F (``flowpack audit P/F --html``), verified now
    against the served store, judged by this machine's trust policy for the store."""
    from flowpack.cas.store import Store
    from flowpack.packer.audit import audit_flow
    from flowpack.packer.audit_html import render
    from flowpack.packer.lookup import find_flow
    from flowpack.packer.trust import trusted_keys

    store = Store(location.blobs, location.refs, url=location.url)  # the location stays open
    name = find_flow(store, f"{params['project']}/{params['flow']}")
    trusted = sorted(trusted_keys(store, name.project), key=str) or None
    return render(store, audit_flow(store, name, trusted=trusted))


@click.group(name="token")
def token() -> None:
    """Manage the bearer tokens of 'flowpack serve'."""


@token.command(name="create")
@click.option(
    "--scope", type=click.Choice(["read", "write", "admin"]), required=True, help="What it allows."
)
@click.option("--prefix", default="", help="Only refs under this prefix may be changed with it.")
@click.option(
    "--expires-in",
    type=click.FloatRange(min=1),
    default=None,
    help="Seconds until the token expires  [default: never].",
)
@_config_option
@pass_cli
def create_token_command(
    cli: CliContext, scope: str, prefix: str, expires_in: float | None, config: Path | None
) -> None:
    """Make a token and print it once; only its hash is kept (in the server config file)."""
    from flowpack.backends.http.auth import create_token

    path = _config_path(config)
    secret, grant = create_token(path, scope, prefix, expires_in)
    if cli.json:
        print_json(
            {
                "token": secret,
                "id": grant.id,
                "scope": scope,
                "prefix": prefix,
                "expires": grant.expires,
            }
        )
    else:
        click.echo(secret)
        click.echo(f"token {grant.id} ({scope}) added to {path}; it is not shown again", err=True)


@token.command(name="ls")
@_config_option
@pass_cli
def list_tokens_command(cli: CliContext, config: Path | None) -> None:
    """List the tokens of the server config file (ids, scopes, prefixes; never the tokens)."""
    import time

    from flowpack.backends.http.auth import list_tokens

    grants = list_tokens(_config_path(config))
    now = time.time()
    rows = [
        {
            "id": g.id,
            "scope": g.scope,
            "prefix": g.prefix,
            "created": g.created,
            "expires": g.expires,
            "expired": g.expires is not None and g.expires <= now,
        }
        for g in grants
    ]
    if cli.json:
        print_json(rows)
        return
    for row in rows:
        state = " (expired)" if row["expired"] else ""
        click.echo(f"{row['id']}  {row['scope']:<5}  {row['prefix'] or '-'}{state}")


@token.command(name="revoke")
@click.argument("token_id", metavar="ID")
@_config_option
def revoke_token_command(token_id: str, config: Path | None) -> None:
    """Remove token ID from the server config file; a running server stops accepting it."""
    from flowpack.backends.http.auth import revoke_token
    from flowpack.cas.errors import NotFound

    if not revoke_token(_config_path(config), token_id):
        raise NotFound(f"no token {token_id!r} in {_config_path(config)}")
    click.echo(f"token {token_id} revoked", err=True)


COMMANDS = (serve_command, token)
