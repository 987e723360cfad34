"""`OciRefStore`: refs as registry tags (``ref.<name>``), each naming a ref manifest.

The token of a ref is the digest of the manifest its tag names.  Registries have no
conditional tag write, so ``compare_and_set`` is read, compare, write, re-read, declared with
``atomic_cas=False``: two writers racing from the same token may both write.  The re-read
reports the loss (returns False) when another writer's tag replaced ours before it, and every
ref manifest records the token it replaced (``org.flowpack.ref.previous``), so a lost update
stays visible in the chain of manifests instead of being hidden.  A lost update is also logged.

Ref manifests carry a nonce: no two updates share a token, even to the same value, so a stale
token never matches again.  ``compare_and_delete`` deletes the manifest by its digest, which
removes the tag with it.  Thread-safe.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from flowpack.backends.oci import artifacts, tags
from flowpack.backends.oci.blobs import OCI_CAPABILITIES, OciBlobStore
from flowpack.backends.oci.client import OCI_MANIFEST, RegistryClient
from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError, InvalidRefName
from flowpack.cas.protocols import Capabilities, Token
from flowpack.cas.refname import check_ref_name
from flowpack.cas.refvalue import decode_ref_value, encode_ref_value

__all__ = ["OciRefStore"]

log = logging.getLogger(__name__)


class OciRefStore:
    """A :class:`~flowpack.cas.protocols.RefStore` in the repository of ``blobs``."""

    def __init__(self, client: RegistryClient, blobs: OciBlobStore) -> None:
        self.client = client
        self.blobs = blobs
        self.repo = blobs.repo

    @property
    def capabilities(self) -> Capabilities:
        return OCI_CAPABILITIES

    def _tag(self, name: str) -> str:
        return tags.encode_tag(tags.REF, check_ref_name(name))

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The value and token of ``name``, or None; :class:`MalformedData` if damaged."""
        found = self.client.get_manifest(self.repo, self._tag(name))
        if found is None:
            return None
        doc = artifacts.parse_manifest(found.raw, f"ref {name!r}")
        line = artifacts.ref_annotation(doc, name)
        return decode_ref_value((line + "\n").encode("ascii", "replace"), name), found.digest

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """The refs under ``prefix`` that the tag list shows, sorted; one read per ref."""
        names = sorted(
            n
            for n in (tags.decode_tag(tags.REF, t) for t in self.client.list_tags(self.repo))
            if n is not None and n.startswith(prefix) and _is_ref_name(n)
        )
        out: list[tuple[str, Digest]] = []
        for name in names:
            found = self.read(name)
            if found is not None:  # else deleted since the listing
                out.append((name, found[0]))
        return iter(out)

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """Read, compare, write, re-read (not atomic: ``atomic_cas=False``).

        Returns False, writing nothing, when the tag's manifest is not ``expected``; and False
        after writing when the re-read finds another writer's manifest (a lost update, logged).
        """
        tag = self._tag(name)
        if self.client.manifest_digest(self.repo, tag) != expected:
            return False
        self.blobs.ensure_empty_config()
        value = encode_ref_value(new).decode("ascii").strip()
        pushed = self.blobs.take_pushed()
        raw = artifacts.ref_manifest(name, value, expected, uuid.uuid4().hex, pushed)
        try:
            mine = self.client.put_manifest(self.repo, tag, raw, OCI_MANIFEST)
        except BaseException:
            self.blobs.give_back(pushed)  # the next update's manifest lists them instead
            raise
        after = self.client.manifest_digest(self.repo, tag)
        if after != mine:
            log.warning(
                "ref %s: lost update: another writer replaced %s with %s at the same time",
                name,
                mine,
                after,
            )
            return False
        self._tag_push(new, value, pushed)
        return True

    def _tag_push(self, new: Digest, value: str, pushed: list[artifacts.Descriptor]) -> None:
        """Tag the push by the value's digest, once; the ref update is already done, so a
        failure here is logged, not raised."""
        tag = tags.digest_tag(new)
        try:
            if self.client.manifest_digest(self.repo, tag) is None:
                raw = artifacts.push_manifest(value, pushed)
                self.client.put_manifest(self.repo, tag, raw, OCI_MANIFEST)
        except FlowpackError as exc:
            log.warning("could not tag the push of %s: %s", new, exc)

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """Delete the ref if its manifest is still ``expected``; False otherwise."""
        tag = self._tag(name)
        if self.client.manifest_digest(self.repo, tag) != expected:
            return False
        if not self.client.delete_manifest(self.repo, expected):
            return False
        return self.client.manifest_digest(self.repo, tag) is None


def _is_ref_name(name: str) -> bool:
    try:
        check_ref_name(name)
    except InvalidRefName:
        return False
    return True
