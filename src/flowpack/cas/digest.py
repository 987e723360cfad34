"""`Digest`: the value type naming every object in a store.

Spelled ``blake3:<64 lowercase hex>`` (the OCI image-spec and Bazel REAPI form) and always
carried with the size in bytes of the object it names.  A digest is never a bare string inside
flowpack; parse text with :meth:`Digest.parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import blake3

from flowpack.cas.errors import InvalidDigest

ALGORITHM = "blake3"
HEX_LEN = 64
_FULL = re.compile(r"^blake3:([0-9a-f]{64})$")
_PREFIX = re.compile(r"^(?:blake3:)?([0-9a-f]{8,64})$")
MIN_PREFIX = 8


@dataclass(frozen=True, order=True, slots=True)
class Digest:
    """The blake3 hash (lowercase hex) of an object's bytes, plus its size."""

    hex: str
    size: int

    def __post_init__(self) -> None:
        if len(self.hex) != HEX_LEN or not _is_hex(self.hex):
            raise InvalidDigest(f"not a blake3 digest: {self.hex!r}")
        if self.size < 0:
            raise InvalidDigest(f"negative size {self.size} for {self}")

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview) -> Digest:
        """The digest of ``data``."""
        return cls(blake3.blake3(data, max_threads=_threads(len(data))).hexdigest(), len(data))

    @classmethod
    def from_raw(cls, raw: bytes, size: int) -> Digest:
        """A digest from its 32 raw hash bytes."""
        if len(raw) != HEX_LEN // 2:
            raise InvalidDigest(f"raw digest must be 32 bytes, got {len(raw)}")
        if size < 0:
            raise InvalidDigest(f"negative size {size} for blake3:{raw.hex()}")
        d = object.__new__(cls)  # 32 bytes always give valid hex: skip the text check
        object.__setattr__(d, "hex", raw.hex())
        object.__setattr__(d, "size", size)
        return d

    @classmethod
    def parse(cls, text: str, size: int) -> Digest:
        """Parse ``blake3:<hex>``; the size comes from elsewhere (an index, a ref)."""
        m = _FULL.match(text.strip())
        if not m:
            raise InvalidDigest(f"not a digest (expected blake3:<64 hex>): {text[:80]!r}")
        return cls(m.group(1), size)

    @property
    def raw(self) -> bytes:
        """The 32 hash bytes."""
        return bytes.fromhex(self.hex)

    @property
    def short(self) -> str:
        """A 12-hex abbreviation for humans; resolve prefixes with the store, not here."""
        return self.hex[:12]

    def matches(self, data: bytes | bytearray | memoryview) -> bool:
        """Whether ``data`` has exactly this size and hash."""
        return len(data) == self.size and Digest.of(data).hex == self.hex

    def __str__(self) -> str:
        return f"{ALGORITHM}:{self.hex}"


def parse_prefix(text: str) -> str:
    """The hex of a full digest or of an abbreviation (8 to 64 hex, optional ``blake3:``)."""
    m = _PREFIX.match(text.strip().lower())
    if not m:
        raise InvalidDigest(
            f"not a digest or digest prefix (need {MIN_PREFIX}+ hex digits): {text[:80]!r}"
        )
    return m.group(1)


def looks_like_digest(text: str) -> bool:
    """Whether ``text`` could be a digest or a digest prefix (as opposed to a ref name)."""
    return bool(_PREFIX.match(text.strip().lower())) and (
        text.startswith("blake3:") or len(text.strip()) >= 12
    )


_HEX = re.compile(r"[0-9a-f]*")


def _is_hex(s: str) -> bool:
    return _HEX.fullmatch(s) is not None


def _threads(n: int) -> int:
    return blake3.blake3.AUTO if n >= 1 << 20 else 1
