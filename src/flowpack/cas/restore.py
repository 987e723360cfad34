"""Restoring a bundle into a directory: all of it, verified, or nothing.

Every file is reassembled from verified chunks and checked against its file digest, then
written into a private staging directory made inside DEST (``tempfile.mkdtemp``: fresh,
exclusive, mode 0700) under short numbered names opened ``O_CREAT|O_EXCL|O_NOFOLLOW``.  Only
when every file is written are they renamed into place; on any error the staging directory
(and directories this restore created) are removed.  So nothing is ever written outside DEST,
a bundle can never name a staging file (the staging directory's name is chosen after the
bundle is read, and never one of its top-level names), and a file name as long as the file
system allows round-trips.  Chunks are fetched in batches with coalesced ranged reads.

The staging directory's name carries this host (hashed) and process id: a restore killed
outright (SIGKILL, power loss) leaves its staging directory behind, and the next restore into
the same DEST on the same host removes it once that process is gone.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import blake3

from flowpack.cas.errors import AlreadyExists, CorruptObject, MalformedData
from flowpack.cas.manifest import Manifest
from flowpack.cas.memory import process_budget
from flowpack.cas.meter import Meter
from flowpack.cas.spill import SPILL_PREFIX
from flowpack.cas.stagewriter import OPEN_FLAGS, Folders, StageWriter
from flowpack.cas.tree import check_link, plan_restore, safe_join

if TYPE_CHECKING:
    from flowpack.cas.content import Content, Progress
    from flowpack.cas.digest import Digest

STAGE_PREFIX = ".flowpack-stage-"


def restore_tree(
    store: Content,
    digest: Digest,
    dest: str | Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> Manifest:
    """Restore bundle ``digest`` into ``dest``: all files or, on any error, none.

    Raises :class:`NotFound` if the store lacks the bundle, :class:`CorruptObject` for damaged
    content, and refuses (with a :class:`FlowpackError`) to overwrite files without ``force``.
    """
    return restore(store, store.get_manifest(digest), Path(dest), force=force, progress=progress)


def restore(
    store: Content, manifest: Manifest, dest: Path, *, force: bool, progress: Progress | None
) -> Manifest:
    """Restore the files ``manifest`` lists into ``dest`` (see the module docstring)."""
    dest = Path(os.path.abspath(dest))
    folders = plan_restore(manifest, dest, force=force)
    if (dest.exists() or dest.is_symlink()) and not dest.is_dir():
        raise AlreadyExists(f"{dest} exists and is not a directory")
    created = [p for p in [dest, *dest.parents] if not p.exists() and not p.is_symlink()]
    dest.mkdir(parents=True, exist_ok=True)
    stage = _stage_dir(manifest, dest)
    staged: list[tuple[Path, Path]] = []
    made_dirs = Folders(dest, folders)
    writer = StageWriter(made_dirs, process_budget())
    try:
        try:
            reads = (c for f in manifest.files for c in f.chunks)
            with store.planned(reads, spill=stage, progress=progress):
                meter = Meter(progress, "pull", manifest.size)  # bytes of files restored
                _stage_all(store, manifest, dest, stage, staged, writer, meter)
        finally:
            writer.close(check=False)  # nothing is written into the stage once it ends
        writer.close()
        for tmp, target in staged:
            os.replace(tmp, target)
        stage.rmdir()
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for d in [*reversed(made_dirs.made), *created]:
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    return manifest


def _stage_all(
    store: Content,
    manifest: Manifest,
    dest: Path,
    stage: Path,
    staged: list[tuple[Path, Path]],
    writer: StageWriter,
    meter: Meter,
) -> None:
    """Write every file of ``manifest`` into ``stage``, prefetching by read-ahead windows."""
    batch: list[int] = []
    size = 0
    files = manifest.files
    window = process_budget().read_ahead
    for i, f in enumerate(files):
        batch.append(i)
        size += f.size
        if size >= window or i == len(files) - 1:
            if size <= window:  # a larger file prefetches by windows in _stage
                store.prefetch(c for j in batch for c in files[j].chunks)
            for j in batch:
                tmp = stage / str(len(staged))
                staged.append((tmp, _stage(store, manifest, j, dest, tmp, writer, meter)))
            batch, size = [], 0


def _stage_dir(manifest: Manifest, dest: Path) -> Path:
    """A fresh private directory in ``dest`` whose name no path of ``manifest`` starts with."""
    tops = {f.path.split("/", 1)[0] for f in manifest.files}
    sweep_stale_stages(dest, keep=tops)
    while True:
        stage = Path(tempfile.mkdtemp(prefix=_stage_prefix(os.getpid()), dir=dest))
        if stage.name not in tops:
            return stage
        stage.rmdir()  # pragma: no cover - a bundle guessed a random name


def _stage(
    store: Content,
    manifest: Manifest,
    j: int,
    dest: Path,
    tmp: Path,
    writer: StageWriter,
    meter: Meter,
) -> Path:
    """Write file ``j`` of ``manifest`` at ``tmp`` (verified); return where it belongs."""
    f = manifest.files[j]
    target = safe_join(dest, f.path)
    if f.size <= process_budget().read_ahead and not f.is_symlink:
        pieces = [store.get_bytes(c) for c in f.chunks]
        whole = blake3.blake3()
        for piece in pieces:
            whole.update(piece)
        if whole.hexdigest() != f.digest.hex:
            raise CorruptObject(f"file {f.path} does not match its digest {f.digest}", f.digest)
        writer.write(tmp, target.parent, pieces, f.mode)
        meter.add(f.size)
        return target
    writer.folders.ensure(target.parent)
    if f.is_symlink:
        link = b"".join(store.get_bytes(c) for c in f.chunks)
        if not f.digest.matches(link):
            raise CorruptObject(f"file {f.path} does not match its digest {f.digest}", f.digest)
        try:
            text = link.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise MalformedData(f"{f.path}: symlink target is not UTF-8") from None
        check_link(dest, f.path, text)
        os.symlink(text, tmp)
        meter.add(len(link))
        return target
    whole = blake3.blake3()
    big = f.size > process_budget().read_ahead
    window = 0
    with os.fdopen(os.open(tmp, OPEN_FLAGS, 0o600), "wb") as fh:
        for k, c in enumerate(f.chunks):  # one verified chunk in memory at a time
            if big and k >= window:
                window = _prefetch_window(store, f.chunks, k)
            piece = store.get_bytes(c)
            whole.update(piece)
            fh.write(piece)
            meter.add(len(piece))
        if whole.hexdigest() != f.digest.hex:
            raise CorruptObject(f"file {f.path} does not match its digest {f.digest}", f.digest)
        os.fchmod(fh.fileno(), f.mode)
    return target


def _prefetch_window(store: Content, chunks: tuple[Digest, ...], start: int) -> int:
    """Prefetch a read-ahead window of ``chunks`` from ``start``; returns where it ends."""
    end, size, window = start, 0, process_budget().read_ahead
    while end < len(chunks) and (size < window or end == start):
        size += chunks[end].size
        end += 1
    store.prefetch(chunks[start:end])
    return end


def _stage_prefix(pid: int) -> str:
    host = blake3.blake3(platform.node().encode()).hexdigest()[:8]
    return f"{STAGE_PREFIX}{host}-{pid}-"


def sweep_stale_stages(dest: Path, *, keep: set[str]) -> list[str]:
    """Remove staging directories in ``dest`` of restores on this host whose process is gone.

    Only a directory named by :func:`_stage_prefix` whose entries are all a restore's own (see
    :func:`_staged_name`) is removed, never one of ``keep`` (the bundle's own top-level
    names).  Returns the names removed.
    """
    removed = []
    with os.scandir(dest) as entries:
        for entry in entries:
            pid = _stage_owner(entry.name)
            if pid is None or entry.name in keep or _alive(pid):
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            if all(_staged_name(name) for name in os.listdir(entry.path)):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.name)
    return removed


def _staged_name(name: str) -> bool:
    """Whether ``name`` is one a restore gives what it writes in its staging directory: a
    staged file (a number) or its frames kept on disk (:mod:`flowpack.cas.spill`)."""
    return name.isdigit() or name.startswith(SPILL_PREFIX)


def _stage_owner(name: str) -> int | None:
    """The process id in a staging directory's name made on this host, else None."""
    mine = _stage_prefix(0)[: -len("0-")]
    if not name.startswith(mine):
        return None
    pid, _, rest = name[len(mine) :].partition("-")
    return int(pid) if pid.isdigit() and rest else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
