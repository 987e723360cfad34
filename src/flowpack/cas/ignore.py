"""What a push leaves out of a tree: the default ignores, and a ``.flowpackignore`` file.

:data:`DEFAULT_IGNORES` (VCS metadata, Python bytecode, tool caches) are left out unless the
caller turns them off.  A ``.flowpackignore`` file at the root of the pushed directory adds
patterns in gitignore syntax (``#`` comments, ``!`` negation, a leading ``/`` anchors to the
root, a trailing ``/`` matches directories only); it applies with or without the defaults and
is itself pushed.  Only the root's ``.flowpackignore`` is read.  Every file left out is
counted, so a push can say how many it ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flowpack.cas.errors import UsageError

#: Left out of every push unless ``default_ignores=False`` (``--no-default-ignores``).
DEFAULT_IGNORES: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".svn/",
    "__pycache__/",
    "*.pyc",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".hypothesis/",
    ".tox/",
    ".nox/",
)
IGNORE_FILE = ".flowpackignore"
#: A ``.flowpackignore`` larger than this is refused (it is a list of patterns).
MAX_IGNORE_FILE = 1 << 20


class Matcher(Protocol):
    """Patterns that match bundle paths (a directory's ends with ``/``)."""

    def match_file(self, file: str) -> bool: ...


class DefaultIgnores:
    """:data:`DEFAULT_IGNORES` matched as gitignore matches them, without compiling patterns
    (``pathspec`` costs a push ~17 ms of start-up; it is imported for a ``.flowpackignore``
    only).  ``tests/cas/test_ignore.py`` holds the two equal on every path shape."""

    _dirs = frozenset(p[:-1] for p in DEFAULT_IGNORES if p.endswith("/"))
    _suffixes = tuple(p[1:] for p in DEFAULT_IGNORES if p.startswith("*"))

    def match_file(self, file: str) -> bool:
        parts = file.rstrip("/").split("/")
        folders = parts if file.endswith("/") else parts[:-1]
        return any(p in self._dirs for p in folders) or any(
            p.endswith(self._suffixes) for p in parts
        )


@dataclass
class IgnoreRules:
    """The patterns in force for one push, and what they have left out so far."""

    defaults: Matcher | None
    custom: Matcher | None
    ignored: int = 0
    #: Names the patterns in force (two rule sets with equal keys leave out the same paths).
    key: str = ""

    @classmethod
    def for_root(cls, root: Path, *, default_ignores: bool = True) -> IgnoreRules:
        """The rules for pushing directory ``root``: the defaults (unless turned off) and
        ``root/.flowpackignore`` if present.  :class:`UsageError` if that file is unreadable
        or too large."""
        defaults = DefaultIgnores() if default_ignores else None
        custom: Matcher | None = None
        lines: list[str] = []
        path = root / IGNORE_FILE
        if path.is_file():
            try:
                if path.stat().st_size > MAX_IGNORE_FILE:
                    raise UsageError(f"{path} is larger than {MAX_IGNORE_FILE} bytes")
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"cannot read {path}: {exc}") from exc
            import pathspec  # only a .flowpackignore needs it

            custom = pathspec.GitIgnoreSpec.from_lines(lines)
        patterns = [*(DEFAULT_IGNORES if default_ignores else ()), "\0", *lines]
        return cls(defaults, custom, key=json.dumps(patterns))

    def skip(self, path: str | Path, rel: str, *, is_dir: bool) -> bool:
        """Whether ``path`` (``rel`` in the bundle) is left out; counts the files it holds."""
        hit = self.matches(rel, is_dir=is_dir)
        if hit:
            self.count(path, is_dir=is_dir)
        return hit

    def matches(self, rel: str, *, is_dir: bool) -> bool:
        """Whether the patterns leave out ``rel`` (a path in the bundle); counts nothing."""
        probe = f"{rel}/" if is_dir else rel
        return any(s is not None and s.match_file(probe) for s in (self.defaults, self.custom))

    def count(self, path: str | Path, *, is_dir: bool) -> None:
        """Count ``path`` as left out: one file, or the files a directory holds."""
        self.ignored += _count_files(path) if is_dir else 1


def _count_files(directory: str | Path) -> int:
    """How many files (and symlinks) lie under ``directory``; unreadable parts count as none."""
    return sum(len(files) for _, _, files in os.walk(directory))
