"""The ``register`` command: parse, call :func:`flowpack.packer.registration.register`, render.

``register`` prints the seed's report shape::

    Collecting flows...
    Processing 'flows/my_flow.py':
      Building `Local` storage...
      Registering 'example'... Done
      └── ID: blake3:<bundle digest>
      └── Version: 1
    ======================== 1 registered ========================

(``Skipped (unchanged)`` for a flow whose bundle and labels did not change, and the skipped and
errored counts in the closing line).  ``--json`` prints the counts, every flow's result and
every error as one document instead.  The run and history commands are in
:mod:`flowpack.cli.runs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.jsonflag import json_flag, use_json
from flowpack.cli.render import print_json

if TYPE_CHECKING:
    from flowpack.packer.flowstorage import FlowStorage
    from flowpack.packer.register import RegisterResult
    from flowpack.packer.registration import RegistrationReport

BAR_WIDTH = 60


@click.command()
@click.option(
    "-p",
    "--path",
    "paths",
    multiple=True,
    metavar="PATH",
    help="A flow script, a directory (every .py below it) or a glob; repeatable.",
)
@click.option(
    "-m", "--module", "modules", multiple=True, metavar="MODULE", help="A module; repeatable."
)
@click.option("--project", default="default", show_default=True, help="Project to register in.")
@click.option("-l", "--label", "labels", multiple=True, metavar="LABEL", help="Add a label.")
@click.option("-f", "--force", is_flag=True, help="Write a registration even if unchanged.")
@json_flag
@pass_cli
def register(
    cli: CliContext,
    paths: tuple[str, ...],
    modules: tuple[str, ...],
    project: str,
    labels: tuple[str, ...],
    force: bool,
    json_local: bool,
) -> None:
    """Pack flows and record them under PROJECT; unchanged flows are skipped.

    Each flow is stored as a bundle by its storage (a script's default is
    Local(stored_as_script=True): the file plus the project modules it imports; a module's is
    Module).  The version grows only when the bundle's digest changes.  Exits 1 if any flow
    failed to load or register.
    """
    from flowpack.packer.registration import PathNotFound
    from flowpack.packer.registration import register as register_flows
    from flowpack.storage.defaults import default_storage

    if not paths and not modules:
        raise click.UsageError("give at least one --path or --module")
    as_json = use_json(cli, json_local)
    if not as_json:
        click.echo("Collecting flows...")
    try:
        report = register_flows(
            paths,
            project,
            store=lambda: cli.store,  # opened for the first flow, as each flow is registered
            default_storage=default_storage,
            modules=modules,
            labels=labels,
            force=force,
            events=None if as_json else _Echo(),
        )
    except PathNotFound as exc:
        raise click.BadParameter(str(exc), param_hint="'--path'") from None
    if as_json:
        print_json(_report_dict(report))
    else:
        click.echo(_closing_line(report))
    if not report.ok:
        click.get_current_context().exit(1)


class _Echo:
    """Prints each step of a registration as it happens (the seed's report shape)."""

    def processing(self, source: str) -> None:
        click.echo(f"Processing {source!r}:")

    def load_failed(self, source: str, error: Exception) -> None:
        click.echo(f"  Error loading {source!r}: {_message(error)}")

    def no_flows(self, source: str) -> None:
        click.echo("  No flows found")

    def building(self, storage: FlowStorage) -> None:
        click.echo(f"  Building `{storage.name}` storage...")

    def registering(self, flow: str) -> None:
        click.echo(f"  Registering {flow!r}...", nl=False)

    def registered(self, result: RegisterResult) -> None:
        from flowpack.packer.register import REGISTERED

        if result.status == REGISTERED:
            click.echo(" Done")
            click.echo(f"  └── ID: {result.bundle}")
            click.echo(f"  └── Version: {result.version}")
        else:
            click.echo(" Skipped (unchanged)")

    def failed(self, flow: str, error: Exception) -> None:
        click.echo(" Error")
        click.echo(f"    {_message(error)}")


def _report_dict(report: RegistrationReport) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    for failure in report.failures:
        error = {"source": failure.source}
        if failure.flow is not None:
            error["flow"] = failure.flow
        error["error"] = _message(failure.error)
        errors.append(error)
    return {
        "registered": report.registered,
        "skipped": report.skipped,
        "errored": len(report.failures),
        "flows": [r.as_dict() for r in report.results],
        "errors": errors,
    }


def _closing_line(report: RegistrationReport) -> str:
    parts = [f"{report.registered} registered"]
    if report.skipped:
        parts.append(f"{report.skipped} skipped")
    if report.failures:
        parts.append(f"{len(report.failures)} errored")
    msg = ", ".join(parts)
    bar = "=" * (max(BAR_WIDTH - len(msg), 4) // 2)
    return f"{bar} {msg} {bar}"


def _message(exc: BaseException) -> str:
    from flowpack.cli.failure import describe

    return describe(exc)[0]


COMMANDS = (register,)
