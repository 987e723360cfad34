"""Store-to-store copy: send a store what some digests reach and it lacks.

Reads from the source are verified; writes go through one write session of the destination
that is not joined to an open batch, so what is copied is visible when the copy returns.  The
source may be the destination: objects that lie only in packs gc has condemned are then stored
again (see :mod:`flowpack.cas.gc`), which is how a store revives what a new ref points at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowpack.cas.config import ensure_config
from flowpack.cas.content import Content, Progress, PushResult
from flowpack.cas.digest import Digest
from flowpack.cas.errors import UsageError
from flowpack.cas.guards import refuse_write
from flowpack.cas.memory import process_budget
from flowpack.cas.meter import Meter
from flowpack.cas.pack import DATA, OBJECT
from flowpack.cas.spill import FrameSpill
from flowpack.cas.walk import manifest_loader, walk

if TYPE_CHECKING:  # the writer is imported by the commands that write
    from flowpack.cas.writer import Writer

#: The first read is smaller (then doubled up to the budget's read-ahead), so progress
#: starts at once.
FIRST_BATCH = 1 << 20


def copy_objects(
    src: Content, dst: Content, digests: Sequence[Digest], progress: Progress | None = None
) -> PushResult:
    """Send ``dst`` what ``digests`` reach in ``src`` and ``dst`` lacks (verified reads).

    ``progress`` gets stage ``copy`` after every object, in bytes compressed for ``dst`` out
    of the size of all that it lacks (known before the first read), and the whole size once
    everything is stored.  Returns a :class:`PushResult` describing the last digest;
    ``bytes_uploaded`` and ``packs_uploaded`` count everything sent.  Raises
    :class:`UsageError` for no digests and :class:`NotFound` when ``src`` lacks something they
    reach, :class:`CapabilityError` when ``dst`` is read-only.
    """
    if not digests:
        raise UsageError("nothing to copy: no digests given")
    refuse_write(dst.blobs.capabilities, "copy into it", dst.url)
    src.sync()
    reach = walk(digests, manifest_loader(src))
    if not dst.initialized:
        ensure_config(dst.blobs, src.config.chunker)
    dst.config  # noqa: B018
    missing = set(dst.missing(reach.every_digest()))
    meter = Meter(progress, "copy", sum(d.size for d in missing))
    objects = [d for d in reach.objects if d in missing]
    manifests = [d for d in reversed(reach.manifests) if d in missing]
    with (
        dst.writing(join_batch=False) as writer,  # visible at once, even in a batch
        FrameSpill() as spill,
        src.planned([*objects, *manifests], spill=spill),  # each frame decoded once
    ):
        _send(src, writer, objects, meter)
        writer.seal(DATA)
        writer.seal(OBJECT)
        _send(src, writer, manifests, meter)
    meter.advance_to(meter.total)
    last = digests[-1]
    m = reach.manifests.get(last)
    s = writer.stats
    return PushResult(
        last,
        m.size if m else last.size,
        len(m.files) if m else 0,
        sum(len(f.chunks) for f in m.files) if m else 0,
        s.new_chunks,
        s.bytes_uploaded,
        s.packs_uploaded,
    )


def _send(src: Content, writer: Writer, digests: list[Digest], meter: Meter) -> None:
    window = process_budget().read_ahead  # read from the source a window at a time
    i = 0
    limit = min(FIRST_BATCH, window)
    while i < len(digests):
        batch: list[Digest] = []
        size = 0
        while i < len(digests) and size < limit:
            batch.append(digests[i])
            size += digests[i].size
            i += 1
        limit = min(2 * limit, window)
        src.prefetch(batch)
        for d in batch:
            loc = src.locate(d)
            kind = loc.kind if loc is not None else DATA
            writer.add(d, src.get_bytes(d), kind=kind)
            meter.advance_to(writer.stats.bytes_compressed)  # not what is merely queued
