"""Content-defined chunking (FastCDC 2020, normalisation level 2, compiled by pyfastcdc).

Each file is chunked on its own; a file no larger than ``min_size`` is one chunk.  The
chunker's identity and parameters are written in the store's ``config``; a store refuses to
be written with other parameters, since that would silently break deduplication.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from flowpack.cas.errors import UsageError

ALGORITHM = "fastcdc2020"


@dataclass(frozen=True)
class ChunkerParams:
    """FastCDC 2020 parameters.  ``identity`` is what the store's config records."""

    avg_size: int = 65536
    min_size: int = 16384
    max_size: int = 262144
    normalization: int = 2

    def __post_init__(self) -> None:
        if not (64 <= self.min_size <= self.avg_size <= self.max_size <= 1 << 26):
            raise UsageError(f"chunker sizes must satisfy 64 <= min <= avg <= max: {self}")
        if self.normalization not in (0, 1, 2, 3):
            raise UsageError("chunker normalization must be 0-3")

    @property
    def identity(self) -> str:
        return (
            f"{ALGORITHM}:min={self.min_size},avg={self.avg_size},"
            f"max={self.max_size},norm={self.normalization}"
        )

    @classmethod
    def from_identity(cls, text: str) -> ChunkerParams:
        """Inverse of :attr:`identity`; raises :class:`UsageError` on anything else."""
        algo, _, rest = text.partition(":")
        if algo != ALGORITHM:
            raise UsageError(f"unknown chunker {algo!r}")
        try:
            fields = dict(kv.split("=", 1) for kv in rest.split(","))
            return cls(
                avg_size=int(fields["avg"]),
                min_size=int(fields["min"]),
                max_size=int(fields["max"]),
                normalization=int(fields["norm"]),
            )
        except (KeyError, ValueError) as exc:
            raise UsageError(f"malformed chunker identity {text!r}") from exc


class Chunker:
    """Cuts byte strings into content-defined chunks.  Thread-safe (no mutable state)."""

    def __init__(self, params: ChunkerParams | None = None) -> None:
        self.params = params or ChunkerParams()
        p = self.params
        from pyfastcdc import FastCDC  # compiled; imported by the commands that chunk only

        self._cdc = FastCDC(
            avg_size=p.avg_size,
            min_size=p.min_size,
            max_size=p.max_size,
            normalized_chunking=p.normalization,  # type: ignore[arg-type]
        )

    def cut(self, data: bytes | memoryview) -> Iterator[tuple[int, int]]:
        """Yield ``(offset, length)`` of each chunk of ``data``, covering it exactly."""
        n = len(data)
        if n <= self.params.min_size:
            if n:
                yield 0, n
            return
        for chunk in self._cdc.cut_buf(data):
            yield chunk.offset, chunk.length

    def cut_stream(self, stream: BinaryIO) -> Iterator[tuple[int, memoryview]]:
        """Yield ``(offset, bytes)`` of each chunk read from ``stream``, cut exactly as
        :meth:`cut` cuts the whole content.  Each view is valid only until the next one is
        requested (copy what you keep); memory stays at a few chunks whatever the file size.
        """
        head = stream.read(self.params.min_size + 1)
        if len(head) <= self.params.min_size:
            if head:
                yield 0, memoryview(head)
            return
        for chunk in self._cdc.cut_stream(_Prefixed(head, stream)):
            if chunk.length:
                yield chunk.offset, chunk.data


class _Prefixed:
    """A readable stream: ``head`` (already read) followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._stream.read(n)
