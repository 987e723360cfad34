"""Image layers: reproducible gzip'd tar files, and reading them back without trusting them.

:class:`LayerBuilder` collects files under absolute in-image paths and :meth:`~LayerBuilder.build`
writes them as a tar with every parent directory, entries sorted by path, mtime 0, owner
0:0 with no user or group names, modes 0644 (0755 for directories and executables), then
gzip with mtime 0 and no file name: the same files give the same bytes, so the same flows give
the same image digest (given the same zlib, whose output every supported Python ships stable).

:func:`read_layer_file` and :func:`unpack_layer` read layers someone else may have written:
every entry name is checked before anything is used (:class:`UnsafePath` for absolute names,
``..``, relative links that climb out of the root, devices), and sizes are bounded.  An
absolute symlink means a path in the image, so it is unpacked relative to the image root.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flowpack.cas.errors import MalformedData, UnsafePath, UsageError

__all__ = ["Layer", "LayerBuilder", "read_layer_file", "unpack_layer"]

MAX_LAYER_FILE = 1 << 30
MAX_UNPACKED = 8 << 30


@dataclass(frozen=True)
class Layer:
    """A built layer: the gzip'd ``blob``, its sha256 ``digest`` and the tar's ``diff_id``."""

    blob: bytes
    digest: str
    diff_id: str

    @property
    def size(self) -> int:
        return len(self.blob)


def _image_path(path: str) -> str:
    """``path`` as a normalised absolute in-image path; :class:`UsageError` if it is not one."""
    if not path.startswith("/"):
        raise UsageError(f"image paths are absolute: {path!r}")
    parts = PurePosixPath(path).parts[1:]
    if not parts or any(p in ("..", ".") for p in parts):
        raise UsageError(f"invalid image path {path!r}")
    return "/" + "/".join(parts)


class LayerBuilder:
    """Collects files for one layer; not thread-safe.  ``build()`` returns the frozen layer."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[bytes, int]] = {}

    def add_file(self, path: str, data: bytes, *, executable: bool = False) -> None:
        """Put ``data`` at in-image ``path``; a second, different file there is refused."""
        key = _image_path(path)
        mode = 0o755 if executable else 0o644
        if key in self._files and self._files[key] != (data, mode):
            raise UsageError(f"File {key} already exists in the image with different content")
        self._files[key] = (data, mode)

    def add_tree(
        self,
        source: Path,
        dest: str,
        *,
        skip: tuple[str, ...] = (),
        ignore: Callable[[str], bool] | None = None,
    ) -> None:
        """Add ``source`` (a file, or a directory's files, recursively) under ``dest``;
        ``ignore(relative path)`` true leaves a file out (symlinks are always left out)."""
        if source.is_file():
            self.add_file(dest, source.read_bytes(), executable=os.access(source, os.X_OK))
            return
        if not source.is_dir():
            raise UsageError(f"no such file or directory: {source}")
        for file in sorted(source.rglob("*")):
            rel = file.relative_to(source).as_posix()
            if file.is_symlink() or not file.is_file() or any(s in rel for s in skip):
                continue
            if ignore is not None and ignore(rel):
                continue
            self.add_file(
                f"{dest.rstrip('/')}/{rel}", file.read_bytes(), executable=os.access(file, os.X_OK)
            )

    def build(self) -> Layer:
        """The layer's tar (sorted, fixed metadata) gzip'd with mtime 0."""
        dirs: set[str] = set()
        for path in self._files:
            parent = posixpath.dirname(path)
            while parent not in ("/", ""):
                dirs.add(parent)
                parent = posixpath.dirname(parent)
        entries = sorted(
            [(d, None) for d in dirs] + [(p, f) for p, f in self._files.items()], key=lambda e: e[0]
        )
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, file in entries:
                info = tarfile.TarInfo(path.lstrip("/"))
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                if file is None:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    info.size, info.mode = len(file[0]), file[1]
                    tar.addfile(info, io.BytesIO(file[0]))
        tar_bytes = raw.getvalue()
        out = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
            gz.write(tar_bytes)
        blob = out.getvalue()
        return Layer(blob, _sha256(blob), _sha256(tar_bytes))


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _open_tar(blob: bytes, what: str) -> tarfile.TarFile:
    data = blob
    if blob[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(blob)
        except (OSError, EOFError) as exc:
            raise MalformedData(f"layer {what} is not a readable gzip stream") from exc
    try:
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as exc:
        raise MalformedData(f"layer {what} is not a tar archive") from exc


def _checked_name(member: tarfile.TarInfo, what: str) -> PurePosixPath:
    name = member.name
    rel = PurePosixPath(name.lstrip("./") if name.startswith("./") else name)
    if name.startswith("/") or ".." in rel.parts or "\\" in name or "\x00" in name:
        raise UnsafePath(f"layer {what} holds an unsafe path {name[:120]!r}")
    if member.isdev() or member.isfifo():
        raise UnsafePath(f"layer {what} holds a device or fifo {name[:120]!r}")
    if member.issym() or member.islnk():
        target = member.linkname
        base = rel.parent if member.issym() else PurePosixPath()
        resolved = posixpath.normpath(posixpath.join(str(base), target))
        if not target.startswith("/") and (resolved == ".." or resolved.startswith("../")):
            raise UnsafePath(f"layer {what} holds a link {name[:120]!r} that leaves the image root")
    return rel


def read_layer_file(blob: bytes, path: str, what: str = "?") -> bytes:
    """The bytes of regular file ``path`` (in-image, absolute) in layer ``blob``.

    Every entry is checked first (:class:`UnsafePath`); :class:`MalformedData` for a damaged
    layer; :class:`FileNotFoundError`-like :class:`MalformedData` when ``path`` is absent.
    """
    wanted = PurePosixPath(_image_path(path).lstrip("/"))
    with _open_tar(blob, what) as tar:
        members = tar.getmembers()
        found = None
        for member in members:
            if _checked_name(member, what) == wanted:
                found = member
        if found is None or not found.isfile():
            raise MalformedData(f"layer {what} has no file {path}")
        if found.size > MAX_LAYER_FILE:
            raise MalformedData(f"layer {what}: {path} is larger than {MAX_LAYER_FILE} bytes")
        extracted = tar.extractfile(found)
        assert extracted is not None
        return extracted.read()


def unpack_layer(blob: bytes, root: Path, what: str = "?") -> None:
    """Unpack layer ``blob`` into ``root``, refusing any entry that would land outside it.

    Every entry is checked before anything is written; symlinks may point only inside the
    image (relative, not leaving it); whiteouts (``.wh.``) remove what a lower layer put there.
    """
    with _open_tar(blob, what) as tar:
        members = tar.getmembers()
        checked = [(m, _checked_name(m, what)) for m in members]
        if sum(m.size for m in members if m.isfile()) > MAX_UNPACKED:
            raise MalformedData(f"layer {what} unpacks to more than {MAX_UNPACKED} bytes")
        root_real = root.resolve()
        for member, rel in checked:
            if str(rel) in ("", "."):
                continue
            target = root_real / rel
            _inside(target.parent, root_real, member.name, what)
            if rel.name.startswith(".wh."):
                _whiteout(target.parent / rel.name[4:], root_real)
                continue
            _write_entry(tar, member, target, len(rel.parts) - 1)


def _inside(path: Path, root: Path, name: str, what: str) -> None:
    real = path.resolve()
    if real != root and root not in real.parents:
        raise UnsafePath(f"layer {what} entry {name[:120]!r} would land outside the image root")


def _whiteout(target: Path, root: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir() and target.resolve() != root:
        import shutil

        shutil.rmtree(target)


def _write_entry(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, depth: int) -> None:
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    if member.issym():
        link = member.linkname
        if link.startswith("/"):  # absolute in the image: relative to the image root here
            link = "/".join([".."] * depth + [link.lstrip("/")]) if depth else link.lstrip("/")
        target.symlink_to(link)
    elif member.isfile():
        src = tar.extractfile(member)
        assert src is not None
        target.write_bytes(src.read())
        target.chmod(member.mode & 0o755)
