"""Auditing a flow: both record chains, every link, every bundle, re-verified from the bytes.

``audit_flow`` walks ``flows/<project>/<flow>`` and ``runs/<project>/<flow>`` from their refs
back to the first record, reading every record verified (a changed byte changes the digest
its child links to, so the read fails), and checks:

- every record decodes as its kind, names this flow, and its text digests agree with its links;
- registration versions follow the rule: the first is 1, and each is its parent's plus one
  exactly when the bundle changed (a record taken out of the chain, or a forged one, breaks
  this, or breaks the link to it);
- every bundle either chain names is re-read whole: manifest, every chunk, every file digest,
  and it is a flow bundle of this flow;
- every run names a registration that is in the registration chain, and that registration's
  bundle and version;
- every signature in ``signatures/<project>/<flow>`` verifies, vouches for a record that is in
  its chain, and each record's signers are judged against the trusted keys given
  (:mod:`flowpack.packer.sigaudit`).

The chains can start at the store's refs (:func:`audit_flow`) or at the heads of a history
export, read offline from the file alone (:func:`audit_export`).

Problems are collected, never raised; the report lists which exact bundle digest each run
used.  A missing or damaged record stops the walk of its chain there (nothing older can be
reached), and is reported as such.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError
from flowpack.cas.store import Store
from flowpack.packer import sigaudit
from flowpack.packer.bundle import read_bundle
from flowpack.packer.history import Heads, heads, open_export
from flowpack.packer.keys import PublicKey
from flowpack.packer.lookup import FlowName
from flowpack.packer.records import (
    REGISTRATION,
    RUN,
    Registration,
    RunRecord,
    read_registration,
    read_run,
    slug,
)
from flowpack.packer.signing import Signature

T = TypeVar("T", Registration, RunRecord)


@dataclass
class AuditReport:
    """What an audit found: the records it could read, the bundles it checked, the problems."""

    flow: FlowName
    registrations: list[Registration] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    bundles: dict[Digest, str | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    trust: dict[Digest, sigaudit.RecordTrust] = field(default_factory=dict)
    trusted_keys: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    damaged: list[tuple[str, Digest, str]] = field(default_factory=list)  # what, record, why

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": str(self.flow),
            "ok": self.ok,
            "registrations": [r.as_dict() for r in self.registrations],
            "runs": [r.as_dict() for r in self.runs],
            "bundles": {str(d): problem is None for d, problem in self.bundles.items()},
            "problems": list(self.problems),
            "notes": list(self.notes),
            "trusted_keys": self.trusted_keys,
            "signatures": [s.as_dict() for s in self.signatures],
            "signers": {
                str(d): {"status": t.status, "keys": list(t.keys)} for d, t in self.trust.items()
            },
        }


def audit_flow(
    store: Store,
    name: FlowName,
    *,
    trusted: Collection[PublicKey] | None = None,
    start: Heads | None = None,
) -> AuditReport:
    """Audit flow ``name`` in ``store`` from its refs, or from ``start`` (see the module
    docstring).  ``trusted``: the keys whose signatures count (None: signatures are verified,
    and unsigned records noted, but no signer is judged).  Never raises for damage found."""
    report = AuditReport(name, trusted_keys=sorted(map(str, trusted)) if trusted else None)
    if start is None:
        try:
            start = heads(store, name)
        except FlowpackError as exc:
            report.problems.append(f"refs of {name}: {exc}")
            start = Heads(name, None, None, None)
    report.registrations = _walk(
        store, start.registrations, read_registration, "registration", report
    )
    _check_registrations(store, report)
    report.runs = _walk(store, start.runs, read_run, "run", report)
    _check_runs(store, report)
    found = sigaudit.SignatureFindings()
    sigaudit.read_chain(store, start.signatures, found)
    chains = {
        REGISTRATION: [(r.digest, f"v{r.version}") for r in report.registrations],
        RUN: [(r.digest, f"run of v{r.version} at {r.start}") for r in report.runs],
    }
    broken = {REGISTRATION if what == "registration" else RUN for what, _, _ in report.damaged}
    sigaudit.judge(found, chains, set(trusted) if trusted else None, broken)
    report.signatures, report.trust = found.signatures, found.records
    report.problems += found.problems
    report.notes += found.notes
    return report


def audit_export(path: Path, trusted: Collection[PublicKey] | None = None) -> AuditReport:
    """Audit the flow history exported to ``path``, from the file alone (offline).

    Raises :class:`IntegrityError` when the file itself is damaged (the error names what) and
    :class:`MalformedData` when it is not a flow history export.
    """
    store, start = open_export(path)
    with store:
        return audit_flow(store, start.name, trusted=trusted, start=start)


def _walk(
    store: Store,
    head: Digest | None,
    read: Callable[[Store, Digest], T],
    what: str,
    report: AuditReport,
) -> list[T]:
    out: list[T] = []
    seen: set[Digest] = set()
    child: T | None = None
    digest = head
    while digest is not None:
        if digest in seen:
            report.problems.append(f"{what} record {digest}: the chain loops")
            break
        seen.add(digest)
        try:
            record = read(store, digest)
        except FlowpackError as exc:
            after = f" (parent of {child.digest})" if child else " (the ref's target)"
            report.problems.append(
                f"{what} record {digest}{after} cannot be read: {exc}; the chain is broken here"
            )
            report.damaged.append((what, digest, str(exc)))
            break
        if slug(record.project) != report.flow.project or slug(record.flow) != report.flow.flow:
            report.problems.append(
                f"{what} record {digest} is for {record.project}/{record.flow}, not {report.flow}"
            )
        out.append(record)
        child = record
        digest = record.parent
    return out


def _check_registrations(store: Store, report: AuditReport) -> None:
    regs = report.registrations
    for child, parent in itertools.pairwise(regs):
        expected = parent.version + (child.bundle != parent.bundle)
        if child.version != expected:
            report.problems.append(
                f"registration {child.digest}: version {child.version} after version"
                f" {parent.version} ({'new' if child.bundle != parent.bundle else 'same'} bundle),"
                f" expected {expected}: a record is missing or was altered"
            )
    if regs and regs[-1].parent is None and regs[-1].version != 1:
        report.problems.append(
            f"registration {regs[-1].digest}: the first registration has version"
            f" {regs[-1].version}, expected 1: earlier records are missing"
        )
    for r in regs:
        _check_bundle(store, r.bundle, r.flow, report)


def _check_runs(store: Store, report: AuditReport) -> None:
    by_digest = {r.digest: r for r in report.registrations}
    for run in report.runs:
        _check_bundle(store, run.bundle, run.flow, report)
        reg = by_digest.get(run.registration)
        if reg is None:
            report.problems.append(
                f"run {run.digest} used registration {run.registration}, which is not in the"
                f" registration chain of {report.flow}"
            )
            continue
        if reg.bundle != run.bundle or reg.version != run.version:
            report.problems.append(
                f"run {run.digest} claims bundle {run.bundle} version {run.version}, but its"
                f" registration names bundle {reg.bundle} version {reg.version}"
            )


def _check_bundle(store: Store, digest: Digest, flow: str, report: AuditReport) -> None:
    if digest in report.bundles:
        return
    problem: str | None = None
    try:
        bundle = read_bundle(store, digest)
        if bundle.name != flow:
            problem = f"bundle {digest} holds flow {bundle.name!r}, not {flow!r}"
        for entry in bundle.manifest.files:
            store.file_bytes(entry)
    except FlowpackError as exc:
        problem = f"bundle {digest}: {exc}"
    report.bundles[digest] = problem
    if problem:
        report.problems.append(problem)
