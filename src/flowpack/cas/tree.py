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
from typing import NoReturn

from flowpack.cas.errors import AlreadyExists, NotFound, UnsafePath, UsageError
from flowpack.cas.ignore import IgnoreRules
from flowpack.cas.manifest import MODE_EXEC, MODE_FILE, MODE_SYMLINK, Manifest, check_path

_SPECIAL = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


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
    :mod:`flowpack.cas.ignore`) is left out, and counted in ``rules.ignored``.
    """
    root = Path(root)
    if not root.exists() and not root.is_symlink():
        raise NotFound(f"no such file or directory: {root}")
    if root.is_symlink() or not root.is_dir():
        return [_entry(root, _utf8_name(root.name, root))]
    rules = rules if rules is not None else IgnoreRules.for_root(root)
    out: list[SourceFile] = []
    _scan_dir(str(root), "", rules, out)
    return sorted(out, key=lambda f: f.path)


def _scan_dir(dirpath: str, rel: str, rules: IgnoreRules, out: list[SourceFile]) -> None:
    """Add the entries under ``dirpath`` (bundle path ``rel``) to ``out``, except what
    ``rules`` ignore (one ``lstat`` each, kept in the :class:`SourceFile` for the files cache;
    a symlink to a directory is an entry, never followed)."""
    try:
        with os.scandir(dirpath) as it:
            entries = list(it)
    except OSError as exc:
        _unreadable(exc)
    for e in entries:
        name = e.name
        path = f"{rel}/{name}" if rel else name
        full = Path(e.path)
        is_dir = e.is_dir(follow_symlinks=False)
        if rules.skip(full, path, is_dir=is_dir):
            continue
        if is_dir:
            _scan_dir(e.path, path, rules, out)
            continue
        _utf8_name(name, full)
        out.append(_entry(full, path, e.stat(follow_symlinks=False)))


def _unreadable(exc: OSError) -> NoReturn:
    """``os.walk``'s error hook: a directory it cannot list fails the scan, never drops out."""
    raise UsageError(f"cannot read directory {exc.filename}: {exc.strerror or exc}") from exc


def _utf8_name(name: str, path: Path) -> str:
    """``name`` if it is valid UTF-8 (bundle paths are text), else a clear refusal."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", errors="backslashreplace")
        raise UsageError(
            f"file name is not valid UTF-8: {shown} (rename it, or leave it out of the tree)"
        ) from None
    return name


def _entry(path: Path, rel: str, st: os.stat_result | None = None) -> SourceFile:
    st = st if st is not None else path.lstat()
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        _utf8_name(target, path)
        return SourceFile(check_path(rel), MODE_SYMLINK, lambda: target.encode("utf-8"))
    if not stat.S_ISREG(st.st_mode):
        kind = _SPECIAL.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise UsageError(f"{path} is {kind}: only regular files, symlinks and directories")
    mode = MODE_EXEC if st.st_mode & 0o111 else MODE_FILE
    return SourceFile(check_path(rel), mode, path.read_bytes, path, st)


def plan_restore(manifest: Manifest, dest: Path, *, force: bool) -> None:
    """Check, before writing anything, that restoring ``manifest`` into ``dest`` is safe."""
    dest_abs = Path(os.path.abspath(dest))
    for f in manifest.files:
        target = safe_join(dest_abs, f.path)
        if (target.exists() or target.is_symlink()) and not force:
            raise AlreadyExists(f"{target} exists (use --force to overwrite)")
        # A symlink's text is checked once its bytes are known, in check_link; where the
        # link itself is created is checked here, like any file.
        parent = target.parent
        while parent != dest_abs:
            if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                raise UnsafePath(f"{f.path}: a parent directory is a symlink or a file")
            parent = parent.parent


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
