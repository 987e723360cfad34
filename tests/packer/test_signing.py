"""Keys in the user's config directory; registrations and runs signed; signatures kept."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from auditfixtures import make_history
from click.testing import CliRunner

from flowpack.cas.errors import AlreadyExists, MalformedData, NotFound
from flowpack.cas.gc import collect
from flowpack.cas.opening import open_store
from flowpack.cas.store import Store
from flowpack.cli.main import cli
from flowpack.packer import keys
from flowpack.packer.records import REGISTRATION, RUN, registrations, runs
from flowpack.packer.signing import message, signature_ref, signatures


def _private_secrets() -> list[bytes]:
    """The private key in every spelling it could leak in: PEM body, raw, base64, hex."""
    from cryptography.hazmat.primitives import serialization

    pem = (keys.keys_dir() / "default.key").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    raw = private.private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    body = b"".join(pem.splitlines()[1:-1])
    return [body, body[:40], raw, base64.b64encode(raw), raw.hex().encode()]


def test_generate_keeps_the_private_key_private(tmp_path: Path) -> None:
    public = keys.generate()
    folder = tmp_path / "config" / "flowpack" / "keys"
    assert keys.keys_dir() == folder
    assert stat.S_IMODE((folder / "default.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (folder / "default.pub").read_text() == f"{public}\n"
    assert keys.public() == public and str(public).startswith("ed25519:")
    assert keys.PublicKey.parse(str(public)) == public
    with pytest.raises(AlreadyExists):
        keys.generate()
    assert keys.generate(force=True) != public
    assert "PRIVATE" not in repr(keys.load()) and str(keys.load().public) in repr(keys.load())


def test_a_key_others_can_read_is_refused_without_showing_it() -> None:
    keys.generate()
    path = keys.keys_dir() / "default.key"
    os.chmod(path, 0o644)
    with pytest.raises(MalformedData, match="readable by others") as err:
        keys.load()
    assert all(s.decode() not in str(err.value) for s in _private_secrets()[:1])
    os.chmod(path, 0o600)
    path.write_bytes(b"not a key")
    with pytest.raises(MalformedData, match="is not an ed25519 key") as err:
        keys.load()
    assert "not a key" not in str(err.value).split("is not")[1]
    with pytest.raises(NotFound, match="flowpack key generate"):
        keys.load("other")


def test_cli_key_generate_and_public(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["key", "generate"], catch_exceptions=False)
    assert made.exit_code == 0, made.output
    shown = runner.invoke(cli, ["key", "public"], catch_exceptions=False)
    assert shown.output == made.output and shown.output.count("\n") == 1
    assert shown.output.startswith("ed25519:")
    again = runner.invoke(cli, ["key", "generate"])
    assert again.exit_code != 0 and "exists" in again.output
    text = made.output + shown.output + again.output
    assert all(s not in text.encode() for s in _private_secrets())


def test_records_are_signed_and_the_chain_is_unchanged(store: Store, tmp_path: Path) -> None:
    public = keys.generate()
    history = make_history(store, tmp_path)
    sigs = list(signatures(store, store.refs.get(signature_ref("demo", "etl"))))
    assert len(sigs) == 6 and all(s.valid and s.key == public for s in sigs)
    signed = {(s.record, s.record_kind) for s in sigs}
    assert {(v.record, REGISTRATION) for v in history.versions} <= signed
    assert {(r, RUN) for r in history.runs} <= signed
    # A signature is a separate object: the records link no signature.
    for reg in registrations(store, store.refs.get("flows/demo/etl")):
        links = store.get_manifest(reg.digest).links
        assert links == ((reg.bundle, reg.parent) if reg.parent else (reg.bundle,))
    s = sigs[0]
    assert public.verify(s.signature, message(s.record, s.record_kind))
    assert not public.verify(s.signature, message(sigs[1].record, s.record_kind))
    # Everything stored, decompressed, and every file on disk: no trace of the private key.
    secrets = _private_secrets()
    for digest, _ in store.indexed_objects():
        data = store.get_bytes(digest)
        assert not any(sec in data for sec in secrets), digest
    for path in (tmp_path / "store").rglob("*"):
        if path.is_file():
            assert not any(sec in path.read_bytes() for sec in secrets), path


def test_without_a_key_nothing_is_signed(store: Store, tmp_path: Path) -> None:
    make_history(store, tmp_path, count=1)
    assert store.refs.get(signature_ref("demo", "etl")) is None
    assert len(list(runs(store, store.refs.get("runs/demo/etl")))) == 1


def test_gc_keeps_signatures_and_copy_carries_them(store: Store, tmp_path: Path) -> None:
    keys.generate()
    make_history(store, tmp_path, count=2)
    collect(store, grace=0)
    head = store.refs.get(signature_ref("demo", "etl"))
    assert len([s for s in signatures(store, head) if s.valid]) == 4
    other = open_store((tmp_path / "copy").as_uri(), cache_dir=None)
    result = CliRunner().invoke(
        cli, ["--store", store.url or "", "copy", store.url or "", other.url or ""]
    )
    assert result.exit_code == 0, result.output
    other = open_store((tmp_path / "copy").as_uri(), cache_dir=None)
    assert [s.digest for s in signatures(other, other.refs.get(signature_ref("demo", "etl")))] == [
        s.digest for s in signatures(store, head)
    ]


def test_a_private_key_given_as_a_public_key_is_not_echoed(store: Store) -> None:
    keys.generate()
    private = keys.keys_dir() / "default.key"
    runner = CliRunner()
    for argv in (
        ["--store", store.url or "", "trust", "add", str(private)],
        ["--store", store.url or "", "audit", "demo/etl", "--trusted-key", str(private)],
    ):
        result = runner.invoke(cli, argv)
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert not any(s in result.output.encode() for s in _private_secrets())
