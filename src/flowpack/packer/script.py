"""Script flows: a flow file plus its local import closure, packed, and loaded back verified.

Packing reads files only; nothing is executed.  The bundle holds, at project-relative paths
(all with mode 0644, since only content matters), the script, the project modules it imports
(:mod:`flowpack.packer.closure`) and any declared extra files; its metadata names the entry
file, the flow and the search paths (see :mod:`flowpack.packer.bundle`).

Running a script, for collection (``flowpack register -p``) or from a bundle, executes it in a
fresh namespace named ``__flowpack_script__`` (so an ``if __name__ == "__main__":`` block does
not run, and its functions pickle by value), compiled under its project-relative path (so
nothing about the checkout's location leaks into a pickle), with ``__file__`` set to the real
file and its search paths importable through a :class:`~flowpack.packer.scope.ModuleScope`.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError, FlowpackError
from flowpack.cas.manifest import MODE_FILE, check_path
from flowpack.cas.store import PushResult, Store
from flowpack.cas.tree import SourceFile
from flowpack.packer.bundle import FlowBundle, LoadedFlow, extract, flow_metadata
from flowpack.packer.closure import Closure, absolute, include_files, script_closure
from flowpack.packer.discover import find_flows, pick_flow
from flowpack.packer.environment import git_commit
from flowpack.packer.scope import ModuleScope

SCRIPT_MODULE = "__flowpack_script__"


@dataclass
class ScriptSource:
    """A flow script on disk: the file, how the user named it, its closure and module scope."""

    path: Path
    display: str
    closure: Closure
    scope: ModuleScope = field(repr=False)

    @classmethod
    def from_path(cls, path: str | Path, root: Path | None = None) -> ScriptSource:
        """Analyse the script at ``path`` (relative to the working directory or absolute)."""
        closure = script_closure(Path(path), root)
        scope = ModuleScope.for_files(closure.root, closure.paths, closure.files)
        return cls(absolute(path), str(path), closure, scope)

    @property
    def root(self) -> Path:
        return self.closure.root

    @functools.cached_property
    def git(self) -> dict[str, Any] | None:
        """The git commit of the project root (and whether the tree differs), read once."""
        return git_commit(self.root)


def collect(source: ScriptSource) -> list[Any]:
    """Run the script (see the module docstring) and return the flows it defines, in order."""
    namespace = run_script(source.path, source.closure.entry, source.scope)
    return find_flows(namespace)


def run_script(file: Path, display: str, scope: ModuleScope) -> dict[str, Any]:
    """Execute ``file`` in a fresh namespace inside ``scope``; :class:`FlowError` on failure."""
    namespace: dict[str, Any] = {
        "__name__": SCRIPT_MODULE,
        "__file__": str(file),
        "__builtins__": builtins,
        "__package__": None,
    }
    try:
        code = compile(file.read_bytes(), display, "exec", dont_inherit=True)
        with scope.active():
            exec(code, namespace)
    except FlowpackError:
        raise
    except (Exception, SystemExit) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise FlowError(f"error loading {display}: {detail}") from exc
    return namespace


def script_files(source: ScriptSource, include: Sequence[str] = ()) -> list[SourceFile]:
    """The bundle's files: the closure, the data files its code reads
    (:func:`~flowpack.packer.datafiles.data_files`; those it cannot carry are named in a
    :class:`~flowpack.packer.datafiles.DataFileWarning`) and ``include`` patterns, all mode
    0644."""
    import warnings

    from flowpack.packer.datafiles import DataFileWarning, data_files

    root = source.root
    data, problems = data_files(root, source.closure.files)
    for problem in problems:
        warnings.warn(DataFileWarning(f"{problem} (add it with --include GLOB)"), stacklevel=2)
    paths = sorted({*source.closure.files, *data, *include_files(root, include)})
    return [SourceFile(p, MODE_FILE, (root / p).read_bytes) for p in paths]


def pack_script(
    store: Store,
    source: ScriptSource,
    name: str,
    *,
    include: Sequence[str] = (),
    parent: Digest | None = None,
) -> PushResult:
    """Store flow ``name`` of ``source`` as a script bundle (``parent``: previous version)."""
    meta = flow_metadata(
        kind="script", name=name, entry=source.closure.entry, paths=list(source.closure.paths)
    )
    return store.put_files(script_files(source, include), metadata=meta, parent=parent)


def load_script(store: Store, bundle: FlowBundle, name: str | None) -> LoadedFlow:
    """Restore the verified bundle, run its entry script, and pick flow ``name``."""
    entry = str(bundle.info.get("entry", ""))
    paths = [str(p) for p in bundle.info.get("paths", ["."])]
    files = [f.path for f in bundle.manifest.files]
    if entry not in files:
        raise FlowError(f"script bundle {bundle.digest} lacks its entry file {entry!r}")
    for p in paths:
        if p != ".":
            check_path(p)
    root = extract(store, bundle)
    scope = ModuleScope.for_files(root, paths, files)
    namespace = run_script(root / entry, entry, scope)
    flow = pick_flow(find_flows(namespace), name or bundle.name, entry)
    return LoadedFlow(flow, bundle, scope, root)
