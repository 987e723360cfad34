"""Whole-store commands: ``verify``, ``gc``, ``stats``, ``export``, ``import`` and ``copy``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.params import Duration, Subset
from flowpack.cli.progress import count_text, feedback, size_text
from flowpack.cli.render import human_bytes, print_json, table

if TYPE_CHECKING:
    from flowpack.cas.digest import Digest
    from flowpack.cas.fastforward import NonFastForward
    from flowpack.cas.store import Store

DEFAULT_GRACE = "24h"


@click.command()
@click.argument("targets", nargs=-1, metavar="[DIGEST|REF]...")
@click.option(
    "--all",
    "all_refs",
    is_flag=True,
    help="Also walk every ref (the whole store is still checked).",
)
@click.option(
    "--read-data",
    is_flag=True,
    help="Also read, decompress and re-hash the data (not just the structure).",
)
@click.option(
    "--subset",
    type=Subset(),
    metavar="N/T",
    help="With --read-data, read only the N-th of T slices of the packs.",
)
@pass_cli
def verify(
    cli: CliContext,
    targets: tuple[str, ...],
    all_refs: bool,
    read_data: bool,
    subset: tuple[int, int] | None,
) -> None:
    """Check the store (or the given bundles) for damage.

    Exits 0 when clean and 1 when damage is found, listing every damaged object and what
    references it.  With no DIGEST the whole store is checked (with or without --all); with
    DIGESTs only what they reach (--all adds every ref's target).
    """
    from flowpack.cas.verify import verify as verify_store

    with feedback(cli.json, cli.quiet) as fb:
        digests = [cli.resolve(t) for t in targets] or None
        report = verify_store(
            cli.store,
            digests,
            all_refs=all_refs,
            read_data=read_data,
            subset=subset,
            progress=fb.callback,
        )
    if cli.json:
        print_json(report.as_dict())
    else:
        for problem in report.problems:
            click.echo(f"damaged {problem.object}: {problem.message}")
            if problem.referenced_by:
                click.echo(f"  referenced by: {', '.join(problem.referenced_by)}")
        checked = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in report.checked.items())
        status = "ok" if report.ok else f"{len(report.problems)} problem(s) found"
        click.echo(f"{status}; checked {checked}" if checked else status)
    fb.summary(_verify_summary(report.checked, read_data))
    if not report.ok:
        raise click.exceptions.Exit(1)


def _verify_summary(checked: dict[str, int], read_data: bool) -> str:
    packs, files = (count_text(checked.get(k, 0)) for k in ("packs", "files"))
    read = f" ({size_text(checked.get('read_bytes', 0))} read)" if read_data else ""
    return f"verified {packs} packs, {files} files{read}"


@click.command()
@click.option("--dry-run", "-n", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option(
    "--grace",
    type=Duration(),
    default=DEFAULT_GRACE,
    show_default=True,
    metavar="DURATION",
    help="Never delete anything written within this long (30s, 15m, 24h, 7d, 0); "
    "less than 10m needs --force.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Accept a grace shorter than 10m: only safe when nothing else writes to the store.",
)
@pass_cli
def gc(cli: CliContext, dry_run: bool, grace: float, force: bool) -> None:
    """Delete packs no ref can reach.

    Two-phase: nothing written within the grace period is deleted, so a concurrent push never
    loses data as long as it takes less than the grace period.  A grace shorter than 10
    minutes is refused (exit 2) unless --force or --dry-run.  A forced run announces itself,
    so writers re-check before moving their refs; it is still safe only when nothing else
    writes to the store.
    """
    from flowpack.cas.gc import check_grace, collect

    if not dry_run:
        check_grace(grace, force=force)
    with feedback(cli.json, cli.quiet) as fb:
        report = collect(
            cli.store, grace=grace, dry_run=dry_run, progress=fb.callback, announce=force
        )
    if cli.json:
        print_json(report.as_dict())
    else:
        click.echo(report.summary())
    freed = "would be freed" if dry_run else "freed"
    fb.summary(
        f"gc examined {count_text(report.live_packs)} live packs, "
        f"{size_text(fb.count('examine'))} ({size_text(report.freed_bytes)} {freed})"
    )


_STATS_ORDER = ("objects", "packs", "stored_bytes", "logical_bytes", "dedup_ratio", "refs")


@click.command()
@pass_cli
def stats(cli: CliContext) -> None:
    """Objects, packs, stored and logical bytes, and the dedup ratio."""
    from flowpack.cas.stats import store_stats

    data = store_stats(cli.store).as_dict()
    if cli.json:
        print_json(data)
        return
    keys = [k for k in _STATS_ORDER if k in data] + sorted(k for k in data if k not in _STATS_ORDER)
    click.echo("\n".join(table((k.replace("_", " "), _stat_text(k, data[k])) for k in keys)))


def _stat_text(key: str, value: Any) -> str:
    if key.endswith("bytes") and isinstance(value, int):
        return f"{value} ({human_bytes(value)})"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


@click.command()
@click.argument("digest", metavar="DIGEST|REF|PROJECT/FLOW|FLOW@VERSION")
@click.option(
    "--output",
    "-o",
    "out",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The pack file to write.",
)
@pass_cli
def export(cli: CliContext, digest: str, out: Path) -> None:
    """Write a bundle and everything it references as one pack file.

    PROJECT/FLOW exports the flow's whole history: both record chains, every bundle they
    name and every signature, for "flowpack audit --bundle FILE"; "flowpack import FILE
    --refs" sets its refs again, so the flow runs by name there.  FLOW@VERSION exports that
    registration record, with its bundle and the earlier registrations.
    """
    from flowpack.cas.errors import NotFound, UsageError
    from flowpack.cas.transfer import export_bundle
    from flowpack.packer.history import export_root
    from flowpack.packer.lookup import find_registration

    d = export_root(cli.store, digest)
    if d is None:
        try:
            d = cli.resolve(digest)
        except (NotFound, UsageError):
            d = find_registration(cli.store, digest).digest
    written = export_bundle(cli.store, d, out)
    if cli.json:
        print_json({"digest": str(d), "file": str(out), "bytes": written})
    else:
        click.echo(f"exported {d} to {out} ({human_bytes(written)})")


@click.command(name="import")
@click.argument("src", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--refs", "set_refs", is_flag=True, help="Set the ref of the imported flow record.")
@click.option("--force", "-f", is_flag=True, help="With --refs: move a ref that differs.")
@pass_cli
def import_command(cli: CliContext, src: Path, set_refs: bool, force: bool) -> None:
    """Store a pack file made by "flowpack export" and print the bundle's digest.

    The whole file is verified before anything is stored.  With --refs, an imported flow
    (exported by its name) gets its ref flows/PROJECT/FLOW back, so it runs by name; a ref
    that holds another value is refused unless --force.
    """
    from flowpack.cas.transfer import import_bundle
    from flowpack.packer.imported import set_imported_refs

    d = import_bundle(cli.store, src)
    refs = set_imported_refs(cli.store, d, force=force) if set_refs else {}
    if cli.json:
        print_json({"digest": str(d), "size": d.size, "refs": refs})
    else:
        click.echo(str(d))
        for name, what in refs.items():
            click.echo(f"ref {name}: {what}", err=True)


@click.command()
@click.argument("src_url", metavar="SRC_URL")
@click.argument("dst_url", metavar="DST_URL")
@click.argument("names", nargs=-1, metavar="[REF]...")
@click.option(
    "--force",
    is_flag=True,
    help="Also move refs whose DST value is not an ancestor of SRC's (a run or registration "
    "chain replaced this way is kept under diverged/<ref>/<digest>).",
)
@pass_cli
def copy(cli: CliContext, src_url: str, dst_url: str, names: tuple[str, ...], force: bool) -> None:
    """Copy refs (default: every ref) and what they reach from SRC_URL to DST_URL.

    Only objects DST lacks are sent.  Each ref is then moved on DST by compare-and-set, only
    as a fast-forward (DST's value is an ancestor of SRC's, as a record's parent chain says;
    a DST ref already ahead is left).  Any other ref is refused (exit 3) unless --force, which
    keeps a replaced run or registration chain under diverged/<ref>/<digest>.  A ref changed
    on DST meanwhile exits 3.
    """
    from flowpack.cas.copying import copy_objects

    with feedback(cli.json, cli.quiet) as fb:
        src, dst = cli.open_store(src_url), cli.open_store(dst_url)
        wanted: list[tuple[str, Digest]] = (
            [(n, src.refs.require(n)) for n in names] if names else sorted(src.refs.iter_refs(""))
        )
        digests = [d for _, d in wanted]
        result = copy_objects(src, dst, digests, fb.callback) if wanted else None
        moved, kept, refused = _move_refs(dst, wanted, force)
    objects, sent = (result.new_chunks, result.bytes_uploaded) if result else (0, 0)
    for line in kept:
        click.echo(line, err=True)
    if cli.json:
        doc: dict[str, Any] = {
            "refs": {n: str(d) for n, d in wanted},
            "refs_updated": sorted(moved),
            "refs_kept": kept,
            "refs_refused": [str(e) for e in refused],
            "new_chunks": objects,
            "bytes_uploaded": sent,
            "packs_uploaded": result.packs_uploaded if result else 0,
        }
        print_json(doc)
    else:
        packs = result.packs_uploaded if result else 0
        click.echo(
            f"copied {len(wanted)} refs ({len(moved)} updated): "
            f"{human_bytes(sent)} in {packs} packs sent"
        )
    if refused:
        from flowpack.cas.fastforward import NonFastForward

        others = ", ".join(repr(e.ref) for e in refused[1:])
        more = f" (also refused: {others})" if others else ""
        raise NonFastForward(f"{refused[0]}{more}", refused[0].current, refused[0].ref)
    fb.summary(
        f"copied {count_text(len(wanted))} refs, {count_text(objects)} objects, "
        f"{size_text(fb.count('copy'))} ({size_text(sent)} sent)"
    )


def _move_refs(
    dst: Store, wanted: list[tuple[str, Digest]], force: bool
) -> tuple[list[str], list[str], list[NonFastForward]]:
    """Move each ref forward; (moved refs, lines naming kept values, refusals)."""
    from flowpack.cas.fastforward import NonFastForward, move_forward

    moved: list[str] = []
    kept: list[str] = []
    refused: list[NonFastForward] = []
    for name, digest in wanted:
        try:
            done = move_forward(dst, name, digest, force=force)
        except NonFastForward as exc:
            refused.append(exc)
            continue
        if done.moved:
            moved.append(name)
        if done.kept_as:
            kept.append(f"kept {name}'s replaced value {done.old} as {done.kept_as}")
    return moved, kept, refused


COMMANDS = (verify, gc, stats, export, import_command, copy)
