"""Offline audit of an exported history: every kind of tampering is named.

The auditor has only the export file and the publisher's public key.  The attacker can write
anything to the store (records, signatures, refs) but does not hold the publisher's key.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from auditfixtures import History, make_history, register, set_offset
from click.testing import CliRunner

from flowpack.cas.digest import Digest
from flowpack.cas.errors import IntegrityError
from flowpack.cas.store import Store
from flowpack.cli.main import cli
from flowpack.packer import keys
from flowpack.packer.audit import AuditReport, audit_export
from flowpack.packer.records import (
    read_registration,
    read_run,
    registrations,
    runs,
    write_registration,
    write_run,
)
from flowpack.packer.signing import CONTEXT, SIGNATURE, signature_ref


@pytest.fixture
def history(store: Store, tmp_path: Path) -> History:
    keys.generate()
    return make_history(store, tmp_path)


@pytest.fixture
def pubfile(history: History, tmp_path: Path) -> Path:
    path = tmp_path / "publisher.pub"
    path.write_text(f"{keys.public()}\n")
    return path


def export(store: Store, tmp_path: Path, name: str = "history.fpk") -> Path:
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["--store", store.url or "", "export", "demo/etl", "-o", out])
    assert result.exit_code == 0, result.output
    return out


def audit(path: Path, pubfile: Path) -> AuditReport:
    return audit_export(path, keys.read_public_file(pubfile))


def as_attacker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_key: bool) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "attacker"))
    if with_key:
        keys.generate()


def _reg_meta(store: Store, digest: Digest) -> tuple[dict[str, Any], Digest]:
    meta = dict(store.get_manifest(digest).metadata)
    bundle = read_registration(store, digest).bundle
    return {k: v for k, v in meta.items() if k not in ("bundle", "parent")}, bundle


def rechain(store: Store, metas: list[tuple[dict[str, Any], Digest]]) -> list[Digest]:
    """Write registration records oldest first, each on the one before; move the ref."""
    parent: Digest | None = None
    out = []
    for meta, bundle in metas:
        parent = write_registration(store, meta, bundle, parent)
        out.append(parent)
    assert parent is not None
    store.set_ref("flows/demo/etl", parent)
    return out


def chain(store: Store) -> list[Digest]:
    """The registration records, oldest first."""
    return [r.digest for r in registrations(store, store.refs.get("flows/demo/etl"))][::-1]


def problems(report: AuditReport) -> str:
    return "\n".join(report.problems)


def test_an_intact_export_passes_offline(history: History, tmp_path: Path, pubfile: Path) -> None:
    path = export(history.store, tmp_path)
    report = audit(path, pubfile)
    assert report.ok, report.problems
    assert len(report.registrations) == 3 and len(report.runs) == 3
    assert len(report.signatures) == 6 and all(s.valid for s in report.signatures)
    assert {t.status for t in report.trust.values()} == {"trusted"}
    assert len(report.bundles) == 3
    # The CLI, with a store URL that does not exist: only the file and the key are used.
    result = CliRunner().invoke(
        cli,
        ["--store", "memory://nothing-here", "audit", "--bundle", path, "--trusted-key", pubfile],
    )
    assert result.exit_code == 0, result.output
    assert "Audit passed" in result.output and "trusted" in result.output
    page = tmp_path / "offline.html"
    result = CliRunner().invoke(
        cli,
        [
            "audit",
            "--bundle",
            path,
            "--trusted-key",
            pubfile,
            "--html",
            page,
            "--format",
            "in-toto",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3
    assert 'class="pass" id="verdict"' in page.read_text()


def test_a_rewritten_record_is_named(
    history: History, tmp_path: Path, pubfile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = history.store
    v1, v2, v3 = chain(store)
    as_attacker(tmp_path, monkeypatch, with_key=False)
    meta2, bundle2 = _reg_meta(store, v2)
    meta2["labels"] = ["approved-by-security"]
    new = rechain(store, [_reg_meta(store, v1), (meta2, bundle2), _reg_meta(store, v3)])
    report = audit(export(store, tmp_path), pubfile)
    text = problems(report)
    assert f"registration record {new[1]} (v2) is unsigned" in text
    assert f"registration record {new[2]} (v3) is unsigned" in text
    assert f"registration record {v2} is signed by key" in text and "not in its chain" in text
    assert f"registration record {v3} is signed" in text


def test_a_reordered_chain_is_named(
    history: History, tmp_path: Path, pubfile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = history.store
    v1, v2, v3 = chain(store)
    as_attacker(tmp_path, monkeypatch, with_key=False)
    new = rechain(store, [_reg_meta(store, v1), _reg_meta(store, v3), _reg_meta(store, v2)])
    report = audit(export(store, tmp_path), pubfile)
    text = problems(report)
    assert f"registration {new[2]}: version 2 after version 3" in text
    assert f"registration record {new[1]} (v3) is unsigned" in text
    assert f"registration record {v2} is signed" in text and "reordered" in text


def test_a_dropped_record_is_named(
    history: History, tmp_path: Path, pubfile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = history.store
    v1, v2, v3 = chain(store)
    as_attacker(tmp_path, monkeypatch, with_key=False)
    new = rechain(store, [_reg_meta(store, v1), _reg_meta(store, v3)])
    report = audit(export(store, tmp_path), pubfile)
    text = problems(report)
    assert f"registration {new[1]}: version 3 after version 1" in text
    assert f"registration record {v2} is signed by key" in text and "dropped" in text
    # A run dropped from the run chain is named the same way.
    run_list = [r for r in runs(store, store.refs.get("runs/demo/etl"))][::-1]
    first = run_list[0]
    meta = {
        k: v
        for k, v in store.get_manifest(run_list[2].digest).metadata.items()
        if k not in ("bundle", "registration", "parent")
    }
    kept = write_run(store, meta, run_list[2].bundle, run_list[2].registration, first.digest)
    store.set_ref("runs/demo/etl", kept)
    report = audit(export(store, tmp_path, "h2.fpk"), pubfile)
    text = problems(report)
    assert f"run record {run_list[1].digest} is signed by key" in text
    assert f"run record {kept} (run of v3 at {read_run(store, kept).start}) is unsigned" in text


def test_a_forged_record_is_named_with_its_key(
    history: History, tmp_path: Path, pubfile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = history.store
    as_attacker(tmp_path, monkeypatch, with_key=True)
    mallory = keys.public()
    set_offset(history.root, 666)
    forged = register(store, history.root)  # a real registration, signed by the attacker
    report = audit(export(store, tmp_path), pubfile)
    text = problems(report)
    assert f"registration record {forged.record} (v4)" in text
    assert f"signed only by untrusted key(s) {mallory.key_id}" in text
    assert report.trust[forged.record].status == "untrusted"
    assert len(report.problems) == 1


def test_a_forged_signature_is_named(
    history: History, tmp_path: Path, pubfile: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = history.store
    as_attacker(tmp_path, monkeypatch, with_key=False)
    set_offset(history.root, 42)
    forged = register(store, history.root)  # unsigned: the attacker has no key
    publisher = keys.PublicKey.parse(pubfile.read_text())
    head = store.refs.get(signature_ref("demo", "etl"))
    meta = {
        "record": str(forged.record),
        "record_kind": "flowpack.registration.v1",
        "algorithm": "ed25519",
        "context": CONTEXT,
        "key": str(publisher),
        "key_id": publisher.key_id,
        "signature": base64.b64encode(b"\x01" * 64).decode(),
        "parent": str(head),
    }
    assert head is not None
    sig = store.put_files([], kind=SIGNATURE, metadata=meta, links=[forged.record, head]).digest
    store.set_ref(signature_ref("demo", "etl"), sig)
    report = audit(export(store, tmp_path), pubfile)
    text = problems(report)
    assert f"signature {sig} of registration record {forged.record} does not verify" in text
    assert f"registration record {forged.record} (v4) is unsigned" in text


def test_damaged_export_bytes_are_refused(history: History, tmp_path: Path, pubfile: Path) -> None:
    path = export(history.store, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        audit(path, pubfile)
    result = CliRunner().invoke(
        cli, ["--store", "memory://none", "audit", "--bundle", path, "--trusted-key", pubfile]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1


def test_without_a_trusted_key_unsigned_records_are_noted(store: Store, tmp_path: Path) -> None:
    make_history(store, tmp_path, count=1)  # no key: unsigned
    path = export(store, tmp_path)
    report = audit_export(path)
    assert report.ok and len(report.notes) == 2
    assert all("is unsigned" in n for n in report.notes)
    result = CliRunner().invoke(cli, ["--store", "memory://x", "audit", "--bundle", path])
    assert result.exit_code == 0 and "note: registration record" in result.output
    assert "no trusted key given" in result.output
