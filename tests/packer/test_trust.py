"""The trust policy: run and get_flow refuse unsigned or untrusted registrations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from auditfixtures import make_history, register, set_offset
from click.testing import CliRunner
from flowfixtures import make_project

from flowpack.cas.store import Store
from flowpack.cli.main import cli
from flowpack.packer import keys, trust
from flowpack.packer.run import run_flow
from flowpack.storage.local import Local


def _other_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> keys.PublicKey:
    """A second user's key (their own config directory), then back to ours."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "mallory"))
    public = keys.generate()
    return public


def test_no_policy_runs_anything(store: Store, tmp_path: Path) -> None:
    make_history(store, tmp_path, count=1)
    assert run_flow(store, "demo/etl").ok


def test_unsigned_registration_is_refused_naming_the_record(store: Store, tmp_path: Path) -> None:
    history = make_history(store, tmp_path, count=1)  # no key yet: unsigned
    ours = keys.generate()
    trust.add_key(store, ours)
    runs_before = store.refs.get("runs/demo/etl")
    with pytest.raises(trust.UntrustedFlow, match="is unsigned") as err:
        run_flow(store, "demo/etl")
    assert str(history.versions[0].record) in str(err.value)
    assert store.refs.get("runs/demo/etl") == runs_before  # nothing ran, nothing recorded
    set_offset(history.root, 9)
    register(store, history.root)  # signed by our key now
    assert run_flow(store, "demo/etl").ok


def test_untrusted_signer_is_refused_naming_the_key(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = keys.generate()
    theirs = _other_key(tmp_path, monkeypatch)
    make_history(store, tmp_path, count=1)  # registered and signed by "theirs"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    trust.add_key(store, ours)
    with pytest.raises(trust.UntrustedFlow, match="not trusted") as err:
        run_flow(store, "demo/etl")
    assert str(theirs) in str(err.value) and theirs.key_id in str(err.value)
    assert "registration blake3:" in str(err.value)
    # Trusting them for another project does not help; for this project it does.
    trust.add_key(store, theirs, project="other")
    with pytest.raises(trust.UntrustedFlow):
        run_flow(store, "demo/etl")
    trust.add_key(store, theirs, project="demo")
    assert run_flow(store, "demo/etl").ok
    trust.remove_key(store, theirs, project="demo")
    with pytest.raises(trust.UntrustedFlow):
        run_flow(store, "demo/etl")


def test_a_policy_for_one_project_leaves_the_others_alone(store: Store, tmp_path: Path) -> None:
    make_history(store, tmp_path, count=1)  # project demo, unsigned
    trust.add_key(store, keys.generate(), project="elsewhere")
    assert run_flow(store, "demo/etl").ok


def test_get_flow_refuses_untrusted_bundles(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_STORE", store.url or "")
    root = make_project(tmp_path / "q")
    result = register(store, root)  # unsigned
    storage = Local()
    assert storage.get_flow(str(result.bundle)).name == "etl"
    trust.add_key(store, keys.generate())
    storage = Local()
    with pytest.raises(trust.UntrustedFlow, match=str(result.record)):
        storage.get_flow(str(result.bundle))
    set_offset(root, 5)
    signed = register(store, root)
    assert Local().get_flow(str(signed.bundle)).name == "etl"


def test_cli_trust_and_refusal(store: Store, tmp_path: Path) -> None:
    make_history(store, tmp_path, count=1)
    runner = CliRunner()
    url = store.url or ""
    public = runner.invoke(cli, ["key", "generate"]).output.strip()
    keyfile = tmp_path / "ours.pub"
    keyfile.write_text(public + "\n")
    added = runner.invoke(cli, ["--store", url, "trust", "add", str(keyfile)])
    assert added.exit_code == 0 and public in added.output
    listed = runner.invoke(cli, ["--store", url, "trust", "list"])
    assert f"*\t{public}" in listed.output
    refused = runner.invoke(cli, ["--store", url, "run", "demo/etl"])
    assert refused.exit_code == 1 and "is unsigned" in refused.output
    assert "Traceback" not in refused.output
    bad = runner.invoke(cli, ["--store", url, "trust", "add", "ed25519:nope"])
    assert bad.exit_code != 0 and "not an ed25519 public key" in bad.output
    assert os.path.exists(trust.policy_path())


def test_a_bundle_other_than_the_signed_one_is_refused(store: Store, tmp_path: Path) -> None:
    from flowpack.packer.lookup import find_registration
    from flowpack.packer.run import run_registration

    keys.generate()
    history = make_history(store, tmp_path, count=2)  # both signed
    assert not trust.required(store, "demo")
    trust.add_key(store, keys.public())
    assert trust.required(store, "demo")
    newest = find_registration(store, "demo/etl")
    older = history.versions[0].bundle
    with pytest.raises(trust.UntrustedFlow, match="no trusted key signed it") as err:
        run_registration(store, newest, bundle=older)
    assert str(older) in str(err.value) and str(newest.digest) in str(err.value)
    assert run_registration(store, newest).ok
