"""Bundle commands: ``push``, ``pull``, ``cat``, ``ls`` and ``diff``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.params import split_object_path
from flowpack.cli.progress import Callback, count_text, feedback, size_text
from flowpack.cli.render import (
    entry_dict,
    human_bytes,
    manifest_dict,
    mode_octal,
    mode_text,
    print_json,
    table,
)

#: ``cat`` streams files larger than this (8 MiB) instead of holding them.
STREAM_ABOVE = 8 << 20

if TYPE_CHECKING:
    from flowpack.cas.digest import Digest
    from flowpack.cas.store import PushResult, Store


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--ref",
    "ref_name",
    metavar="NAME",
    help="Then point ref NAME at the new bundle (compare-and-set from its value now; "
    "the new version is stored as a delta against that value).",
)
@click.option(
    "--no-default-ignores",
    "no_defaults",
    is_flag=True,
    help="Push the files the default ignores leave out (.flowpackignore still applies).",
)
@pass_cli
def push(cli: CliContext, path: Path, ref_name: str | None, no_defaults: bool) -> None:
    """Store the directory or file PATH as a bundle and print its digest.

    Only chunks the store lacks are uploaded.  With --ref, a ref moved by someone else in the
    meantime makes the command exit 3, naming the ref's current value.

    \b
    Left out by default (--no-default-ignores pushes them):
      {defaults}
    A .flowpackignore file at the root of PATH adds patterns in gitignore syntax
    (# comments, !negation, /anchored, dir/).  How many files were left out is said
    on stderr (and as "ignored" with --json).
    """
    with feedback(cli.json, cli.quiet) as fb:
        store = cli.store
        if ref_name:
            result = _push_and_move(store, path, ref_name, fb.callback, not no_defaults)
        else:
            result = store.put_tree(path, progress=fb.callback, default_ignores=not no_defaults)
    if cli.json:
        print_json(result.as_dict())
        return
    click.echo(str(result.digest))
    if result.ignored:
        click.echo(_ignored_line(result.ignored, path, not no_defaults), err=True)
    fb.summary(
        f"pushed {count_text(result.files)} files, {size_text(result.size)} "
        f"({size_text(result.bytes_uploaded)} new)"
    )


def _ignored_line(n: int, path: Path, defaults: bool) -> str:
    from flowpack.cas.ignore import IGNORE_FILE

    custom = path.is_dir() and (path / IGNORE_FILE).is_file()
    why = " and ".join(w for w, on in (("default ignores", defaults), (IGNORE_FILE, custom)) if on)
    hint = "; --no-default-ignores to include them" if defaults else ""
    return f"ignored {n} file{'s' if n != 1 else ''} ({why}{hint})"


def _defaults_help() -> None:
    from flowpack.cas.ignore import DEFAULT_IGNORES

    assert push.help is not None
    push.help = push.help.replace("{defaults}", ", ".join(p.rstrip("/") for p in DEFAULT_IGNORES))


_defaults_help()


def _push_and_move(
    store: Store, path: Path, ref: str, progress: Callback | None, defaults: bool
) -> PushResult:
    """Store PATH as the next version of ``ref`` (a delta against its value), then move it."""
    from flowpack.cas.advance import advance
    from flowpack.cas.errors import RefConflict

    pushed: list[PushResult] = []

    def write(head: Digest | None) -> Digest:
        pushed.append(
            store.put_tree(path, parent=head, progress=progress, default_ignores=defaults)
        )
        return pushed[-1].digest

    try:
        advance(store, ref, write, session=False)  # one put_tree is one write session
    except RefConflict as exc:
        if not pushed:
            raise
        raise RefConflict(
            f"{exc}; {pushed[-1].digest} was stored but the ref was not moved", exc.current
        ) from exc
    return pushed[-1]


@click.command()
@click.argument("digest", metavar="DIGEST|REF|FLOW[@VERSION]")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--force", "-f", is_flag=True, help="Overwrite files that already exist in DEST.")
@pass_cli
def pull(cli: CliContext, digest: str, dest: Path, force: bool) -> None:
    """Restore a bundle into the directory DEST.

    Nothing is written outside DEST; existing files are replaced only with --force.  Every file
    is verified before it is renamed into place, so on error DEST is left as it was.  A flow
    name (PROJECT/FLOW@2) pulls that registration's bundle; a record (which holds no files) is
    refused, naming its bundle.
    """
    from flowpack.cas.restore import restore_tree
    from flowpack.cli.bundles import resolve_bundle

    with feedback(cli.json, cli.quiet) as fb:
        d = resolve_bundle(cli, digest, bundle_only=True)
        manifest = restore_tree(cli.store, d, dest, force=force, progress=fb.callback)
    if cli.json:
        print_json(
            {
                "digest": str(d),
                "dest": str(dest),
                "files": len(manifest.files),
                "size": manifest.size,
            }
        )
    else:
        click.echo(
            f"restored {len(manifest.files)} files ({human_bytes(manifest.size)}) "
            f"of {d} into {dest}"
        )
    fb.summary(f"pulled {count_text(len(manifest.files))} files, {size_text(manifest.size)}")


@click.command()
@click.argument("target", metavar="DIGEST|FLOW[:PATH]")
@pass_cli
def cat(cli: CliContext, target: str) -> None:
    """Print one file of a bundle (raw bytes), or the manifest itself as JSON.

    TARGET is DIGEST:PATH, REF:PATH or FLOW[@VERSION]:PATH for a file, DIGEST, REF or FLOW
    for the manifest.  A file larger than 8 MiB is streamed: every chunk is verified before it
    is written, and a file whose chunks do not add up to its digest fails after its bytes,
    exiting non-zero.
    """
    from flowpack.cli.bundles import resolve_bundle

    obj, path = split_object_path(target)
    d = resolve_bundle(cli, obj)
    if path is None:
        print_json(manifest_dict(d, cli.store.get_manifest(d)))
        return
    manifest = cli.store.get_manifest(d)
    try:
        entry = manifest.file(path)
    except KeyError:
        from flowpack.cas.errors import NotFound

        raise NotFound(f"no file {path!r} in bundle {d}") from None
    if not cli.json and entry.size > STREAM_ABOVE:  # verified chunk by chunk, never held whole
        out = sys.stdout.buffer
        for piece in cli.store.iter_file(entry):
            out.write(piece)
        out.flush()
        return
    data = cli.store.file_bytes(entry)
    if cli.json:
        doc = entry_dict(entry)
        try:
            doc.update(encoding="utf-8", content=data.decode("utf-8"))
        except UnicodeDecodeError:
            import base64

            doc.update(encoding="base64", content=base64.b64encode(data).decode("ascii"))
        print_json(doc)
        return
    click.echo(data, nl=False)  # bytes go to the binary stdout untouched


@click.command(name="ls")
@click.argument("digest", metavar="DIGEST|REF|FLOW[@VERSION]")
@pass_cli
def ls_command(cli: CliContext, digest: str) -> None:
    """List the files of a bundle (or of a flow's bundle): mode, size and path.  A record,
    which holds no files, is refused, naming its bundle."""
    from flowpack.cli.bundles import resolve_bundle

    d = resolve_bundle(cli, digest, bundle_only=True)
    manifest = cli.store.get_manifest(d)
    if cli.json:
        print_json([entry_dict(f) for f in manifest.files])
        return
    rows = [(mode_text(f.mode), str(f.size), f.path) for f in manifest.files]
    for line in table(rows, right=frozenset({1})):
        click.echo(line)


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--name-only", is_flag=True, help="List changed paths only, without text diffs.")
@pass_cli
def diff(cli: CliContext, a: str, b: str, name_only: bool) -> None:
    """Show what changed from bundle A to bundle B.

    Lists files added, removed and changed, then a unified diff of each changed text file
    (binary files are only reported as differing).  A and B are digests, refs or flow names
    (PROJECT/FLOW@1 PROJECT/FLOW@2).
    """
    from flowpack.cli.bundles import resolve_bundle
    from flowpack.cli.treediff import compare, unified

    da, db = resolve_bundle(cli, a), resolve_bundle(cli, b)
    store = cli.store
    changes = compare(store.get_manifest(da), store.get_manifest(db))
    if cli.json:
        changed: list[dict[str, Any]] = []
        for old, new in changes.changed:
            item: dict[str, Any] = {
                "path": new.path,
                "old": entry_dict(old),
                "new": entry_dict(new),
            }
            if not name_only:
                lines, reason = unified(store, old, new)
                item.update(diff="\n".join(lines) + "\n" if lines else None, note=reason)
            changed.append(item)
        print_json(
            {
                "a": str(da),
                "b": str(db),
                "added": [entry_dict(f) for f in changes.added],
                "removed": [entry_dict(f) for f in changes.removed],
                "changed": changed,
            }
        )
        return
    rows = [("added", f.path) for f in changes.added]
    rows += [("removed", f.path) for f in changes.removed]
    rows += [("changed", new.path) for _, new in changes.changed]
    for line in table(sorted(rows, key=lambda r: r[1])):
        click.echo(line)
    if name_only:
        return
    for old, new in changes.changed:
        click.echo("")
        if old.mode != new.mode:
            click.echo(f"mode {mode_octal(old.mode)} -> {mode_octal(new.mode)}: {new.path}")
        lines, reason = unified(store, old, new)
        if reason:
            click.echo(reason)
        for line in lines:
            click.echo(line)


COMMANDS = (push, pull, cat, ls_command, diff)
