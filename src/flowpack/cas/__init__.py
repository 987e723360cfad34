"""The core: content addressing, packing, verification.  Imports no backend and no cloud SDK.

Nouns: a *Digest* names bytes (``blake3:<hex>`` plus size).  A *chunk* is a piece of a file cut
by content-defined chunking.  A *manifest* lists files (path, mode, size, hash, chunks), links
to other manifests, and metadata; a *bundle* is a manifest plus all it references, addressed by
the manifest's digest.  A *frame* is one zstd stream of chunks, optionally compressed against
base chunks; a *pack* is a file of frames with a trailing index, the unit of upload; an *index
file* lists packs' frames.  A *ref* is a mutable name pointing at a digest, changed only by
compare-and-set.  A *Store* joins a BlobStore, a RefStore and this logic.
"""
