"""The memory family: ``memory://`` stores held in this process's memory.

Nouns:

- **named pair**: the blob and ref stores ``memory://NAME`` opens, shared by every open of the
  same NAME in this process; ``memory://`` alone opens a fresh, private pair.
- **blob store** (:class:`MemoryBlobStore`) and **ref store** (:class:`MemoryRefStore`): dicts
  behind a lock, in :mod:`flowpack.backends.memory.adapter`.  Nothing is durable.

The opener is :func:`open_memory` (entry point ``memory``).
"""

from flowpack.backends.memory.adapter import MemoryBlobStore, MemoryRefStore, open_memory

__all__ = ["MemoryBlobStore", "MemoryRefStore", "open_memory"]
