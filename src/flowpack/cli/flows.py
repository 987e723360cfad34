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
    help="A flow script, a directory (its top-level .py files) or a glob (** recurses); "
    "repeatable.",
)
@click.option(
    "-m", "--module", "modules", multiple=True, metavar="MODULE", help="A module; repeatable."
)
@click.option(
    "--project",
    default="default",
    show_default=True,
    help="Project to register in (create it first: flowpack project create NAME).",
)
@click.option(
    "-n", "--name", "names", multiple=True, metavar="NAME", help="Only the flows named so."
)
@click.option("-l", "--label", "labels", multiple=True, metavar="LABEL", help="Add a label.")
@click.option("-f", "--force", is_flag=True, help="Write a registration even if unchanged.")
@click.option(
    "--include",
    "include",
    multiple=True,
    metavar="GLOB",
    help="Also bundle the files matching GLOB (relative to the project root) with a script.",
)
@click.option("--watch", is_flag=True, help="Re-register whenever a source file changes.")
@click.option(
    "--watch-interval",
    type=float,
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="With --watch: how often to look for changes.",
)
@click.option(
    "--watch-max",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="With --watch: stop after N registrations (the first counts).",
)
@json_flag
@pass_cli
def register(cli: CliContext, /, json_local: bool, watch: bool, **options: Any) -> None:
    """Pack flows and record them under PROJECT; unchanged flows are skipped.

    Each flow is stored as a bundle by its storage (a script's default is
    Local(stored_as_script=True): the file plus the project modules it imports; a module's is
    Module).  The version grows only when the bundle's digest changes.  An unknown --project
    or --name is an error.  With --watch, the sources are polled and registered again on
    every change (Ctrl-C stops).  Exits 1 if any flow failed to load or register.
    """
    from flowpack.packer.watch import changes

    if not options["paths"] and not options["modules"]:
        raise click.UsageError("give at least one --path or --module")
    as_json = use_json(cli, json_local)
    ok = _register_once(cli, as_json, **options)
    if watch:
        limit = options["watch_max"] - 1 if options["watch_max"] else None
        for changed in changes(
            options["paths"], options["modules"], interval=options["watch_interval"], limit=limit
        ):
            if not as_json:
                click.echo(f"Changed: {', '.join(changed)}; registering again...")
            ok = _register_once(cli, as_json, **options)
    if not ok:
        click.get_current_context().exit(1)


def _register_once(
    cli: CliContext,
    as_json: bool,
    *,
    paths: tuple[str, ...],
    modules: tuple[str, ...],
    project: str,
    names: tuple[str, ...],
    labels: tuple[str, ...],
    force: bool,
    include: tuple[str, ...],
    **_: Any,
) -> bool:
    """One registration, rendered; whether every flow registered."""
    import warnings

    from flowpack.packer.datafiles import DataFileWarning
    from flowpack.packer.projects import require_project
    from flowpack.storage.defaults import default_storage

    require_project(cli.store, project)
    if not as_json:
        click.echo("Collecting flows...")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataFileWarning)
        report = _register(
            paths,
            project,
            store=lambda: cli.store,
            default_storage=default_storage,
            modules=modules,
            labels=labels,
            force=force,
            names=names,
            include=include,
            events=None if as_json else _Echo(),
        )
    for w in caught:
        if not issubclass(w.category, DataFileWarning):  # not ours: as Python shows it
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    notes = [str(w.message) for w in caught if issubclass(w.category, DataFileWarning)]
    for note in notes:
        click.echo(f"flowpack: warning: {note}", err=True)
    if cli.debug:
        _print_tracebacks(report)
    if as_json:
        print_json({**_report_dict(report), "warnings": notes})
    else:
        click.echo(_closing_line(report))
    return report.ok


def _register(*args: Any, **kwargs: Any) -> RegistrationReport:
    """:func:`flowpack.packer.registration.register`, a path naming nothing as a usage error."""
    from flowpack.packer.registration import PathNotFound, register

    try:
        return register(*args, **kwargs)
    except PathNotFound as exc:
        raise click.BadParameter(str(exc), param_hint="'--path'") from None


def _print_tracebacks(report: RegistrationReport) -> None:
    """With --debug: the full traceback of every source that failed to load or flow that
    failed to register, on stderr."""
    import sys
    import traceback

    for failure in report.failures:
        what = failure.source + (f" ({failure.flow})" if failure.flow else "")
        click.echo(f"Traceback of {what}:", err=True)
        exc = failure.error
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


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
            click.echo(" " + click.style("Done", fg="green"))
            click.echo(f"  └── ID: {result.bundle}")
            click.echo(f"  └── Version: {result.version}")
        else:
            click.echo(" " + click.style("Skipped (unchanged)", fg="yellow"))

    def failed(self, flow: str, error: Exception) -> None:
        click.echo(" " + click.style("Error", fg="red"))
        click.echo(f"    {_message(error)}")

    def publishing(self, storage: FlowStorage) -> None:
        click.echo(f"  Pushing `{storage.name}` storage...", nl=False)

    def published(self, storage: FlowStorage) -> None:
        click.echo(" " + click.style("Done", fg="green"))


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
    """``=== 1 registered, 1 skipped ===`` (green, yellow, red; click drops the colour when
    stdout is not a terminal)."""
    parts = [click.style(f"{report.registered} registered", fg="green")]
    if report.skipped:
        parts.append(click.style(f"{report.skipped} skipped", fg="yellow"))
    if report.failures:
        parts.append(click.style(f"{len(report.failures)} errored", fg="red"))
    msg = ", ".join(parts)
    bar = "=" * (max(BAR_WIDTH - len(click.unstyle(msg)), 4) // 2)
    return f"{bar} {msg} {bar}"


def _message(exc: BaseException) -> str:
    from flowpack.cli.failure import describe

    return describe(exc)[0]


COMMANDS = (register,)
