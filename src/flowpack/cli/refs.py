"""Ref commands: ``ref set``, ``ref get``, ``ref ls`` and ``ref rm``.

Every change is a compare-and-set.  ``--expect`` (or ``--create``) makes the change conditional;
a lost race exits 3 and the message names the ref's current value.
"""

from __future__ import annotations

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.render import print_json, table


@click.group(name="ref")
def ref() -> None:
    """Read and change refs: mutable names pointing at digests."""


@ref.command(name="set")
@click.argument("name")
@click.argument("digest", metavar="DIGEST|REF")
@click.option(
    "--expect",
    metavar="DIGEST",
    help="Change the ref only if it points at DIGEST now (else exit 3).",
)
@click.option(
    "--create", is_flag=True, help="Create the ref only if it does not exist (else exit 3)."
)
@pass_cli
def set_ref(cli: CliContext, name: str, digest: str, expect: str | None, create: bool) -> None:
    """Point ref NAME at DIGEST (which must be in the store).

    Without --expect or --create the ref is set whatever it points at now.
    """
    if expect is not None and create:
        raise click.UsageError("--expect and --create cannot be used together")
    new = cli.resolve(digest)
    expected = cli.resolve_expected(expect) if expect is not None else None
    previous = cli.store.refs.get(name) if cli.json and expected is None else expected
    cli.store.set_ref(name, new, expected=expected, create=create)
    if cli.json:
        print_json(
            {"name": name, "digest": str(new), "previous": str(previous) if previous else None}
        )


@ref.command(name="get")
@click.argument("name")
@pass_cli
def get_ref(cli: CliContext, name: str) -> None:
    """Print the digest ref NAME points at (exit 1 if there is no such ref)."""
    d = cli.require_ref(name)
    if cli.json:
        print_json({"name": name, "digest": str(d), "size": d.size})
    else:
        click.echo(str(d))


@ref.command(name="ls")
@click.argument("prefix", default="")
@pass_cli
def list_refs(cli: CliContext, prefix: str) -> None:
    """List refs (those whose name starts with PREFIX): name and digest."""
    found = sorted(cli.store.refs.iter_refs(prefix))
    if cli.json:
        print_json([{"name": n, "digest": str(d)} for n, d in found])
        return
    for line in table((n, str(d)) for n, d in found):
        click.echo(line)


@ref.command(name="rm")
@click.argument("name")
@click.option(
    "--expect",
    metavar="DIGEST",
    help="Remove the ref only if it points at DIGEST now (else exit 3).",
)
@pass_cli
def remove_ref(cli: CliContext, name: str, expect: str | None) -> None:
    """Remove ref NAME.

    The objects it pointed at stay until "flowpack gc" finds them unreachable.
    """
    expected = cli.resolve_expected(expect) if expect is not None else None
    previous = cli.store.refs.get(name) if cli.json and expected is None else expected
    cli.store.refs.delete(name, expected=expected)
    if cli.json:
        print_json({"name": name, "removed": str(previous) if previous else None})


COMMANDS = (ref,)
