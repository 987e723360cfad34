"""Signing keys and the trust policy: ``key generate``, ``key public``, ``trust add|remove|list``.

Keys live in the user's configuration directory (see :mod:`flowpack.packer.keys`); the trust
policy is the user's own file (see :mod:`flowpack.packer.trust`).  Nothing here prints or
logs a private key.
"""

from __future__ import annotations

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.render import print_json


@click.group(name="key")
def key_group() -> None:
    """Manage your ed25519 signing key (kept in $XDG_CONFIG_HOME/flowpack/keys)."""


@key_group.command(name="generate")
@click.option(
    "--name", default=None, metavar="NAME", help="Key name [default: $FLOWPACK_KEY or 'default']."
)
@click.option("--force", is_flag=True, help="Replace an existing key of that name.")
@pass_cli
def key_generate(cli: CliContext, name: str | None, force: bool) -> None:
    """Create a signing key; print its public key.

    Registrations and runs you record are signed with it from now on.
    """
    from flowpack.packer import keys

    public = keys.generate(name or keys.current_name(), force=force)
    if cli.json:
        print_json({"key": str(public), "key_id": public.key_id, "directory": str(keys.keys_dir())})
    else:
        click.echo(str(public))


@key_group.command(name="public")
@click.option(
    "--name", default=None, metavar="NAME", help="Key name [default: $FLOWPACK_KEY or 'default']."
)
@pass_cli
def key_public(cli: CliContext, name: str | None) -> None:
    """Print your public key, one line (ed25519:<base64>), for others to trust."""
    from flowpack.packer import keys

    public = keys.public(name)
    if cli.json:
        print_json({"key": str(public), "key_id": public.key_id})
    else:
        click.echo(str(public))


@click.group(name="trust")
def trust_group() -> None:
    """Which signers' flows you run from this store (your own policy file).

    Once a store (or a project in it) has a trusted key, run and Storage.get_flow refuse a
    registration that is unsigned or signed by no trusted key.
    """


def _key_argument(text: str) -> object:
    from pathlib import Path

    from flowpack.packer import keys

    if text.startswith(f"{keys.ALGORITHM}:"):
        return keys.PublicKey.parse(text)
    found = keys.read_public_file(Path(text))
    if len(found) != 1:
        from flowpack.cas.errors import UsageError

        raise UsageError(f"{text} holds {len(found)} keys; name one")
    return found[0]


@trust_group.command(name="add")
@click.argument("key", metavar="PUBLIC_KEY|FILE")
@click.option("--project", default=None, metavar="PROJECT", help="Trust it for this project only.")
@pass_cli
def trust_add(cli: CliContext, key: str, project: str | None) -> None:
    """Trust PUBLIC_KEY (ed25519:<base64>, or a file holding it) for this store."""
    from flowpack.packer import keys, trust

    public = _key_argument(key)
    assert isinstance(public, keys.PublicKey)
    added = trust.add_key(cli.store, public, project)
    scope = f"project {project!r}" if project else "the whole store"
    if cli.json:
        print_json({"key": str(public), "project": project, "added": added})
    else:
        click.echo(f"{'trusted' if added else 'already trusted'}: {public} for {scope}")


@trust_group.command(name="remove")
@click.argument("key", metavar="PUBLIC_KEY|FILE")
@click.option("--project", default=None, metavar="PROJECT", help="Remove it from this project.")
@pass_cli
def trust_remove(cli: CliContext, key: str, project: str | None) -> None:
    """Stop trusting PUBLIC_KEY for this store (or the project)."""
    from flowpack.packer import keys, trust

    public = _key_argument(key)
    assert isinstance(public, keys.PublicKey)
    trust.remove_key(cli.store, public, project)
    if not cli.json:
        click.echo(f"no longer trusted: {public}")


@trust_group.command(name="list")
@pass_cli
def trust_list(cli: CliContext) -> None:
    """List the keys trusted for this store ('*') and for each project."""
    from flowpack.packer import trust

    held = trust.listing(cli.store)
    if cli.json:
        print_json(held)
        return
    if not any(held.values()):
        click.echo("no trusted keys: signatures are not required for this store")
    for scope, found in held.items():
        for k in found:
            click.echo(f"{scope}\t{k}")


COMMANDS = (key_group, trust_group)
