"""Scanning a directory for a push: one listing per folder and one ``lstat`` per entry.

A scan is a list of :class:`Folder`, one per directory, in bundle order: a folder comes
before its subfolders, and within a folder a subfolder sorts as ``name/``, so that taking each
folder's files in turn (descending into a subfolder at its place) gives the manifest's path
order.  A folder holds no object per file: its entries are one ``"\\0"``-joined string and
the ``lstat`` of its files one byte string of :data:`STAT` records, which is what the files
cache (:mod:`flowpack.cas.filescache`) compares, folder by folder.

The rules are those of :func:`flowpack.cas.tree.scan_tree`: regular files and symlinks are
entries (a symlink to a directory is never followed), a special file, an unreadable directory
or a name that is not UTF-8 raises :class:`UsageError` naming the path, and what the ignore
rules leave out is counted.  A folder listed exactly as the files cache remembers it reuses the
remembered ignore decisions instead of matching every name again.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from flowpack.cas.errors import UsageError
from flowpack.cas.ignore import IgnoreRules

SPECIAL = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}

#: A file's ``lstat`` as the files cache keys it: size, mtime_ns, inode, ctime_ns, st_mode.
STAT = struct.Struct("<qqQqI")
SEP = "\0"


@dataclass(frozen=True, slots=True)
class Folder:
    """One directory of a scanned tree."""

    #: Its path in the bundle ("" for the root).
    rel: str
    #: Its path on disk.
    path: str
    #: Every entry's key (its name, plus "/" for a directory), sorted, joined by "\0".
    listing: str
    #: Positions in ``listing`` the ignore rules leave out.
    ignored: tuple[int, ...]
    #: The kept entries' keys in order (None when nothing is left out: then ``listing``).
    kept: str | None
    #: :data:`STAT` of each kept file or symlink, in order.
    stats: bytes

    def entry_keys(self) -> list[str]:
        """The kept entries' keys, in bundle order."""
        text = self.listing if self.kept is None else self.kept
        return text.split(SEP) if text else []

    @property
    def has_subfolders(self) -> bool:
        text = self.listing if self.kept is None else self.kept
        return text.endswith("/") or f"/{SEP}" in text

    def files(self) -> Iterator[str]:
        """The bundle paths of the folder's kept files, in order."""
        prefix = f"{self.rel}/" if self.rel else ""
        return (prefix + k for k in self.entry_keys() if not k.endswith("/"))


#: ``remembered(rel)``: the listing and ignored positions the files cache holds for a folder.
Remembered = Callable[[str], "tuple[str, tuple[int, ...]] | None"]


def scan_folders(root: str, rules: IgnoreRules, remembered: Remembered) -> list[Folder]:
    """Every folder under directory ``root`` that the rules keep, in bundle order."""
    out: list[Folder] = []
    _scan(root, "", rules, remembered, out)
    return out


def _scan(
    path: str, rel: str, rules: IgnoreRules, remembered: Remembered, out: list[Folder]
) -> None:
    try:
        with os.scandir(path) as it:
            pairs = sorted(
                (e.name + "/" if e.is_dir(follow_symlinks=False) else e.name, e) for e in it
            )
    except OSError as exc:
        unreadable_dir(exc)
    listing = SEP.join(k for k, _ in pairs)
    known = remembered(rel)
    if known is not None and known[0] == listing:
        ignored = known[1]
        for i in ignored:
            rules.count(pairs[i][1].path, is_dir=pairs[i][0].endswith("/"))
    else:
        prefix = f"{rel}/" if rel else ""
        ignored = tuple(
            i
            for i, (k, e) in enumerate(pairs)
            if rules.skip(e.path, prefix + k.rstrip("/"), is_dir=k.endswith("/"))
        )
    if ignored:
        skip = set(ignored)
        pairs = [p for i, p in enumerate(pairs) if i not in skip]
    if known is None or known[0] != listing:
        _check_names(pairs)
    stats = []
    for key, e in pairs:
        if not key.endswith("/"):
            st = e.stat(follow_symlinks=False)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                _special(e.path, st.st_mode)
            stats.append(
                STAT.pack(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_mode)
            )
    kept = SEP.join(k for k, _ in pairs) if ignored else None
    out.append(Folder(rel, path, listing, ignored, kept, b"".join(stats)))
    for key, e in pairs:
        if key.endswith("/"):
            _scan(e.path, (f"{rel}/" if rel else "") + key[:-1], rules, remembered, out)


def _check_names(pairs: list[tuple[str, os.DirEntry[str]]]) -> None:
    """Refuse a kept name that is not UTF-8 (bundle paths are text), naming its path."""
    try:
        SEP.join(k for k, _ in pairs).encode("utf-8")
    except UnicodeEncodeError:
        for _, e in pairs:
            utf8_name(e.name, e.path)


def _special(path: str, mode: int) -> None:
    kind = SPECIAL.get(stat.S_IFMT(mode), "not a regular file")
    raise UsageError(f"{path} is {kind}: only regular files, symlinks and directories")


def unreadable_dir(exc: OSError) -> NoReturn:
    """A directory the scan cannot list fails it, never drops out."""
    raise UsageError(f"cannot read directory {exc.filename}: {exc.strerror or exc}") from exc


def utf8_name(name: str, path: str | Path) -> str:
    """``name`` if it is valid UTF-8 (bundle paths are text), else a clear refusal."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", errors="backslashreplace")
        raise UsageError(
            f"file name is not valid UTF-8: {shown} (rename it, or leave it out of the tree)"
        ) from None
    return name
