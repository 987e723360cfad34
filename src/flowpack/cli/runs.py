"""Run and history commands: ``run``, ``log``, ``runs`` and ``show`` (``audit``: cli/audit.py).

FLOW arguments are ``PROJECT/FLOW`` or ``FLOW`` (when one project has it), ``@VERSION`` where a
version makes sense, or a digest of a registration, run or bundle.  Every command also takes
``--json``.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext, redirect_stdout

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.failure import one_line
from flowpack.cli.jsonflag import json_flag, use_json
from flowpack.cli.render import human_bytes, mode_text, print_json, table

# -- run ----------------------------------------------------------------------------------------


@click.command(name="run")
@click.argument("target", metavar="FLOW[@VERSION]|DIGEST")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A flow parameter (VALUE is read as JSON when it is JSON); repeatable.",
)
@click.option(
    "--pinned",
    is_flag=True,
    help="Run exactly the registered bundle, even when its git ref moved since.",
)
@json_flag
@pass_cli
def run_command(
    cli: CliContext, target: str, params: tuple[str, ...], pinned: bool, json_local: bool
) -> None:
    """Fetch, verify, load and run a registered flow; record the run.

    Only a registration in its flow's ref history runs: a DIGEST no flows/ ref reaches, or a
    FLOW whose ref points at another flow's registration, is refused before anything runs.

    The run record (bundle digest, registration, start, end, status, host, interpreter) is
    appended to runs/PROJECT/FLOW whether the run succeeds or fails.  Exits 1 if it failed.
    With --json the flow's own output goes to stderr.  A flow kept in git runs the commit its
    branch names now (FLOW@VERSION, a digest or --pinned run the registered bundle).
    """
    from flowpack.cas.digest import looks_like_digest
    from flowpack.packer.lookup import find_registration, require_registered
    from flowpack.packer.run import parse_parameters, run_registration
    from flowpack.packer.trust import required as trust_required
    from flowpack.storage.follow import follow_commit

    as_json = use_json(cli, json_local)
    parameters = parse_parameters(params)
    reg = require_registered(cli.store, find_registration(cli.store, target))
    pinned = pinned or "@" in target or target.startswith("blake3:") or looks_like_digest(target)
    if not pinned and trust_required(cli.store, reg.project):
        pinned = True  # only signed code runs under a trust policy: never pack a newer commit
        click.echo("Trust policy: running the registered, signed bundle (pinned)", err=True)
    followed = None if pinned else follow_commit(cli.store, reg)
    if not as_json:
        click.echo(f"Running {reg.flow!r} of {reg.project}, version {reg.version}")
        click.echo(f"  └── Bundle: {followed.bundle if followed else reg.bundle}")
        if followed:
            click.echo(f"  └── {followed.note[0].upper()}{followed.note[1:]}")
    with redirect_stdout(sys.stderr) if as_json else nullcontext():
        outcome = run_registration(
            cli.store,
            reg,
            parameters,
            bundle=followed.bundle if followed else None,
            notes=followed.as_meta() if followed else None,
        )
    rec = outcome.record
    if as_json:
        print_json({**rec.as_dict(), **(followed.as_meta() if followed else {}), "ok": outcome.ok})
    else:
        took = _duration(rec.start, rec.end)
        if outcome.ok:
            click.echo(f"Run succeeded in {took}")
        else:
            click.echo(f"Run failed after {took}: {one_line(rec.error or '')}")
        click.echo(f"  └── Run record: {rec.digest}")
    if outcome.exception is not None and cli.debug:
        import traceback

        exc = outcome.exception
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if not outcome.ok:
        click.get_current_context().exit(1)


def _duration(start: str, end: str) -> str:
    from flowpack.packer.environment import parse_time

    try:
        seconds = (parse_time(end) - parse_time(start)).total_seconds()
    except ValueError:
        return "?"
    return f"{seconds:.2f} s"


# -- log, runs, show ----------------------------------------------------------------------------


@click.command(name="log")
@click.argument("flow", metavar="FLOW")
@json_flag
@pass_cli
def log_command(cli: CliContext, flow: str, json_local: bool) -> None:
    """List the registrations of FLOW, newest first: version, time, bundle, record."""
    from flowpack.packer.lookup import find_flow
    from flowpack.packer.records import registrations

    name = find_flow(cli.store, flow)
    records = list(registrations(cli.store, cli.store.refs.require(name.ref)))
    if use_json(cli, json_local):
        print_json({"flow": str(name), "registrations": [r.as_dict() for r in records]})
        return
    rows = [("VERSION", "REGISTERED", "BUNDLE", "RECORD", "LABELS")]
    rows += [
        (str(r.version), r.time, str(r.bundle), f"blake3:{r.digest.short}", ",".join(r.labels))
        for r in records
    ]
    for line in table(rows):
        click.echo(line)


@click.command(name="runs")
@click.argument("flow", metavar="FLOW")
@json_flag
@pass_cli
def runs_command(cli: CliContext, flow: str, json_local: bool) -> None:
    """List the runs of FLOW, newest first: start, status, duration, version, bundle used."""
    from flowpack.packer.lookup import find_flow
    from flowpack.packer.records import runs

    name = find_flow(cli.store, flow)
    records = list(runs(cli.store, cli.store.refs.get(name.run_ref)))
    if use_json(cli, json_local):
        print_json({"flow": str(name), "runs": [r.as_dict() for r in records]})
        return
    if not records:
        click.echo(f"{name} has not run yet")
        return
    rows = [("STARTED", "STATUS", "DURATION", "VERSION", "BUNDLE", "RECORD", "ERROR")]
    rows += [
        (
            r.start,
            r.status,
            _duration(r.start, r.end),
            str(r.version),
            str(r.bundle),
            f"blake3:{r.digest.short}",
            one_line(r.error or "")[:80],
        )
        for r in records
    ]
    for line in table(rows, right=frozenset({2})):
        click.echo(line)


@click.command(name="show")
@click.argument("target", metavar="FLOW[@VERSION]|DIGEST")
@json_flag
@pass_cli
def show_command(cli: CliContext, target: str, json_local: bool) -> None:
    """Show one registration of a flow: its metadata and the files of its bundle."""
    from flowpack.cli.render import entry_dict
    from flowpack.packer.bundle import read_bundle
    from flowpack.packer.lookup import find_registration

    reg = find_registration(cli.store, target)
    bundle = read_bundle(cli.store, reg.bundle)
    interp = reg.environment.get("interpreter", {})
    if use_json(cli, json_local):
        doc = reg.as_dict()
        doc.update(
            bundle_metadata=dict(bundle.info),
            interpreter=dict(interp) if isinstance(interp, dict) else {},
            distributions=reg.environment.get("distributions", []),
            files=[entry_dict(f) for f in bundle.manifest.files],
        )
        print_json(doc)
        return
    source = dict(reg.source)
    where = str(source.get("path") or source.get("module") or source.get("kind", ""))
    git = source.get("git")
    if source.get("kind") == "git":
        where = f"{source.get('path', '')} in {source.get('repo', '')}"
        where += f" at {str(source.get('commit', ''))[:12]}"
    elif isinstance(git, dict):
        where += f" (git {str(git.get('commit', ''))[:12]}{', dirty' if git.get('dirty') else ''})"
    detail = bundle.info.get("entry") or bundle.info.get("module") or bundle.info.get("file")
    lines = [
        ("flow:", reg.flow),
        ("project:", reg.project),
        ("version:", str(reg.version)),
        ("bundle:", str(reg.bundle)),
        ("record:", str(reg.digest)),
        ("registered:", f"{reg.time} on {reg.host}"),
        ("kind:", f"{bundle.kind} ({detail})" if detail else bundle.kind),
        ("storage:", reg.storage),
        ("labels:", ", ".join(reg.labels) or "-"),
        ("secrets:", ", ".join(reg.secrets) or "-"),
        ("source:", where or "-"),
        ("python:", f"{interp.get('implementation', '')} {interp.get('version', '')}".strip()),
        ("parent:", str(reg.parent) if reg.parent else "-"),
    ]
    for line in table(lines):
        click.echo(line)
    click.echo(f"files ({len(bundle.manifest.files)}, {human_bytes(bundle.manifest.size)}):")
    rows = [(mode_text(f.mode), human_bytes(f.size), f.path) for f in bundle.manifest.files]
    for line in table(rows, right=frozenset({1})):
        click.echo(f"  {line}")


COMMANDS = (run_command, log_command, runs_command, show_command)
