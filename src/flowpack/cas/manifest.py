"""The manifest: the canonical msgpack document that a bundle's digest names.

Encoding (``flowpack.bundle.v1``)::

    {"files": [[path, mode, size, file_hash(32 bytes), chunks], ...],   # sorted by path
     "format": "flowpack.bundle.v1",
     "kind": "bundle" | "<record kind>",
     "links": [[hash(32 bytes), size], ...],                              # other manifests
     "meta": {str: value}}                                                # map keys sorted

``chunks`` is ``[]`` for an empty file and for a file that is a single chunk (whose id is then
the file hash), else ``[[hash, size], ...]`` (at least two).  Modes are normalised to ``0o644``,
``0o755`` or ``0o120777`` (symlink; the content is the link target), so the same tree gives the
same bytes on any machine.  The decoder re-encodes what it read and rejects anything that is
not byte-for-byte canonical, an unknown major version, unsafe or duplicate paths, and sizes
that disagree with the chunk list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError, MalformedData, UnsafePath, UsageError

FORMAT = "flowpack.bundle.v1"
_FORMAT_RE = re.compile(r"^flowpack\.bundle\.v(\d+)(?:\.(\d+))?$")
BUNDLE = "bundle"
MODE_FILE = 0o644
MODE_EXEC = 0o755
MODE_SYMLINK = 0o120777
MODES = (MODE_FILE, MODE_EXEC, MODE_SYMLINK)
MAX_MANIFEST = 64 << 20
#: The most files (and, separately, links) one manifest may hold: checked from the msgpack
#: array headers before anything is decoded, so a manifest of millions of entries costs no
#: memory; pushes of more files are refused the same way.
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class FileEntry:
    """One file of a bundle: where it goes, its mode, and the chunks that rebuild it."""

    path: str
    mode: int
    size: int
    digest: Digest
    chunks: tuple[Digest, ...]

    def __post_init__(self) -> None:
        check_path(self.path)
        if self.mode not in MODES:
            raise MalformedData(f"{self.path}: unsupported mode {oct(self.mode)}")
        if self.digest.size != self.size:
            raise MalformedData(f"{self.path}: digest size disagrees with file size")
        if sum(c.size for c in self.chunks) != self.size:
            raise MalformedData(f"{self.path}: chunk sizes do not add up to {self.size}")
        if self.size == 0 and self.chunks:
            raise MalformedData(f"{self.path}: empty file with chunks")
        if len(self.chunks) == 1 and self.chunks[0] != self.digest:
            raise MalformedData(f"{self.path}: single chunk differs from the file hash")

    @property
    def is_symlink(self) -> bool:
        return self.mode == MODE_SYMLINK


@dataclass(frozen=True)
class Manifest:
    """A bundle (``kind="bundle"``) or a record: files, links to other manifests, metadata."""

    kind: str = BUNDLE
    files: tuple[FileEntry, ...] = ()
    links: tuple[Digest, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def encode(self) -> bytes:
        """The canonical bytes; their digest is the bundle's address."""
        return _packb(
            {
                "files": [_encode_file(f) for f in self.files],
                "format": FORMAT,
                "kind": self.kind,
                "links": [[d.raw, d.size] for d in self.links],
                "meta": _canonical(self.metadata),
            }
        )

    def file(self, path: str) -> FileEntry:
        """The entry at ``path``; :class:`KeyError` if absent."""
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    @property
    def size(self) -> int:
        """Logical size: the sum of file sizes."""
        return sum(f.size for f in self.files)


class ManifestBuilder:
    """Accumulates entries; :meth:`build` sorts, validates and returns the frozen manifest."""

    def __init__(self, kind: str = BUNDLE) -> None:
        self.kind = kind
        self._files: dict[str, FileEntry] = {}
        self._links: list[Digest] = []
        self.metadata: dict[str, Any] = {}

    def add_file(self, entry: FileEntry) -> None:
        if entry.path in self._files:
            raise UnsafePath(f"duplicate path in bundle: {entry.path}")
        self._files[entry.path] = entry

    def add_link(self, digest: Digest) -> None:
        self._links.append(digest)

    def build(self) -> Manifest:
        """The manifest; :class:`UsageError` when it would hold more than :data:`MAX_ENTRIES`
        files or links (no reader would accept it)."""
        for what, n in (("files", len(self._files)), ("links", len(self._links))):
            if n > MAX_ENTRIES:
                raise UsageError(f"a bundle holds at most {MAX_ENTRIES} {what}; this one has {n}")
        files = tuple(sorted(self._files.values(), key=lambda f: f.path))
        _check_prefixes(files)
        return Manifest(self.kind, files, tuple(self._links), dict(self.metadata))


def encode_entry(entry: FileEntry) -> bytes:
    """One element of the manifest's ``files`` array, as :meth:`Manifest.encode` writes it."""
    return _packb(_encode_file(entry))


def encode_from_entries(
    kind: str,
    count: int,
    entries: Iterable[bytes | memoryview],
    links: Sequence[Digest] = (),
    metadata: Mapping[str, Any] | None = None,
) -> list[bytes | memoryview]:
    """The bytes :meth:`Manifest.encode` gives for ``count`` files whose encoded entries
    (:func:`encode_entry`, in path order, safe and distinct paths) are ``entries``, as pieces
    to join or hash in turn: a manifest assembled without a Python object per file.
    :class:`UsageError` past :data:`MAX_ENTRIES`, as :meth:`ManifestBuilder.build`."""
    for what, n in (("files", count), ("links", len(links))):
        if n > MAX_ENTRIES:
            raise UsageError(f"a bundle holds at most {MAX_ENTRIES} {what}; this one has {n}")
    head = b"\x85" + _packb("files") + msgpack.Packer().pack_array_header(count)
    rest = {
        "format": FORMAT,
        "kind": kind,
        "links": [[d.raw, d.size] for d in links],
        "meta": _canonical(metadata or {}),
    }
    return [head, *entries, _packb(rest)[1:]]  # [1:]: the 4-entry map's header


def decode_manifest(data: bytes, digest: Digest | None = None) -> Manifest:
    """Decode and validate; raises :class:`MalformedData` naming ``digest`` when given."""
    where = f" {digest}" if digest else ""
    if len(data) > MAX_MANIFEST:
        raise MalformedData(f"manifest{where} is too large")
    _check_entries(data, where)
    try:
        doc = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
        if not isinstance(doc, dict) or set(doc) != {"files", "format", "kind", "links", "meta"}:
            raise MalformedData("not a flowpack manifest")
        m = _FORMAT_RE.match(str(doc["format"]))
        if not m:
            raise MalformedData(f"unknown manifest format {doc['format']!r}")
        if int(m.group(1)) != 1:
            raise MalformedData(f"manifest major version {m.group(1)} is not supported")
        builder = ManifestBuilder(str(doc["kind"]))
        for item in doc["files"]:
            builder.add_file(decode_file(item))
        for raw, size in doc["links"]:
            builder.add_link(Digest.from_raw(raw, size))
        if not isinstance(doc["meta"], dict):
            raise MalformedData("manifest metadata is not a map")
        builder.metadata.update(doc["meta"])
        manifest = builder.build()
        manifest = Manifest(manifest.kind, manifest.files, manifest.links, manifest.metadata)
    except MalformedData as exc:
        raise MalformedData(f"manifest{where}: {exc}") from exc
    except UnsafePath:
        raise
    except (ValueError, TypeError, KeyError, msgpack.ExtraData, FlowpackError) as exc:
        raise MalformedData(f"manifest{where} does not decode: {exc}") from exc
    if manifest.encode() != data or doc["format"] != FORMAT:
        raise MalformedData(f"manifest{where} is not in canonical form")
    return manifest


def _check_entries(data: bytes, where: str) -> None:
    """Refuse ``data`` if its top-level ``files`` or ``links`` array is longer than
    :data:`MAX_ENTRIES`, reading only array headers (anything else is left to the decoder)."""
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    key, count = "", 0
    try:
        for _ in range(min(unpacker.read_map_header(), 5)):
            key = unpacker.unpack()
            if key not in ("files", "links"):
                unpacker.skip()
                continue
            count = unpacker.read_array_header()
            if count > MAX_ENTRIES:
                break
            for _ in range(count):
                unpacker.skip()
    except (ValueError, TypeError, msgpack.UnpackException):
        return  # not shaped like a manifest: the decoder says what is wrong
    if count > MAX_ENTRIES:
        raise MalformedData(
            f"manifest{where} has {count} {key} entries; at most {MAX_ENTRIES} are allowed"
        )


def check_path(path: str) -> str:
    """Return ``path`` if it is a safe relative POSIX path, else raise :class:`UnsafePath`."""
    if not isinstance(path, str):
        raise UnsafePath(f"path in bundle is not text: {path!r:.80}")
    if not path:
        raise UnsafePath("empty path in bundle")
    if path.startswith("/") or "\\" in path or "\0" in path or re.match(r"^[A-Za-z]:", path):
        raise UnsafePath(f"absolute or non-POSIX path in bundle: {path!r}")
    for seg in path.split("/"):
        if seg in ("", ".", ".."):
            raise UnsafePath(f"unsafe path in bundle: {path!r}")
    return path


def _check_prefixes(files: Iterable[FileEntry]) -> None:
    paths = {f.path for f in files}
    for p in paths:
        parts = p.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in paths:
                raise UnsafePath(f"path {p!r} lies under another file")


def _encode_file(f: FileEntry) -> list[Any]:
    chunks = [] if len(f.chunks) <= 1 else [[c.raw, c.size] for c in f.chunks]
    return [f.path, f.mode, f.size, f.digest.raw, chunks]


def decode_file(item: Any) -> FileEntry:
    """One decoded element of the ``files`` array as an entry (checked as any entry is)."""
    path, mode, size, raw, chunks = item
    digest = Digest.from_raw(raw, size)
    if chunks and len(chunks) < 2:
        raise MalformedData(f"{path}: a single chunk must be implicit")
    parts = (
        tuple(Digest.from_raw(r, s) for r, s in chunks) if chunks else ((digest,) if size else ())
    )
    return FileEntry(path, mode, size, digest, parts)


#: How deep metadata may nest (maps and lists): deeper is refused, never a RecursionError.
MAX_DEPTH = 64


def _canonical(value: Any, depth: int = 0) -> Any:
    """Sort map keys recursively; reject types without one canonical encoding, and nesting
    deeper than :data:`MAX_DEPTH`."""
    if isinstance(value, (Mapping, list, tuple)) and depth >= MAX_DEPTH:
        raise MalformedData(f"metadata nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise MalformedData("metadata keys must be strings")
        return {k: _canonical(value[k], depth + 1) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_canonical(v, depth + 1) for v in value]
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return value
    raise MalformedData(f"metadata value of type {type(value).__name__} has no canonical form")


def _packb(obj: Any) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True, use_single_float=False)
    return out
