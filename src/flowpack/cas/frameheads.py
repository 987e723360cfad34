"""Reading the bases of a pack's delta frames from their headers, without decoding them.

``gc`` marks the bases of live frames live; ``verify --read-data`` plans its base reads (each
base frame decoded once).  A pack with many delta frames, or any pack of a location without
range reads, is read whole (one request); otherwise each delta frame's header is read with a
small ranged read (:data:`HEAD_READ` bytes, and again if the header is longer).
"""

from __future__ import annotations

from flowpack.cas.digest import Digest
from flowpack.cas.errors import CorruptObject
from flowpack.cas.index import PackEntry
from flowpack.cas.pack import U32, FrameHeader
from flowpack.cas.protocols import BlobStore

#: Bytes read for one frame's header (most are smaller; a longer one is read again).
HEAD_READ = 4096
#: A pack with more delta frames than this is read whole for their headers (one request).
WHOLE_PACK_FRAMES = 8


def delta_bases(blobs: BlobStore, entry: PackEntry) -> list[tuple[Digest, ...]]:
    """The bases of each delta frame of the pack ``entry`` lists, in its order.  Raises
    :class:`IntegrityError` (a frame cut short or a header that does not decode) or
    :class:`NotFound` (the pack is gone)."""
    deltas = [fr for fr in entry.frames if fr.depth > 0]
    if not deltas:
        return []
    key = f"packs/{entry.pack.hex}"
    whole_read = len(deltas) > WHOLE_PACK_FRAMES or not blobs.capabilities.range_reads
    whole = blobs.get(key) if whole_read else None
    out = []
    for fr in deltas:
        if whole is not None:
            head = whole[fr.offset : fr.offset + fr.length]
        else:
            head = blobs.get(key, fr.offset, min(fr.length, HEAD_READ))
        (hlen,) = U32.unpack_from(head) if len(head) >= U32.size else (-1,)
        if whole is None and hlen >= 0 and U32.size + hlen > len(head):
            head = blobs.get(key, fr.offset, min(fr.length, U32.size + hlen))
        if hlen < 0 or U32.size + hlen > len(head):
            raise CorruptObject(f"frame at {fr.offset} of pack {entry.pack} is cut short")
        out.append(FrameHeader.decode(head[U32.size : U32.size + hlen]).bases)
    return out
