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

The scope's own modules are compiled from source under their paths relative to the scope's
root (``flows/helpers.py``, never ``/home/me/checkout/flows/helpers.py``, and never from a
``.pyc`` made elsewhere), so a function pickled by value is the same bytes in every checkout.

Not thread-safe: :data:`sys.modules` and :data:`sys.path` are process-wide.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, ModuleType

from flowpack.packer.closure import NEVER_BUNDLED


class ModuleScope:
    """Search paths plus the top-level module names found there (see the module docstring)."""

    def __init__(self, root: Path, paths: Iterable[Path], provides: Iterable[str]) -> None:
        self.root = str(root)
        self.paths = [str(p) for p in paths]
        self.provides = frozenset(provides) - NEVER_BUNDLED
        self.modules: dict[str, ModuleType] = {}
        self._finder = _RelativeFinder(self)

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
        return cls(root, [root / p if p != "." else root for p in rels], provides)

    def _mine(self, name: str) -> bool:
        return name.split(".", 1)[0] in self.provides

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make this scope's modules importable (see the module docstring)."""
        saved_path = list(sys.path)
        hidden = {n: sys.modules.pop(n) for n in list(sys.modules) if self._mine(n)}
        sys.modules.update(self.modules)
        sys.path[:0] = self.paths
        sys.meta_path.insert(0, self._finder)
        importlib.invalidate_caches()
        try:
            yield
        finally:
            if self._finder in sys.meta_path:
                sys.meta_path.remove(self._finder)
            for name in [n for n in sys.modules if self._mine(n)]:
                self.modules[name] = sys.modules.pop(name)
            sys.modules.update(hidden)
            sys.path[:] = saved_path


class _RelativeFinder(importlib.abc.MetaPathFinder):
    """Finds a scope's own modules on its paths and loads them with :class:`_RelativeLoader`."""

    def __init__(self, scope: ModuleScope) -> None:
        self.scope = scope

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.scope._mine(fullname):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path or self.scope.paths)
        origin = spec.origin if spec else None
        if spec is None or not origin or not origin.endswith(".py"):
            return spec
        root = self.scope.root
        if os.path.commonpath([root, origin]) != root:
            return spec
        display = Path(os.path.relpath(origin, root)).as_posix()
        spec.loader = _RelativeLoader(fullname, origin, display)
        return spec


class _RelativeLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source (no bytecode cache) under a root-relative file name."""

    def __init__(self, fullname: str, path: str, display: str) -> None:
        super().__init__(fullname, path)
        self.display = display

    def get_code(self, fullname: str) -> CodeType:
        return compile(self.get_data(self.path), self.display, "exec", dont_inherit=True)
