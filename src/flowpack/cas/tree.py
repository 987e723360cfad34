"""Trees on disk: scanning a directory into bundle entries, and restoring a bundle safely.

Scanning records only what is content: relative path, the executable bit, and symlink targets.
Restoring never writes outside the destination: every path is re-checked, symlinks whose
target is absolute or leaves the destination are refused before anything is written, and
existing files are replaced only with ``force``.  Files are written to a temporary name and
renamed, so a failed restore leaves no half-written file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flowpack.cas.errors import AlreadyExists, NotFound, UnsafePath, UsageError
from flowpack.cas.ignore import IgnoreRules
from flowpack.cas.manifest import MODE_EXEC, MODE_FILE, MODE_SYMLINK, Manifest, check_path
from flowpack.cas.treescan import SPECIAL, scan_folders, utf8_name


@dataclass(frozen=True)
class SourceFile:
    """A file to put in a bundle: its path in the bundle, mode, and how to read its bytes."""

    path: str
    mode: int
    read: Callable[[], bytes]
    #: The file on disk, when there is one: large files are then chunked as a stream.
    source: Path | None = None
    #: Its ``lstat`` when scanned (the files cache compares it with what it remembers).
    stat: os.stat_result | None = None

    @classmethod
    def from_bytes(cls, path: str, data: bytes, mode: int = MODE_FILE) -> SourceFile:
        return cls(check_path(path), mode, lambda: data)


def scan_tree(root: Path, rules: IgnoreRules | None = None) -> list[SourceFile]:
    """Every regular file and symlink under ``root`` (a file alone is a one-file tree).

    Nothing is skipped silently: a directory that cannot be listed, a special file (device,
    FIFO, socket) and a name that is not UTF-8 each raise :class:`UsageError` naming the path;
    only what ``rules`` ignore (default: :meth:`IgnoreRules.for_root`, see
    :mod:`flowpack.cas.ignore`) is left out, and counted in ``rules.ignored``.  The walk is
    :func:`flowpack.cas.treescan.scan_folders`'s.
    """
    root = Path(root)
    if not is_tree(root):
        return [source_file(root, utf8_name(root.name, root))]
    rules = rules if rules is not None else IgnoreRules.for_root(root)
    out: list[SourceFile] = []
    for folder in scan_folders(str(root), rules, lambda rel: None):
        for rel in folder.files():
            out.append(source_file(root.joinpath(*rel.split("/")), rel))
    return out


def is_tree(root: Path) -> bool:
    """Whether ``root`` is pushed as a directory (not a symlink); :class:`NotFound` if absent."""
    if not root.exists() and not root.is_symlink():
        raise NotFound(f"no such file or directory: {root}")
    return not root.is_symlink() and root.is_dir()


def source_file(path: Path, rel: str, st: os.stat_result | None = None) -> SourceFile:
    """The file at ``path`` (``rel`` in the bundle) as it is now: its mode from ``st`` (default:
    its ``lstat``), its content read when asked (a symlink's target at once)."""
    st = st if st is not None else path.lstat()
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        utf8_name(target, path)
        return SourceFile(check_path(rel), MODE_SYMLINK, lambda: target.encode("utf-8"))
    if not stat.S_ISREG(st.st_mode):
        kind = SPECIAL.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise UsageError(f"{path} is {kind}: only regular files, symlinks and directories")
    mode = MODE_EXEC if st.st_mode & 0o111 else MODE_FILE
    return SourceFile(check_path(rel), mode, path.read_bytes, path, st)


def plan_restore(manifest: Manifest, dest: Path, *, force: bool) -> dict[Path, bool]:
    """Check, before writing anything, that restoring ``manifest`` into ``dest`` is safe.
    Returns every folder of the restore with whether it exists now (looked at or inferred)."""
    dest_abs = Path(os.path.abspath(dest))
    there: dict[Path, bool] = {dest_abs: True}  # directory -> whether it exists (checked)
    for f in manifest.files:
        target = safe_join(dest_abs, f.path)
        # A symlink's text is checked once its bytes are known, in check_link; where the
        # link itself is created is checked here, like any file.
        folder = _folder_exists(target.parent, there, f.path)  # checked even with force
        if folder and not force and os.path.lexists(target):  # under a missing folder: nothing
            raise AlreadyExists(f"{target} exists (use --force to overwrite)")
    return there


def _folder_exists(folder: Path, there: dict[Path, bool], path: str) -> bool:
    """Whether ``folder`` exists as a real directory; :class:`UnsafePath` if it is a symlink
    or a file.  A folder under a missing one is missing without a look (a fresh restore stats
    only the top of each new folder tree)."""
    unknown = []
    while folder not in there:  # ``dest`` is always known, and every folder lies under it
        unknown.append(folder)
        folder = folder.parent
    exists = there[folder]
    for f in reversed(unknown):  # top-down
        if exists:
            try:
                mode = os.lstat(f).st_mode
            except FileNotFoundError:
                exists = False
            else:
                if not stat.S_ISDIR(mode):
                    raise UnsafePath(f"{path}: a parent directory is a symlink or a file")
        there[f] = exists
    return exists


def check_link(dest: Path, path: str, link_target: str) -> None:
    """Refuse a symlink whose target is absolute or may resolve outside ``dest``.

    Every ``..`` must come first: the leading ``..`` climb through the real directories that
    hold the link (never past ``dest``), and the rest only descends.  A ``..`` after a name is
    refused, since that name may itself be a symlink of the bundle (``b -> .`` makes ``b/..``
    the parent of ``dest``, which no lexical count can see).
    """
    if not link_target or os.path.isabs(link_target) or "\0" in link_target:
        raise UnsafePath(f"{path}: symlink to an empty or absolute path {link_target!r}")
    depth = len(PurePosixPath(path).parent.parts)
    descended = False
    for part in link_target.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise UnsafePath(f"{path}: symlink points outside the destination: {link_target!r}")
            if descended:
                raise UnsafePath(f"{path}: symlink has '..' after a name: {link_target!r}")
        elif part not in ("", "."):
            descended = True


def safe_join(dest: Path, rel: str) -> Path:
    """``dest / rel`` after checking ``rel`` is a safe relative path."""
    check_path(rel)
    return dest.joinpath(*rel.split("/"))
