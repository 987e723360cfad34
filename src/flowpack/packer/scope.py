"""`ModuleScope`: a flow's own modules, importable while the scope is active, kept apart after.

A flow script imports its helper modules by plain name (``import helpers``).  Loading two
versions of one flow in a process must not let the second reuse the first's ``helpers``
from :data:`sys.modules`, and loading a flow must not leave its modules (or its directories on
:data:`sys.path`) behind for unrelated code.  So, while a scope is active:

- its search paths are at the front of :data:`sys.path`;
- modules of the names it *provides* (the top-level names of its own modules) that were
  imported from elsewhere are hidden, and the modules it imported before are put back;

and when it is left, the modules it provides are taken out of :data:`sys.modules` again (and
kept in the scope for the next activation), and what was hidden is restored.  Only the
provided names are touched: third-party packages a flow imports stay imported, as usual.

Not thread-safe: :data:`sys.modules` and :data:`sys.path` are process-wide.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from flowpack.packer.closure import NEVER_BUNDLED


class ModuleScope:
    """Search paths plus the top-level module names found there (see the module docstring)."""

    def __init__(self, paths: Iterable[Path], provides: Iterable[str]) -> None:
        self.paths = [str(p) for p in paths]
        self.provides = frozenset(provides) - NEVER_BUNDLED
        self.modules: dict[str, ModuleType] = {}

    @classmethod
    def for_files(cls, root: Path, paths: Iterable[str], files: Iterable[str]) -> ModuleScope:
        """A scope for a tree at ``root``: search ``paths`` (relative), providing the top-level
        names of the ``.py`` files and packages found under them."""
        rels = list(paths)
        provides: set[str] = set()
        for f in files:
            for p in rels:
                prefix = "" if p == "." else p + "/"
                if not f.startswith(prefix):
                    continue
                head = f[len(prefix) :].split("/")[0]
                name = head[:-3] if head.endswith(".py") else head
                if f.endswith(".py") and name.isidentifier():
                    provides.add(name)
        return cls([root / p if p != "." else root for p in rels], provides)

    def _mine(self, name: str) -> bool:
        return name.split(".", 1)[0] in self.provides

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make this scope's modules importable (see the module docstring)."""
        saved_path = list(sys.path)
        hidden = {n: sys.modules.pop(n) for n in list(sys.modules) if self._mine(n)}
        sys.modules.update(self.modules)
        sys.path[:0] = self.paths
        importlib.invalidate_caches()
        try:
            yield
        finally:
            for name in [n for n in sys.modules if self._mine(n)]:
                self.modules[name] = sys.modules.pop(name)
            sys.modules.update(hidden)
            sys.path[:] = saved_path
