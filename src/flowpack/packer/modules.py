"""Module flows: the source files of an importable module, bundled, and imported back verified.

``Module("myproject.flows")`` names a module; packing finds its file without running it
(:func:`importlib.util.find_spec` imports only the parent packages), takes its import closure
relative to the ``sys.path`` entry it was found in, and stores those files at paths that import
as the same dotted names.  A module installed among other distributions (in a
``site-packages`` or ``dist-packages`` directory) contributes only its own top-level package.

Loading restores the verified bundle into a fresh directory and imports the module from there,
inside a :class:`~flowpack.packer.scope.ModuleScope`, so an installed copy never shadows it.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError, FlowpackError, NotFound
from flowpack.cas.manifest import MODE_FILE
from flowpack.cas.store import PushResult, Store
from flowpack.cas.tree import SourceFile
from flowpack.packer.bundle import FlowBundle, LoadedFlow, extract, flow_metadata
from flowpack.packer.closure import Closure, absolute, module_closure
from flowpack.packer.discover import find_flows, pick_flow
from flowpack.packer.scope import ModuleScope

INSTALL_DIRS = frozenset({"site-packages", "dist-packages"})


def module_source(module: str) -> Closure:
    """The closure of ``module`` (see the module docstring); :class:`NotFound` if absent."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise NotFound(f"cannot find module {module!r}: {exc}") from None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise NotFound(f"cannot find the source file of module {module!r}")
    origin = absolute(spec.origin)
    parts = module.split(".")
    depth = len(parts) if origin.name == "__init__.py" else len(parts) - 1
    search_root = origin.parents[depth]
    limit = search_root
    if search_root.name in INSTALL_DIRS:
        top = search_root / parts[0]
        limit = top if top.is_dir() else search_root / f"{parts[0]}.py"
    return module_closure(origin, module, search_root, limit)


def collect_module(module: str) -> list[Any]:
    """Import ``module`` (normally) and return the flows it defines."""
    try:
        mod = importlib.import_module(module)
    except FlowpackError:
        raise
    except (Exception, SystemExit) as exc:
        raise FlowError(f"error importing module {module!r}: {type(exc).__name__}: {exc}") from exc
    return find_flows(vars(mod))


def importable(module: str) -> bool:
    """Whether ``module`` can be found here (its parent packages are imported to look)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def pack_module_reference(
    store: Store, module: str, name: str, *, parent: Digest | None = None
) -> PushResult:
    """A bundle that names ``module`` without its code (``installed``): for a module only
    importable where flows run, as the seed's ``Module``.  A run imports it from there and
    records the digest of the source it ran (:func:`load_module`)."""
    meta = flow_metadata(kind="module", name=name, module=module, paths=[], installed=True)
    return store.put_files([], metadata=meta, parent=parent)


def pack_module(
    store: Store, module: str, name: str, *, parent: Digest | None = None
) -> PushResult:
    """Store flow ``name`` of ``module`` as a module bundle."""
    closure = module_source(module)
    files = [SourceFile(p, MODE_FILE, (closure.root / p).read_bytes) for p in closure.files]
    meta = flow_metadata(kind="module", name=name, module=module, paths=["."])
    return store.put_files(files, metadata=meta, parent=parent)


def load_module(store: Store, bundle: FlowBundle, name: str | None) -> LoadedFlow:
    """Restore the verified bundle, import its module from there, and pick flow ``name``."""
    module = str(bundle.info.get("module", ""))
    if not module or not all(p.isidentifier() for p in module.split(".")):
        raise FlowError(f"module bundle {bundle.digest} names no valid module")
    if bundle.info.get("installed"):
        return _load_installed(bundle, module, name)
    root = extract(store, bundle)
    scope = ModuleScope.for_files(root, ["."], [f.path for f in bundle.manifest.files])
    try:
        with scope.active():
            mod = importlib.import_module(module)
    except (Exception, SystemExit) as exc:
        raise FlowError(f"error importing module {module!r}: {type(exc).__name__}: {exc}") from exc
    if not str(getattr(mod, "__file__", "")).startswith(str(root)):
        raise FlowError(f"module {module!r} was not imported from bundle {bundle.digest}")
    flow = pick_flow(find_flows(vars(mod)), name or bundle.name, f"module {module!r}")
    return LoadedFlow(flow, bundle, scope, root)


def _load_installed(bundle: FlowBundle, module: str, name: str | None) -> LoadedFlow:
    """Import ``module`` as installed here; note the digest of its source file."""
    try:
        mod = importlib.import_module(module)
    except (Exception, SystemExit) as exc:
        raise FlowError(
            f"error importing module {module!r} (it must be installed where flows run):"
            f" {type(exc).__name__}: {exc}"
        ) from exc
    flow = pick_flow(find_flows(vars(mod)), name or bundle.name, f"module {module!r}")
    source: dict[str, Any] = {"module": module, "file": getattr(mod, "__file__", None)}
    try:
        with open(str(source["file"]), "rb") as f:
            source["digest"] = str(Digest.of(f.read()))
    except (OSError, TypeError):
        source["digest"] = None
    return LoadedFlow(flow, bundle, notes={"module_source": source})
