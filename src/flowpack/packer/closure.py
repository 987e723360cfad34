"""The local import closure of a flow script, found by reading its imports (never running them).

Nouns:

- *project root*: the nearest ancestor of the script (itself included) holding
  ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``; else the script's directory.
  Bundle paths are relative to it, so two checkouts of one project give the same bundle.
- *search roots*: where ``import x`` is looked for, in order: the script's directory (what
  ``python flows/my_flow.py`` puts first on ``sys.path``), then the project root.  Only files
  under the project root are ever taken, so installed packages never enter a bundle.
- *closure*: the script, every module of the project it imports (``import a.b``,
  ``from a import b``, ``from . import b``, ``importlib.import_module("a")`` with a literal
  name), transitively, with the ``__init__.py`` of every package on the way.

Imports are found with :mod:`ast` wherever they appear (inside functions, ``try`` blocks,
``if TYPE_CHECKING``), so the closure may hold a module the run never imports, never the
reverse for static imports.  ``flowpack`` itself is never bundled: the runtime provides it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from flowpack.cas.errors import FlowError, UsageError

PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
NEVER_BUNDLED = frozenset({"flowpack"})


@dataclass(frozen=True)
class Closure:
    """A script's import closure: files relative to ``root`` and the modules they are."""

    root: Path
    entry: str
    paths: tuple[str, ...]
    files: tuple[str, ...]
    modules: tuple[str, ...]


def project_root(script: Path) -> Path:
    """The nearest ancestor directory of ``script`` with a project marker, else its directory."""
    start = absolute(script).parent
    for d in (start, *start.parents):
        if any((d / m).exists() for m in PROJECT_MARKERS):
            return d
    return start


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute without resolving symlinks (so relative paths stay lexical)."""
    return Path(os.path.abspath(os.fspath(path)))


def relative(path: Path, root: Path) -> str:
    """``path`` as a POSIX path relative to ``root``; :class:`UsageError` if outside it."""
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        raise UsageError(f"{path} is outside the project root {root}") from None


def script_closure(script: Path, root: Path | None = None) -> Closure:
    """The closure of the flow script at ``script`` (see the module docstring)."""
    script = absolute(script)
    if not script.is_file():
        raise UsageError(f"no such flow script: {script}")
    root = absolute(root) if root else project_root(script)
    search = _unique([script.parent, root])
    return _closure(script, root, search, entry_module=None, limit=root)


def module_closure(module_file: Path, module: str, search_root: Path, limit: Path) -> Closure:
    """The closure of module ``module`` found at ``module_file`` under ``search_root``.

    Files are relative to ``search_root``; only files under ``limit`` are taken (the module's
    own top-level package when it is installed among other packages).
    """
    return _closure(
        absolute(module_file), absolute(search_root), [absolute(search_root)], module, limit
    )


def _closure(
    entry: Path, root: Path, search: Sequence[Path], entry_module: str | None, limit: Path
) -> Closure:
    found = {entry}
    if entry_module:  # the packages the module lives in are imported before it
        parts = entry_module.split(".")[:-1]
        for i in range(1, len(parts) + 1):
            init = search[0].joinpath(*parts[:i], "__init__.py")
            if init.is_file() and _under(init, limit) and init != entry:
                found.add(init)
    queue = list(found)
    while queue:
        path = queue.pop()
        for target in _imports(path, root):
            for file in _resolve(target, path, search, limit):
                if file not in found:
                    found.add(file)
                    if file.suffix == ".py":
                        queue.append(file)
    files = tuple(sorted(relative(f, root) for f in found))
    names = {module_name(f, search) for f in found if f != entry}
    modules = tuple(sorted(n for n in names if n and n != entry_module))
    paths = tuple(relative(p, root) for p in search)
    return Closure(root, relative(entry, root), paths, files, modules)


def module_name(file: Path, search: Sequence[Path]) -> str | None:
    """The dotted name ``file`` is imported as from the first search root holding it."""
    for root in search:
        if _under(file, root) and file != root:
            parts = list(file.relative_to(root).with_suffix("").parts)
            if parts and parts[-1] == "__init__":
                parts.pop()
            if parts and all(p.isidentifier() for p in parts):
                return ".".join(parts)
    return None


#: An import to resolve: (level, dotted module, names imported from it).
_Target = tuple[int, str, tuple[str, ...]]


def _imports(path: Path, root: Path) -> Iterable[_Target]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as exc:
        raise FlowError(f"cannot read the imports of {relative(path, root)}: {exc}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", tuple(a.name for a in node.names if a.name != "*")
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            name = _literal(node.args[0])
            if name and not name.startswith("."):
                yield 0, name, ()


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def _resolve(target: _Target, importer: Path, search: Sequence[Path], limit: Path) -> list[Path]:
    """The project files an import loads."""
    level, module, names = target
    parts = [p for p in module.split(".") if p]
    if level:
        base = importer.parent
        for _ in range(level - 1):
            base = base.parent
        return _walk(base, parts, names, limit) if _under(base, limit) else []
    if not parts or parts[0] in NEVER_BUNDLED:
        return []
    for root in search:
        if (root / f"{parts[0]}.py").is_file() or (root / parts[0]).is_dir():
            return _walk(root, parts, names, limit)
    return []


def _walk(base: Path, parts: list[str], names: tuple[str, ...], limit: Path) -> list[Path]:
    """Files for ``base/parts...`` (packages' ``__init__.py`` on the way), then ``names``."""
    out: list[Path] = []
    here = base
    for i, part in enumerate(parts):
        if i < len(parts) - 1 or (here / part).is_dir():
            here = here / part
            if not here.is_dir():
                return out
            _add(out, here / "__init__.py", limit)
        else:
            _add(out, here / f"{part}.py", limit)
            return out
    if not parts:
        _add(out, here / "__init__.py", limit)
    for name in names:
        if (here / name).is_dir():
            _add(out, here / name / "__init__.py", limit)
        else:
            _add(out, here / f"{name}.py", limit)
    return out


def _add(out: list[Path], file: Path, limit: Path) -> None:
    if file.is_file() and _under(file, limit):
        out.append(file)


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _unique(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def include_files(root: Path, patterns: Iterable[str]) -> list[str]:
    """Files under ``root`` matched by glob ``patterns`` (directories: all files below).

    Raises :class:`UsageError` for a pattern matching nothing or reaching outside ``root``.
    """
    out: set[str] = set()
    for pattern in patterns:
        if os.path.isabs(pattern) or ".." in Path(pattern).parts:
            raise UsageError(f"include pattern {pattern!r} must be relative to {root}, no '..'")
        matched = sorted(root.glob(pattern))
        if not matched:
            raise UsageError(f"include pattern {pattern!r} matches nothing under {root}")
        for m in matched:
            candidates = sorted(p for p in m.rglob("*") if p.is_file()) if m.is_dir() else [m]
            for c in candidates:
                if "__pycache__" in c.parts or c.suffix == ".pyc":
                    continue
                out.add(relative(absolute(c), root))
    return sorted(out)
