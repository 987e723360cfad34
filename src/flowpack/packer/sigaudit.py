"""The signature part of an audit: every signature verified, every record's signer judged.

Given the records an audit read and the flow's signature chain:

- a signature whose bytes do not verify against its key and record is *forged or damaged*;
- a valid signature for a record that is not in its chain vouches for a record that was
  *dropped* (or replaced: a rewritten or reordered chain consists of new, unsigned records);
- each record is *trusted* (a valid signature by a trusted key), *untrusted* (valid
  signatures, none by a trusted key), *signed* (valid signatures, no trusted key given to
  judge them) or *unsigned*.  With trusted keys given, untrusted and unsigned records are
  problems; without, they are notes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError
from flowpack.cas.store import Store
from flowpack.packer.keys import PublicKey
from flowpack.packer.records import REGISTRATION, RUN
from flowpack.packer.signing import Signature, parse_signature

TRUSTED = "trusted"
UNTRUSTED = "untrusted"
SIGNED = "signed"
UNSIGNED = "unsigned"


@dataclass(frozen=True)
class RecordTrust:
    """Who vouches for one record: its status and the keys whose signatures verify."""

    status: str
    keys: tuple[str, ...] = ()


@dataclass
class SignatureFindings:
    signatures: list[Signature] = field(default_factory=list)
    records: dict[Digest, RecordTrust] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_chain(store: Store, head: Digest | None, found: SignatureFindings) -> None:
    """Read the signature chain from ``head``; a break is a problem, reading stops there."""
    seen: set[Digest] = set()
    while head is not None and head not in seen:
        seen.add(head)
        try:
            sig = parse_signature(head, store.get_manifest(head))
        except FlowpackError as exc:
            found.problems.append(
                f"signature {head} cannot be read: {exc}; the signature chain is broken here"
            )
            return
        found.signatures.append(sig)
        head = sig.parent


def judge(
    found: SignatureFindings,
    chains: dict[str, list[tuple[Digest, str]]],
    trusted: Collection[PublicKey] | None,
    broken: Collection[str] = (),
) -> None:
    """Check every signature and give every record of ``chains`` (kind -> [(digest, label)])
    its :class:`RecordTrust` (see the module docstring).  ``broken``: the record kinds whose
    chain could not be read to its end (a damaged record), where a signed record that was not
    reached is not evidence of a drop."""
    in_chain = {(d, kind) for kind, records in chains.items() for d, _ in records}
    valid: dict[Digest, list[PublicKey]] = {}
    for sig in found.signatures:
        if not sig.valid:
            found.problems.append(
                f"signature {sig.digest} of {sig.record_kind.split('.')[1]} record {sig.record}"
                f" does not verify with key {sig.key} (id {sig.key.key_id}): forged or damaged"
            )
            continue
        if (sig.record, sig.record_kind) not in in_chain:
            kind = sig.record_kind.split(".")[1]
            if sig.record_kind in broken:
                found.notes.append(
                    f"{kind} record {sig.record} is signed by key {sig.key.key_id} but was not"
                    " reached: its chain is broken before it (see the damaged record)"
                )
            else:
                found.problems.append(
                    f"{kind} record {sig.record} is signed by key {sig.key.key_id} but is not"
                    " in its chain: it was dropped, or the chain was rewritten or reordered"
                )
            continue
        valid.setdefault(sig.record, []).append(sig.key)
    for kind, records in chains.items():
        what = "registration" if kind == REGISTRATION else "run"
        for digest, label in records:
            signers = valid.get(digest, [])
            found.records[digest] = status = _status(signers, trusted)
            _report(found, status, f"{what} record {digest} ({label})", trusted is not None)


def _status(signers: list[PublicKey], trusted: Collection[PublicKey] | None) -> RecordTrust:
    names = tuple(sorted({str(k) for k in signers}))
    if not signers:
        return RecordTrust(UNSIGNED)
    if trusted is None:
        return RecordTrust(SIGNED, names)
    if any(k in trusted for k in signers):
        return RecordTrust(TRUSTED, names)
    return RecordTrust(UNTRUSTED, names)


def _report(found: SignatureFindings, status: RecordTrust, what: str, judging: bool) -> None:
    if status.status == UNSIGNED:
        (found.problems if judging else found.notes).append(f"{what} is unsigned")
    elif status.status == UNTRUSTED:
        ids = ", ".join(PublicKey.parse(k).key_id for k in status.keys)
        found.problems.append(f"{what} is signed only by untrusted key(s) {ids}: forged?")


__all__ = ["REGISTRATION", "RUN", "RecordTrust", "SignatureFindings", "judge", "read_chain"]
