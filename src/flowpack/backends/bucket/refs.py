"""Refs in a cloud bucket: one small object per ref, changed only by conditional writes.

Layout: the ref ``flows/p/f`` is the object ``<prefix>/refs/flows/p/f`` holding
:func:`~flowpack.cas.refvalue.encode_ref_value` bytes, as on the local backend, so a store
copied object by object between a directory and a bucket keeps its refs.  The token is the
service's version of the object (S3 and Azure ETag, GCS generation); compare-and-set is the
service's own conditional write (see :class:`~flowpack.backends.bucket.ops.BucketOps`), so it is
atomic wherever the service is.

Before its first change of a ref, the store checks that the endpoint honours preconditions
(:class:`~flowpack.backends.bucket.probe.PreconditionCheck`).  If it does not, the store says so
once, stops claiming ``atomic_cas``, and refuses every ref change with a
:class:`~flowpack.cas.errors.CapabilityError` naming the endpoint and the ``unsafe_refs=1`` URL
option.  Only with that option does it change refs there, by read, compare, write and re-read:
the best that can be done there, and not atomic (a concurrent update can be lost).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator

from flowpack.backends.bucket.errors import ErrorTranslator
from flowpack.backends.bucket.ops import BucketOps
from flowpack.backends.bucket.probe import PreconditionCheck
from flowpack.cas.digest import Digest
from flowpack.cas.errors import CapabilityError, InvalidRefName
from flowpack.cas.protocols import Capabilities, Token
from flowpack.cas.refname import check_ref_name
from flowpack.cas.refvalue import decode_ref_value, encode_ref_value

__all__ = ["BucketRefStore"]


class BucketRefStore:
    """A :class:`~flowpack.cas.protocols.RefStore` over :class:`BucketOps`.

    ``refs_prefix`` is the object-name prefix of the refs (``team/store/refs/``).  Thread-safe.
    Each method makes one request (two for a create that finds a GCS tombstone), plus the
    one-time precondition probe; ``iter_refs`` makes one listing plus one read per ref.

    ``compare_and_set`` has one meaning on every backend: False whenever its condition did
    not hold, even if the ref already points at the value being written (a ``create`` of an
    existing ref at the same value is a lost race, as on the local store).  Its one exception
    is a lost *answer*: the service applied the write, its answer was lost, and the HTTP client
    (aiohttp retries a PUT whose pooled connection dropped) sent it again, which is refused by
    the write it repeats.  To tell that apart, each call tags the bytes it writes with a fresh
    random write id (:func:`~flowpack.cas.refvalue.encode_ref_value`); a refused write is
    reported as done only if the ref now holds exactly those bytes, id included, so another
    writer's write of the same value is never taken for this one.
    """

    def __init__(
        self,
        ops: BucketOps,
        refs_prefix: str,
        *,
        errors: ErrorTranslator,
        check: PreconditionCheck,
        capabilities: Capabilities,
        unsafe_refs: bool = False,
    ) -> None:
        self.ops = ops
        self.unsafe_refs = unsafe_refs
        self.refs_prefix = refs_prefix
        self.errors = errors
        self.check = check
        self._declared = capabilities

    @property
    def capabilities(self) -> Capabilities:
        """The service's guarantees, without ``atomic_cas`` once the probe found it ignored."""
        if self.check.known() is False:
            return dataclasses.replace(self._declared, atomic_cas=False)
        return self._declared

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The value and token of ``name``, or None; :class:`MalformedData` if damaged."""
        key = self._key(name)
        with self.errors.edge(f"read ref {name!r}"):
            found = self.ops.read(key)
        if found is None:
            return None
        return decode_ref_value(found[0], name), found[1]

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """A snapshot: one listing under ``prefix``, then each ref read, sorted by name."""
        with self.errors.edge(f"list refs under {prefix!r}"):
            listed = self.ops.list(self.refs_prefix + prefix)
        out: list[tuple[str, Digest]] = []
        for info in sorted(listed, key=lambda i: i.key):
            name = info.key[len(self.refs_prefix) :]
            if not _is_ref_name(name):
                continue  # probes, tombstones, objects no flowpack wrote
            with self.errors.edge(f"read ref {name!r}"):
                found = self.ops.read(info.key)
            if found is not None:  # else deleted since the listing
                out.append((name, decode_ref_value(found[0], name)))
        return iter(out)

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """One conditional write (``If-None-Match: *`` / ``If-Match``); False on a lost race.

        Raises :class:`CapabilityError` where the endpoint ignores conditional writes and the
        URL did not opt in to ``unsafe_refs``."""
        key = self._key(name)
        data = encode_ref_value(new, secrets.token_hex(8))
        with self.errors.edge(f"update ref {name!r}"):
            if not self._guarded(f"change ref {name!r}"):
                return self._unguarded_set(key, data, expected)
            if expected is None:
                done = self.ops.create(key, data)
            else:
                done = self.ops.replace(key, data, expected)
            if done:
                return True
            # Refused: lost the race, or won it and lost the answer (HTTP clients retry a PUT
            # whose connection dropped; the retry is refused by the write it repeats).  Only
            # this call's own bytes (its write id) count as a win.
            after = self.ops.read(key)
            return after is not None and after[0] == data

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """One conditional delete; False when the ref changed or is absent.

        Raises :class:`CapabilityError` as :meth:`compare_and_set` does."""
        key = self._key(name)
        with self.errors.edge(f"delete ref {name!r}"):
            if not self._guarded(f"delete ref {name!r}"):
                found = self.ops.read(key)
                if found is None or found[1] != expected:
                    return False
                self.ops.remove(key)
                return True
            return self.ops.delete(key, expected)

    def _guarded(self, what: str) -> bool:
        """Whether conditional writes are honoured; if not, :class:`CapabilityError` unless the
        URL opted in to ``unsafe_refs`` (then False: the caller reads, compares and writes)."""
        if self.check.honoured():
            return True
        if not self.unsafe_refs:
            raise CapabilityError(
                f"refusing to {what}: {self.check.where} ignores conditional writes "
                "(If-Match / If-None-Match), so a ref update there is not atomic and a "
                "concurrent one can be lost; add unsafe_refs=1 to the URL to accept that "
                "(updates are then read, compared, written and read back)"
            )
        return False

    def _unguarded_set(self, key: str, data: bytes, expected: Token | None) -> bool:
        """Read, compare, write, re-read: for endpoints that ignore preconditions; not atomic."""
        found = self.ops.read(key)
        if (found[1] if found else None) != expected:
            return False
        self.ops.write(key, data)
        after = self.ops.read(key)
        return after is not None and after[0] == data

    def _key(self, name: str) -> str:
        return self.refs_prefix + check_ref_name(name)


def _is_ref_name(name: str) -> bool:
    try:
        check_ref_name(name)
    except InvalidRefName:
        return False
    return True
