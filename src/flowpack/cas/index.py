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
costs one listing, not a request per chunk.  In memory an index file keeps each frame's records
as one byte string (:class:`FrameSpan`), and the merged :class:`Index` is a sorted table of
fixed-width records (:mod:`flowpack.cas.chunktable`): no Python object per chunk.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import msgpack

from flowpack.cas import codec
from flowpack.cas.chunktable import ChunkTable
from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.frames import SPAN_RECORD, FrameEntry, FrameSpan

MAX_INDEX = 256 << 20
#: Tables added by write sessions before they are merged into one.
MAX_TABLES = 8


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
    """The content of one index file: its packs' frames, compact (:class:`FrameSpan`)."""

    spans: tuple[tuple[Digest, tuple[FrameSpan, ...]], ...]
    supersedes: tuple[str, ...] = ()

    @classmethod
    def of(cls, packs: Iterable[PackEntry], supersedes: Iterable[str] = ()) -> IndexFile:
        """The index file listing ``packs`` (and superseding ``supersedes``, hexes)."""
        spans = tuple((p.pack, tuple(FrameSpan.of(f) for f in p.frames)) for p in packs)
        return cls(spans, tuple(supersedes))

    @property
    def packs(self) -> tuple[PackEntry, ...]:
        """The packs as entries (one object per chunk: built anew on each access)."""
        return tuple(PackEntry(d, tuple(s.entry() for s in spans)) for d, spans in self.spans)

    def encode(self) -> bytes:
        """The stored bytes: the msgpack document (built one frame at a time), compressed."""
        pk = msgpack.Packer(use_bin_type=True)
        parts = [pk.pack_map_header(3), pk.pack("packs"), pk.pack_array_header(len(self.spans))]
        for d, spans in self.spans:
            parts += [pk.pack_array_header(3), pk.pack(d.raw), pk.pack(d.size)]
            parts.append(pk.pack_array_header(len(spans)))
            for s in spans:
                recs = list(SPAN_RECORD.iter_unpack(s.records))
                parts.append(pk.pack([s.offset, s.length, s.kind, s.depth, recs]))
        parts += [
            pk.pack("supersedes"),
            pk.pack([bytes.fromhex(h) for h in sorted(self.supersedes)]),
        ]
        parts += [pk.pack("v"), pk.pack(1)]
        raw = b"".join(parts)
        enc = codec.compress(raw, level=9)
        return bytes([enc.codec]) + U64(len(raw)) + enc.payload

    @classmethod
    def decode(cls, data: bytes, name: str = "?") -> IndexFile:
        """Decode one index file, one frame's records at a time; :class:`MalformedData` if bad."""
        try:
            if len(data) < 9:
                raise MalformedData("too short")
            size = int.from_bytes(data[1:9], "little")
            if size > MAX_INDEX:
                raise MalformedData("claims an impossible size")
            raw = codec.decompress(data[0], data[9:], size)
            return _decode_doc(raw)
        except (MalformedData, ValueError, TypeError, KeyError, struct.error) as exc:
            raise MalformedData(f"index {name} does not decode: {exc}") from exc
        except msgpack.UnpackException as exc:
            raise MalformedData(f"index {name} does not decode: {exc}") from exc


def _decode_doc(raw: bytes) -> IndexFile:
    up = msgpack.Unpacker(raw=False, max_buffer_size=max(len(raw), 1))
    up.feed(raw)
    doc: dict[str, object] = {}
    for _ in range(up.read_map_header()):
        key = up.unpack()
        if key in doc or key not in ("packs", "supersedes", "v"):
            raise MalformedData(f"unexpected key {key!r}")
        doc[key] = _decode_packs(up) if key == "packs" else up.unpack()
    if up.tell() != len(raw):
        raise MalformedData("extra data after the index")
    if doc["v"] != 1:
        raise MalformedData(f"unknown index version {doc['v']}")
    supersedes = doc["supersedes"]
    if not isinstance(supersedes, list) or not all(isinstance(h, bytes) for h in supersedes):
        raise MalformedData("bad supersedes list")
    packs = doc["packs"]
    assert isinstance(packs, tuple)
    return IndexFile(packs, tuple(h.hex() for h in supersedes))


def _decode_packs(up: msgpack.Unpacker) -> tuple[tuple[Digest, tuple[FrameSpan, ...]], ...]:
    out = []
    for _ in range(up.read_array_header()):
        if up.read_array_header() != 3:
            raise MalformedData("a pack entry is not [hash, size, frames]")
        raw, size = up.unpack(), up.unpack()
        if not isinstance(raw, bytes) or not isinstance(size, int):
            raise MalformedData("a pack entry is not [hash, size, frames]")
        pack = Digest.from_raw(raw, size)
        spans = []
        for _ in range(up.read_array_header()):
            o, n, k, d, recs = up.unpack()
            if not all(len(h) == 32 and isinstance(h, bytes) for h, _ in recs):
                raise MalformedData("a chunk hash is not 32 bytes")
            packed = b"".join([SPAN_RECORD.pack(h, s) for h, s in recs])
            spans.append(FrameSpan(int(o), int(n), int(k), int(d), packed))
        out.append((pack, tuple(spans)))
    return tuple(out)


def U64(n: int) -> bytes:
    return n.to_bytes(8, "little")


@dataclass(frozen=True)
class _State:
    """One consistent view: frames (numbered), tables over them, packs by hex."""

    frames: list[tuple[Digest, int, int, int, int]] = field(default_factory=list)
    tables: tuple[ChunkTable, ...] = ()
    packs: dict[str, tuple[Digest, tuple[FrameSpan, ...]]] = field(default_factory=dict)
    condemned: frozenset[str] = frozenset()
    #: Recent lookups in this view: a writer walks the same base trees for every new frame
    #: (budget, plan), a restore looks each chunk up several times.  Emptied when full, gone
    #: with the view.
    recent: dict[Digest, Location | None] = field(default_factory=dict)


#: Lookups a view remembers before it forgets them all (about 1 MB).
RECENT_LOOKUPS = 4096


class Index:
    """The merged, in-memory view of a set of index files.  Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        self.files: set[str] = set()

    def add_file(self, written: IndexFile) -> None:
        """Add the packs of an index file a write session stored (their chunks count as held
        at once; the file is listed in :attr:`files` after the next :meth:`replace`)."""
        spans = written.spans
        with self._lock:
            st = self._state
            packs = dict(st.packs)
            first = len(st.frames)
            _number(spans, st.frames, packs)  # appends to the live frame list
            tables = (*st.tables, ChunkTable(lambda: _records(spans, first)))
            if len(tables) > MAX_TABLES:
                tables = (ChunkTable(lambda: (r for t in tables for r in t)),)
            self._state = _State(st.frames, tables, packs, st.condemned)

    def replace(self, files: dict[str, IndexFile], condemned: frozenset[str] = frozenset()) -> None:
        """Rebuild from the given index files, ignoring those another one supersedes.

        ``condemned`` names packs (by hex) that gc may delete: their chunks stay readable
        (:meth:`get`) but are not held (``in``), and a copy elsewhere is preferred.
        """
        superseded = {h for f in files.values() for h in f.supersedes}
        live = sorted(name for name in files if name not in superseded)
        frames: list[tuple[Digest, int, int, int, int]] = []
        packs: dict[str, tuple[Digest, tuple[FrameSpan, ...]]] = {}
        spans = [s for name in live for s in files[name].spans]
        with self._lock:  # a session's add_file meanwhile waits, then adds to the new state
            _number(spans, frames, packs)
            table = ChunkTable(lambda: _records(spans, 0))
            self._state = _State(frames, (table,), packs, frozenset(condemned))
            self.files = set(live)

    @property
    def condemned(self) -> frozenset[str]:
        """Hexes of the packs gc has condemned (readable, but not counted as held)."""
        return self._state.condemned

    def get(self, digest: Digest) -> Location | None:
        """Where to read ``digest`` (a condemned pack only when no other copy is indexed)."""
        st = self._state
        recent = st.recent
        try:
            return recent[digest]
        except KeyError:  # not looked up lately (or forgotten meanwhile by another thread)
            pass
        hit = _winner(st, digest.raw)
        loc = _location(st, hit, digest.size) if hit is not None else None
        if len(recent) >= RECENT_LOOKUPS:
            recent.clear()
        recent[digest] = loc
        return loc

    def __contains__(self, digest: object) -> bool:
        """Whether ``digest`` is held for writers to reuse: indexed outside condemned packs."""
        if not isinstance(digest, Digest):
            return False
        loc = self.get(digest)
        return loc is not None and loc.pack.hex not in self._state.condemned

    def __len__(self) -> int:
        return sum(1 for _ in self._hashes(self._state))

    def packs(self) -> list[PackEntry]:
        """Every pack listed, as entries (built anew: one object per chunk)."""
        st = self._state
        return [PackEntry(d, tuple(s.entry() for s in spans)) for d, spans in st.packs.values()]

    def pack_hexes(self) -> frozenset[str]:
        """The hexes of every pack listed."""
        return frozenset(self._state.packs)

    def items(self) -> Iterator[tuple[Digest, Location]]:
        """Every indexed object once, with where :meth:`get` would read it."""
        st = self._state
        for raw in self._hashes(st):
            hit = _winner(st, raw)
            loc = _location(st, hit, hit[2]) if hit is not None else None
            if loc is not None:
                yield Digest.from_raw(raw, loc.size), loc

    @staticmethod
    def _hashes(st: _State) -> Iterator[bytes]:
        """Every hash indexed, once."""
        if len(st.tables) == 1:  # sorted: copies of one hash are neighbours
            last = None
            for raw, *_ in st.tables[0]:
                if raw != last:
                    last = raw
                    yield raw
            return
        seen: set[bytes] = set()
        for table in st.tables:
            for raw, *_ in table:
                if raw not in seen:
                    seen.add(raw)
                    yield raw

    def find_prefix(self, hex_prefix: str, kind: int | None = None) -> list[Digest]:
        return [
            d
            for d, loc in self.items()
            if d.hex.startswith(hex_prefix) and (kind is None or loc.kind == kind)
        ]


def _number(
    spans: Iterable[tuple[Digest, tuple[FrameSpan, ...]]],
    frames: list[tuple[Digest, int, int, int, int]],
    packs: dict[str, tuple[Digest, tuple[FrameSpan, ...]]],
) -> None:
    """Number the frames of ``spans`` on after ``frames`` (appended to); list their packs."""
    for pack, frame_spans in spans:
        packs[pack.hex] = (pack, frame_spans)
        frames.extend((pack, s.offset, s.length, s.kind, s.depth) for s in frame_spans)


def _records(
    spans: Iterable[tuple[Digest, tuple[FrameSpan, ...]]], first: int
) -> Iterator[tuple[bytes, int, int, int]]:
    """The chunk records of ``spans``, whose frames are numbered from ``first`` on."""
    n = first
    for _, frame_spans in spans:
        for s in frame_spans:
            off = 0
            for h, size in SPAN_RECORD.iter_unpack(s.records):
                yield h, n, off, size
                off += size
            n += 1


def _winner(st: _State, raw: bytes) -> tuple[int, int, int] | None:
    """The copy of ``raw`` to read: the first added outside condemned packs, else the first."""
    first = None
    for table in st.tables:
        for hit in table.find(raw):
            if st.frames[hit[0]][0].hex not in st.condemned:
                return hit
            first = first or hit
    return first


def _location(st: _State, hit: tuple[int, int, int], size: int) -> Location | None:
    frame, off, n = hit
    if n != size:
        return None
    pack, f_off, f_len, kind, depth = st.frames[frame]
    return Location(pack, f_off, f_len, kind, depth, off, n)
