"""Data files a script reads at run time, found by reading its closure (never by running it).

A script bundle carries the script and the modules it imports; a flow that reads a file next
to its code would meet ``FileNotFoundError`` only when it runs.  :func:`data_files` walks the
syntax tree of every file of the closure and follows the usual ways of naming such a file:

- ``Path(__file__).parent / "data" / "x.csv"`` (also ``.resolve()``, ``.absolute()``,
  ``.joinpath(...)``, ``.parent.parent``, and a module-level name bound to such a path, as in
  ``HERE = Path(__file__).parent`` then ``HERE / "x.csv"``);
- ``os.path.join(os.path.dirname(__file__), "x.csv")`` (``abspath``/``realpath`` kept);
- ``importlib.resources.files("pkg") / "x.csv"``, ``files(__package__)``,
  ``read_text("pkg", "x.csv")``, ``open_text``, ``read_binary``, ``open_binary``, ``path``, and
  ``pkgutil.get_data("pkg", "x.csv")``.

A path that lands in the project root and exists is bundled (a directory: every file below
it); one that is missing or outside the root is returned as a :class:`DataReference` for the
caller to name in a :class:`DataFileWarning`.  Paths built from values known only at run time
are not followed: ``register --include GLOB`` bundles those.

A flow runs from its bundle's files, extracted to a folder of their own: a file it reads there
that the bundle lacks (a path only known at run time, a file made at run time) fails with
``FileNotFoundError``, which :func:`not_bundled` explains in one line for the run record.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flowpack.packer.bundle import extracted_root

RESOURCE_READERS = frozenset(
    {"read_text", "read_binary", "open_text", "open_binary", "path", "get_data"}
)


class DataFileWarning(UserWarning):
    """A data file the flow's code reads that the bundle does not carry."""


@dataclass(frozen=True)
class DataReference:
    """A data file named in ``file`` at ``line``, that is missing or outside the root."""

    file: str
    line: int
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} reads {self.path}, which {self.reason}; not bundled"


def data_files(root: Path, files: Sequence[str]) -> tuple[list[str], list[DataReference]]:
    """(data files to bundle, relative to ``root``; references that cannot be bundled)."""
    found: set[str] = set()
    problems: list[DataReference] = []
    for rel in files:
        if not rel.endswith(".py"):
            continue
        file = root / rel
        try:
            tree = ast.parse(file.read_bytes(), filename=str(file))
        except (OSError, SyntaxError, ValueError):
            continue
        finder = _Finder(file, _package(rel))
        finder.visit(tree)
        for line, path in finder.paths:
            _classify(root, rel, line, path, found, problems)
    return sorted(found - set(files)), problems


def _classify(
    root: Path, rel: str, line: int, path: Path, found: set[str], problems: list[DataReference]
) -> None:
    resolved = Path(_normal(path))
    try:
        inside = resolved.relative_to(root)
    except ValueError:
        problems.append(DataReference(rel, line, str(resolved), "is outside the project root"))
        return
    if resolved.is_file():
        found.add(inside.as_posix())
    elif resolved.is_dir():
        for p in sorted(resolved.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                found.add(p.relative_to(root).as_posix())
    else:
        problems.append(DataReference(rel, line, inside.as_posix(), "does not exist"))


def _normal(path: Path) -> str:
    import os

    return os.path.normpath(str(path))


def _package(rel: str) -> str:
    parts = rel[: -len(".py")].split("/")
    return ".".join(parts[:-1])


class _Finder(ast.NodeVisitor):
    """Evaluates path expressions symbolically; records the data paths they name."""

    def __init__(self, file: Path, package: str) -> None:
        self.file = file.resolve()
        self.package = package
        self.names: dict[str, Path] = {}
        self.paths: list[tuple[int, Path]] = []

    def visit_Assign(self, node: ast.Assign) -> None:
        value = self.eval(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name) and isinstance(value, Path):
                self.names[target.id] = value
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._record(node, self.eval(node))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _callee(node.func)
        if name in ("join", "joinpath", *RESOURCE_READERS):
            self._record(node, self.eval(node))
        self.generic_visit(node)

    def _record(self, node: ast.AST, value: Path | str | None) -> None:
        if isinstance(value, Path) and value != self.file.parent and value != self.file:
            line = getattr(node, "lineno", 0)
            if (line, value) not in self.paths:
                self.paths.append((line, value))

    def eval(self, node: ast.expr) -> Path | str | None:
        """The path (or text) ``node`` stands for, or None when not known statically."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return self.file
            if node.id == "__package__":
                return self.package
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            base = self.eval(node.value)
            return base.parent if isinstance(base, Path) else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return _join(self.eval(node.left), [self.eval(node.right)])
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _call(self, node: ast.Call) -> Path | str | None:
        name = _callee(node.func)
        args = [self.eval(a) for a in node.args]
        if name in ("resolve", "absolute") and isinstance(node.func, ast.Attribute):
            return self.eval(node.func.value)
        if name == "joinpath" and isinstance(node.func, ast.Attribute):
            return _join(self.eval(node.func.value), args)
        if name in ("Path", "PurePath", "abspath", "realpath", "normpath") and len(args) == 1:
            return Path(args[0]) if isinstance(args[0], (str, Path)) else None
        if name == "dirname" and len(args) == 1 and isinstance(args[0], Path):
            return args[0].parent
        if name == "join" and args and isinstance(args[0], Path):
            return _join(args[0], args[1:])
        if name == "files" and len(args) == 1 and isinstance(args[0], str):
            return self._package_dir(args[0])
        if name in RESOURCE_READERS and len(args) == 2 and isinstance(args[0], str):
            return _join(self._package_dir(args[0]), args[1:])
        return None

    def _package_dir(self, package: str) -> Path:
        """The directory of ``package``, found from this file's place in its package."""
        depth = len(self.package.split(".")) if self.package else 0
        root = self.file.parents[depth] if depth < len(self.file.parents) else self.file.parent
        return root.joinpath(*package.split(".")) if package else self.file.parent


def _callee(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _join(base: Path | str | None, parts: Sequence[Path | str | None]) -> Path | None:
    if not isinstance(base, Path) or not parts or not all(isinstance(p, str) for p in parts):
        return None
    return base.joinpath(*[str(p) for p in parts])


def not_bundled(error: BaseException) -> str | None:
    """One line saying which file the bundle lacked, when ``error`` (or an exception it was
    raised from) is a ``FileNotFoundError`` for a path in an extracted bundle's folder; else
    None."""
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = exc.filename if isinstance(exc, FileNotFoundError) else None
        path = str(name) if isinstance(name, (str, Path)) else None
        root = extracted_root(path) if path else None
        if path and root is not None:
            rel = Path(os.path.relpath(os.path.realpath(path), os.path.realpath(root)))
            return (
                f"FileNotFoundError: {rel.as_posix()} was not in the bundle (a flow runs from the"
                " files packed when it was registered): add it with `flowpack register"
                f" --include GLOB` (e.g. --include '{rel.as_posix()}'); a file the flow makes at"
                " run time is never bundled, and must be made before it is read"
            )
        exc = exc.__cause__ or exc.__context__
    return None
