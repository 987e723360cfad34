"""Index files and the in-memory index: where each chunk lives.

An index file (``index/<hex>``, named by the blake3 of its stored bytes) is one byte of codec
followed by the (usually zstd) encoding of::

    {"v": 1, "packs": [[pack hash(32), pack size, frames], ...], "supersedes": [hash(32), ...]}
    frames = [[offset, length, kind, depth, [[chunk hash(32), size], ...]], ...]

``supersedes`` lists index files whose content this one replaces (written by ``gc``); readers
ignore a superseded index.  Packs that ``gc`` has *condemned* (see :mod:`flowpack.cas.condemned`)
stay readable, but the index does not count their chunks as held (``in``), so writers store
such chunks again instead of deduplicating against a pack that may soon be deleted.

Every client keeps a local cache of index files per store, so finding which chunks are missing
costs one listing, not a request per chunk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import msgpack

from flowpack.cas import codec
from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.frames import FrameEntry, decode_frames_doc, frames_doc

MAX_INDEX = 256 << 20


@dataclass(frozen=True, slots=True)
class Location:
    """Where a chunk is: its pack, its frame, and its place in the frame's decoded bytes."""

    pack: Digest
    frame_offset: int
    frame_length: int
    kind: int
    depth: int
    offset: int
    size: int


@dataclass(frozen=True)
class PackEntry:
    """One pack as an index file lists it."""

    pack: Digest
    frames: tuple[FrameEntry, ...]


@dataclass(frozen=True)
class IndexFile:
    """The decoded content of one index file."""

    packs: tuple[PackEntry, ...]
    supersedes: tuple[str, ...] = ()

    def encode(self) -> bytes:
        doc = {
            "packs": [[p.pack.raw, p.pack.size, frames_doc(p.frames)] for p in self.packs],
            "supersedes": [bytes.fromhex(h) for h in sorted(self.supersedes)],
            "v": 1,
        }
        raw: bytes = msgpack.packb(doc, use_bin_type=True)
        enc = codec.compress(raw, level=9)
        return bytes([enc.codec]) + U64(len(raw)) + enc.payload

    @classmethod
    def decode(cls, data: bytes, name: str = "?") -> IndexFile:
        try:
            if len(data) < 9:
                raise MalformedData("too short")
            size = int.from_bytes(data[1:9], "little")
            if size > MAX_INDEX:
                raise MalformedData("claims an impossible size")
            doc = msgpack.unpackb(codec.decompress(data[0], data[9:], size), raw=False)
            if doc["v"] != 1:
                raise MalformedData(f"unknown index version {doc['v']}")
            packs = tuple(
                PackEntry(Digest.from_raw(h, s), decode_frames_doc(fr)) for h, s, fr in doc["packs"]
            )
            return cls(packs, tuple(bytes(h).hex() for h in doc["supersedes"]))
        except (MalformedData, ValueError, TypeError, KeyError, msgpack.ExtraData) as exc:
            raise MalformedData(f"index {name} does not decode: {exc}") from exc


def U64(n: int) -> bytes:
    return n.to_bytes(8, "little")


class Index:
    """The merged, in-memory view of a set of index files.  Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: dict[bytes, Location] = {}
        self._packs: dict[str, PackEntry] = {}
        self._condemned: frozenset[str] = frozenset()
        self.files: set[str] = set()

    def add_pack(self, entry: PackEntry) -> None:
        with self._lock:
            self._add(entry)

    def _add(self, entry: PackEntry) -> None:
        self._packs[entry.pack.hex] = entry
        doomed = entry.pack.hex in self._condemned
        for fr in entry.frames:
            off = 0
            for r in fr.records:
                cur = self._chunks.get(r.raw)
                if cur is None or (not doomed and cur.pack.hex in self._condemned):
                    self._chunks[r.raw] = Location(
                        entry.pack, fr.offset, fr.length, fr.kind, fr.depth, off, r.size
                    )
                off += r.size

    def replace(self, files: dict[str, IndexFile], condemned: frozenset[str] = frozenset()) -> None:
        """Rebuild from the given index files, ignoring those another one supersedes.

        ``condemned`` names packs (by hex) that gc may delete: their chunks stay readable
        (:meth:`get`) but are not held (``in``), and a copy elsewhere is preferred.
        """
        superseded = {h for f in files.values() for h in f.supersedes}
        with self._lock:
            self._chunks = {}
            self._packs = {}
            self._condemned = frozenset(condemned)
            self.files = set()
            for name, f in sorted(files.items()):
                if name in superseded:
                    continue
                self.files.add(name)
                for p in f.packs:
                    self._add(p)

    @property
    def condemned(self) -> frozenset[str]:
        """Hexes of the packs gc has condemned (readable, but not counted as held)."""
        return self._condemned

    def get(self, digest: Digest) -> Location | None:
        """Where to read ``digest`` (a condemned pack only when no other copy is indexed)."""
        loc = self._chunks.get(digest.raw)
        return loc if loc is not None and loc.size == digest.size else None

    def __contains__(self, digest: object) -> bool:
        """Whether ``digest`` is held for writers to reuse: indexed outside condemned packs."""
        if not isinstance(digest, Digest):
            return False
        loc = self.get(digest)
        return loc is not None and loc.pack.hex not in self._condemned

    def __len__(self) -> int:
        return len(self._chunks)

    def packs(self) -> list[PackEntry]:
        with self._lock:
            return list(self._packs.values())

    def items(self) -> Iterator[tuple[Digest, Location]]:
        with self._lock:
            snapshot = list(self._chunks.items())
        for raw, loc in snapshot:
            yield Digest.from_raw(raw, loc.size), loc

    def find_prefix(self, hex_prefix: str, kind: int | None = None) -> list[Digest]:
        return [
            d
            for d, loc in self.items()
            if d.hex.startswith(hex_prefix) and (kind is None or loc.kind == kind)
        ]
