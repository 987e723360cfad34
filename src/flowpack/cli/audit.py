"""``flowpack audit``: re-verify a flow's history, from the store or from an exported file.

Renders an :class:`~flowpack.packer.audit.AuditReport` as text, JSON, in-toto statements or a
self-contained HTML page; every check lives in :mod:`flowpack.packer.audit`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.jsonflag import json_flag, use_json
from flowpack.cli.render import print_json

if TYPE_CHECKING:
    from flowpack.cas.store import Store
    from flowpack.packer.audit import AuditReport
    from flowpack.packer.keys import PublicKey

FORMATS = ("text", "json", "in-toto")


@click.command(name="audit")
@click.argument("flow", metavar="[FLOW]", required=False)
@click.option(
    "--bundle",
    "bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Audit the history in FILE (from 'flowpack export PROJECT/FLOW'), offline.",
)
@click.option(
    "--trusted-key",
    "key_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A file of public keys (ed25519:<base64>, one a line) whose signatures count;"
    " repeatable.  [default: the keys you trust for this store and project]",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write a self-contained HTML report to FILE.",
)
@json_flag
@pass_cli
def audit_command(
    cli: CliContext,
    flow: str | None,
    bundle: Path | None,
    key_files: tuple[Path, ...],
    fmt: str,
    html_out: Path | None,
    json_local: bool,
) -> None:
    """Re-verify FLOW's history: both record chains, every link, every bundle, every signature.

    With --bundle FILE, from the exported file alone (no store needed); with --trusted-key,
    every record must carry a valid signature by one of those keys.  Prints the exact bundle
    digest each run used.  Exits 1 on any break: a damaged, missing, rewritten, reordered,
    dropped or forged record, a bundle whose bytes changed, a signature that does not verify.
    """
    from flowpack.cas.errors import UsageError
    from flowpack.packer.audit import audit_flow
    from flowpack.packer.keys import read_public_file
    from flowpack.packer.lookup import find_flow

    trusted = [k for f in key_files for k in read_public_file(f)] or None
    if bundle is not None:
        if flow is not None:
            raise UsageError("give FLOW or --bundle FILE, not both")
        report = _with_store_from(bundle, trusted, html_out)
    else:
        if flow is None:
            raise UsageError("name the FLOW to audit, or give --bundle FILE")
        name = find_flow(cli.store, flow)
        trusted = trusted or _policy_keys(cli.store, name.project)
        report = audit_flow(cli.store, name, trusted=trusted)
        if html_out is not None:
            _write_html(cli.store, report, html_out)
    if use_json(cli, json_local) or fmt == "json":
        print_json(report.as_dict())
    elif fmt == "in-toto":
        from flowpack.packer.provenance import statements

        print_json(statements(report))
    else:
        _print(report)
    if not report.ok:
        click.get_current_context().exit(1)


def _with_store_from(
    bundle: Path, trusted: list[PublicKey] | None, html_out: Path | None
) -> AuditReport:
    from flowpack.packer.audit import audit_flow
    from flowpack.packer.history import open_export

    store, start = open_export(bundle)
    with store:
        report = audit_flow(store, start.name, trusted=trusted, start=start)
        if html_out is not None:
            _write_html(store, report, html_out)
    return report


def _write_html(store: Store, report: AuditReport, out: Path) -> None:
    from flowpack.packer.audit_html import write_report

    write_report(store, report, out)
    click.echo(f"report written to {out}", err=True)


def _policy_keys(store: Store, project: str) -> list[PublicKey] | None:
    from flowpack.packer.trust import trusted_keys

    return sorted(trusted_keys(store, project), key=str) or None


def _print(report: AuditReport) -> None:
    def signer(digest: object) -> str:
        t = report.trust.get(digest)  # type: ignore[call-overload]
        if t is None:
            return "?"
        ids = ",".join(k.split(":", 1)[1][:12] for k in t.keys)
        return f"{t.status}{' by ' + ids if ids else ''}"

    click.echo(f"Registrations of {report.flow}: {len(report.registrations)}")
    for r in report.registrations:
        state = "ok" if report.bundles.get(r.bundle) is None else "DAMAGED"
        click.echo(f"  v{r.version}  {r.time}  bundle {r.bundle}  {state}  {signer(r.digest)}")
        click.echo(f"      record {r.digest}")
    click.echo(f"Runs of {report.flow}: {len(report.runs)}")
    for run in report.runs:
        click.echo(
            f"  {run.start}  {run.status:<7}  v{run.version}  used bundle {run.bundle}"
            f"  {signer(run.digest)}"
        )
        click.echo(f"      record {run.digest}")
    valid = sum(1 for s in report.signatures if s.valid)
    judged = "no trusted key given" if report.trusted_keys is None else "trusted keys given"
    click.echo(f"Signatures: {valid} of {len(report.signatures)} verify ({judged})")
    for note in report.notes:
        click.echo(f"  note: {note}")
    checked = f"{len(report.bundles)} bundles re-verified"
    if report.ok:
        click.echo(f"Audit passed: chains intact, {checked}")
        return
    click.echo(f"Audit FAILED: {len(report.problems)} problems ({checked})")
    for p in report.problems:
        click.echo(f"  - {p}")


COMMANDS = (audit_command,)
