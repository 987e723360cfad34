"""`GitSnapshot`: the files of one commit, read from fetched objects (never a working tree).

Paths are POSIX, relative to the repository root.  A path that is absolute, holds ``..`` or
leads outside the repository (directly or through a symlink stored in the tree) is refused with
:class:`UnsafePath`; materialising writes only below the destination and never creates a
symlink (a link to a file inside the repository is written as a copy of that file).
"""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flowpack.cas.errors import BackendError, NotFound, UnsafePath, UsageError

#: dulwich's object store and trees, used through their documented methods (dulwich types its
#: ids as NewTypes of bytes, which this module handles as plain bytes).
ObjectStore = Any
Tree = Any

__all__ = ["DEFAULT_MAX_FILE", "GitSnapshot", "check_repo_path"]

DEFAULT_MAX_FILE = 64 << 20
_MAX_LINKS = 8
_SUBMODULE = 0o160000


def check_repo_path(path: str) -> str:
    """``path`` normalised (no leading ``./``); :class:`UnsafePath` if it may leave the repo."""
    if not path or "\\" in path or "\0" in path:
        raise UnsafePath(f"invalid path in a git repository: {path!r}")
    if path.startswith("/") or any(seg == ".." for seg in path.split("/")):
        raise UnsafePath(f"path {path!r} leaves the git repository (absolute or '..')")
    clean = posixpath.normpath(path)
    if clean in (".", "") or clean.startswith("../"):
        raise UnsafePath(f"path {path!r} does not name a file in the git repository")
    return clean


class GitSnapshot:
    """The tree of commit ``commit_id`` in ``store``; ``origin`` (redacted) names the repository.

    Read-only and thread-safe once built.
    """

    def __init__(self, store: ObjectStore, commit_id: str, origin: str) -> None:
        self.store = store
        self.commit_id = commit_id
        self.origin = origin
        commit = self._object(commit_id.encode())
        tree_id = getattr(commit, "tree", None)
        if tree_id is None:
            raise UsageError(f"{commit_id} in {origin} is not a commit")
        self._root: Tree = self._object(tree_id)

    def read_file(self, path: str, *, max_size: int = DEFAULT_MAX_FILE) -> bytes:
        """The bytes of the file at ``path`` (following symlinks that stay inside the repo).

        Raises :class:`NotFound` (no such file at this commit), :class:`UnsafePath` (the path or
        a symlink on it leaves the repository), :class:`UsageError` (a directory, or a file
        larger than ``max_size``).
        """
        mode, sha = self._lookup(check_repo_path(path))
        if stat.S_ISDIR(mode):
            raise UsageError(f"{path!r} is a directory at commit {self.commit_id} of {self.origin}")
        return self._blob(path, sha, max_size)

    def exists(self, path: str) -> bool:
        """Whether ``path`` names a file or directory at this commit."""
        try:
            self._lookup(check_repo_path(path))
        except NotFound:
            return False
        return True

    def walk(self, top: str = "") -> Iterator[tuple[str, int, bytes]]:
        """``(path, mode, object id)`` of every file below ``top`` (symlinks included as such)."""
        tree = self._root
        if top:
            mode, sha = self._lookup(check_repo_path(top))
            if not stat.S_ISDIR(mode):
                raise UsageError(f"{top!r} is not a directory in {self.origin}")
            tree = self._object(sha)
        yield from self._walk(tree, check_repo_path(top) if top else "")

    def materialise(self, dest: Path, *, max_size: int = DEFAULT_MAX_FILE) -> Path:
        """Write every file of the commit below ``dest`` (an empty or new directory).

        Symlinks to files inside the repository become copies; links leaving it raise
        :class:`UnsafePath` before anything is written; links to directories, submodules and
        files the fetch left on the server (over the size limit) are skipped.  Returns ``dest``.
        """
        plan: list[tuple[str, bytes]] = []
        for path, mode, sha in self.walk():
            if mode == _SUBMODULE or (not stat.S_ISLNK(mode) and sha not in self.store):
                continue
            if stat.S_ISLNK(mode):
                target_mode, sha = self._lookup(path)
                if stat.S_ISDIR(target_mode):
                    continue
            plan.append((path, sha))
        root = dest.resolve()
        for path, sha in plan:
            out = (root / path).resolve()
            if root not in out.parents:
                raise UnsafePath(f"{path!r} would be written outside {dest}")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(self._blob(path, sha, max_size))
        return dest

    def _walk(self, tree: Tree, prefix: str) -> Iterator[tuple[str, int, bytes]]:
        for entry in tree.iteritems():
            name = entry.path.decode("utf-8", "surrogateescape")
            if name in ("", ".", "..") or "/" in name or "\\" in name:
                raise UnsafePath(f"a tree entry named {name!r} in {self.origin}")
            path = f"{prefix}/{name}" if prefix else name
            if stat.S_ISDIR(entry.mode):
                yield from self._walk(self._object(entry.sha), path)
            else:
                yield path, entry.mode, entry.sha

    def _lookup(self, path: str, hops: int = 0) -> tuple[int, bytes]:
        """(mode, id) of ``path``, following symlinks that stay in the repository."""
        mode: int = stat.S_IFDIR
        sha: bytes = self._root.id
        done: list[str] = []
        for seg in path.split("/"):
            if not stat.S_ISDIR(mode):
                raise NotFound(f"no file {path!r} at commit {self.commit_id} of {self.origin}")
            tree: Tree = self._object(sha)
            try:
                mode, sha = tree[seg.encode("utf-8", "surrogateescape")]
            except KeyError:
                raise NotFound(
                    f"no file {path!r} at commit {self.commit_id} of {self.origin}"
                ) from None
            done.append(seg)
            if stat.S_ISLNK(mode):
                mode, sha = self._follow("/".join(done), sha, path, hops)
        return mode, sha

    def _follow(self, link: str, sha: bytes, path: str, hops: int) -> tuple[int, bytes]:
        if hops >= _MAX_LINKS:
            raise UsageError(f"too many symlinks resolving {path!r} in {self.origin}")
        target = self._blob(link, sha, 4096).decode("utf-8", "surrogateescape")
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
        if target.startswith("/") or joined == ".." or joined.startswith("../"):
            raise UnsafePath(f"symlink {link!r} points outside the git repository ({self.origin})")
        return self._lookup(joined, hops + 1)

    def _blob(self, path: str, sha: bytes, max_size: int) -> bytes:
        obj = self._object(sha, path)
        data: bytes = obj.as_raw_string()
        if len(data) > max_size:
            raise UsageError(
                f"{path!r} at commit {self.commit_id} of {self.origin} is larger than"
                f" {max_size} bytes"
            )
        return data

    def _object(self, sha: bytes, path: str | None = None) -> Tree:
        try:
            return self.store[sha]
        except KeyError:
            if path is not None:
                raise UsageError(
                    f"{path!r} at commit {self.commit_id} of {self.origin} was not fetched"
                    " (larger than the size limit)"
                ) from None
            raise BackendError(
                f"object {sha.decode()} is missing from the fetch of {self.origin}"
            ) from None
        except Exception as exc:
            raise BackendError(f"cannot read object {sha.decode()} of {self.origin}") from exc
