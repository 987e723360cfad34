"""Planning a read of many chunks: which frames it decodes, and how often each is needed.

A frame is needed once per chunk read from it and once per decode of a frame compressed
against one of its chunks.  Those bases are only known from the frames' headers, so the plan
reads the header of every frame in the base tree, a window of frames at a time
(:meth:`ChunkReader.prefetch_frames`: coalesced ranged reads within the budget's
``read_ahead``).  The raw frames are not held: where the store is remote they go to the local
frame cache, which the decodes then read instead of the store; a local store's are read again
(from the page cache).  On a remote store the plan is where the frames are downloaded, so it
reports progress as a stage of its own, ``plan``, in raw bytes of frames read, and it reads
ahead no more than half the frame cache holds (none without a frame cache): past that, frames
would be downloaded twice, so the rest of the plan counts only the reads the index shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowpack.cas.digest import Digest
from flowpack.cas.index import Location
from flowpack.cas.meter import Meter

if TYPE_CHECKING:
    from flowpack.cas.content import Progress
    from flowpack.cas.reader import ChunkReader
    from flowpack.cas.spill import FrameSpill

FrameKey = tuple[str, int]


@dataclass(frozen=True)
class ReadPlan:
    """Reads announced to a :class:`ChunkReader` (frame key -> reads), and where frames
    evicted before those reads are kept."""

    reads: Counter[tuple[str, int]]
    spill: FrameSpill | None
    #: Whether the plan made ``spill`` (and so removes it when it ends).
    owned: bool = False


def plan_reads(
    reader: ChunkReader,
    digests: Iterable[Digest],
    progress: Progress | None = None,
    limit: int | None = None,
) -> tuple[Counter[FrameKey], set[bytes]]:
    """How many times reading ``digests`` (each decoded frame once) needs each frame, and the
    records (raw digests) those reads take: ``digests`` and the bases of the frames decoded.
    Reads at most ``limit`` bytes of frames for their bases (None: no limit)."""
    planned: Counter[FrameKey] = Counter()
    wanted: set[bytes] = set()
    todo: dict[FrameKey, Location] = {}
    for d in digests:
        loc = reader.index.get(d)
        if loc is not None:
            wanted.add(d.raw)
            key = (loc.pack.hex, loc.frame_offset)
            planned[key] += 1
            todo.setdefault(key, loc)
    if limit == 0:
        return planned, wanted  # from the index alone
    seen = set(todo)
    meter = Meter(progress, "plan", sum(loc.frame_length for loc in todo.values()))
    read = 0
    while todo:
        window = _window(todo, reader.budget.read_ahead)
        unknown = [key for key in window if not reader.knows(key)]  # headers to read
        read += sum(window[key].frame_length for key in unknown)
        if limit is not None and read > limit:
            break  # the rest is planned from the index alone
        reader.prefetch_frames(window[key] for key in unknown)
        meter.add(sum(loc.frame_length for loc in window.values()))
        fetched = set(unknown)
        for key, loc in window.items():
            for base in _bases(reader, key, loc, fetched=key in fetched):
                bloc = reader.index.get(base)
                if bloc is None:
                    continue  # the decode reports it
                wanted.add(base.raw)
                bkey = (bloc.pack.hex, bloc.frame_offset)
                planned[bkey] += 1  # read once per decode of the frame at ``key``
                if bkey not in seen:
                    seen.add(bkey)
                    todo[bkey] = bloc
                    meter.grow(bloc.frame_length)
    return planned, wanted


def _window(todo: dict[FrameKey, Location], room: int) -> dict[FrameKey, Location]:
    """Take frames from ``todo`` up to ``room`` raw bytes (at least one)."""
    window: dict[FrameKey, Location] = {}
    for key in list(todo):
        loc = todo[key]
        if window and loc.frame_length > room:
            break
        window[key] = todo.pop(key)
        room -= loc.frame_length
    return window


def _bases(
    reader: ChunkReader, key: FrameKey, loc: Location, *, fetched: bool
) -> tuple[Digest, ...]:
    """The bases of the frame at ``key``; one ``fetched`` for the plan is not kept in memory
    (one read ahead for a decode, by the writer's :class:`BaseBudget`, stays for it)."""
    info = reader.frame_plan(loc)
    if info is None:
        return ()  # damaged: its decode reports it
    raw = reader.take_raw(key) if fetched else None
    if raw is not None and reader.frame_cache is not None:
        reader.frame_cache.put(loc.pack.hex, loc.frame_offset, raw)
    return info[1]
