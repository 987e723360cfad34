"""Runs leave records whatever happens; audit re-verifies both chains and every bundle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from flowfixtures import FLOW, damage, expected, make_project, remove, reopen

from flowpack.cas.digest import Digest
from flowpack.cas.errors import NotFound, UsageError
from flowpack.cas.store import Store
from flowpack.packer.audit import audit_flow
from flowpack.packer.lookup import FlowName, find_flow, find_registration
from flowpack.packer.params import read_parameters as parse_parameters
from flowpack.packer.records import (
    FAILED,
    SUCCESS,
    read_registration,
    registrations,
    runs,
    write_registration,
    write_run,
)
from flowpack.packer.register import RegisterResult, register_flow
from flowpack.packer.run import run_flow
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage.defaults import storage_for

NAME = FlowName("demo", "etl")


def register(store: Store, root: Path) -> RegisterResult:
    source = ScriptSource.from_path(root / "flows" / "etl.py")
    (flow,) = collect(source)
    return register_flow(
        store, flow, project="demo", source=source, storage=storage_for(flow, source)
    )


@dataclass
class History:
    store: Store
    versions: list[RegisterResult]  # v1, v2, v3
    runs: list[Digest]  # oldest first


@pytest.fixture
def history(store: Store, tmp_path: Path) -> History:
    """Three versions of the sample flow, each run once."""
    root = make_project(tmp_path / "p")
    versions, run_records = [], []
    for offset in (1, 2, 3):
        (root / "flows" / "helpers.py").write_text(
            f"def transform(values):\n    return [v + {offset} for v in values]\n"
        )
        versions.append(register(store, root))
        outcome = run_flow(store, "demo/etl")
        assert outcome.ok, outcome.exception
        assert list(outcome.result.values())[-1] == expected(offset)
        run_records.append(outcome.record.digest)
    return History(store, versions, run_records)


def test_a_run_record_names_exactly_what_ran(history: History) -> None:
    store = history.store
    newest = next(runs(store, store.refs.get("runs/demo/etl")))
    assert newest.digest == history.runs[-1]
    assert newest.status == SUCCESS and newest.error is None
    assert newest.bundle == history.versions[-1].bundle
    assert newest.registration == history.versions[-1].record
    assert newest.version == 3 and newest.parent == history.runs[-2]
    assert newest.start <= newest.end and newest.host and newest.interpreter["version"]
    assert store.get_manifest(newest.digest).links == (
        newest.bundle,
        newest.registration,
        history.runs[-2],
    )
    assert [r.digest for r in runs(store, store.refs.get("runs/demo/etl"))] == history.runs[::-1]


def test_older_versions_and_digests_can_be_run(history: History) -> None:
    store = history.store
    v1 = history.versions[0]
    old = run_flow(store, "etl@1")
    assert old.ok and old.record.bundle == v1.bundle
    assert list(old.result.values())[-1] == expected(1)
    assert run_flow(store, str(v1.bundle)).record.registration == v1.record
    assert run_flow(store, str(v1.record)).record.bundle == v1.bundle
    assert run_flow(store, v1.bundle.hex[:16]).record.bundle == v1.bundle
    with pytest.raises(NotFound, match="has no version 9"):
        run_flow(store, "demo/etl@9")
    with pytest.raises(NotFound, match=r"no flow registered as 'other'; registered: demo/etl"):
        run_flow(store, "other")


def test_a_failing_flow_still_leaves_its_run_record(store: Store, tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "flows" / "helpers.py").write_text(
        "def transform(values):\n    raise RuntimeError('bad data: ' + repr(values))\n"
    )
    reg = register(store, root)
    outcome = run_flow(store, "demo/etl")
    assert not outcome.ok
    assert isinstance(outcome.exception, RuntimeError)
    record = next(runs(store, store.refs.get("runs/demo/etl")))
    assert record.digest == outcome.record.digest
    assert record.status == FAILED
    assert record.error == "RuntimeError: bad data: [2, 4, 6]"
    assert record.registration == reg.record and record.bundle == reg.bundle
    assert audit_flow(store, NAME).ok


def test_a_missing_secret_fails_the_run_with_a_record(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "p")
    (root / "flows" / "etl.py").write_text(
        FLOW + "\nfrom flowpack.storage import Local\n"
        "flow.storage = Local(stored_as_script=True, secrets=['FLOWPACK_TEST_SECRET'])\n"
    )
    register(store, root)
    monkeypatch.delenv("FLOWPACK_TEST_SECRET", raising=False)
    failed = run_flow(store, "etl")
    assert failed.record.status == FAILED
    assert failed.record.error == (
        "FlowError: secret 'FLOWPACK_TEST_SECRET' is not set in the environment"
    )
    monkeypatch.setenv("FLOWPACK_TEST_SECRET", "x")
    assert run_flow(store, "etl").ok


def test_parameters_reach_the_flow_and_the_record(store: Store, tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "flows" / "etl.py").write_text(
        "from flowpack import Flow, task\nfrom flowpack.packer.flow import Parameter\n\n"
        "@task\ndef mul(x, k):\n    return [v * k for v in x]\n\n"
        "with Flow('etl') as flow:\n    mul(Parameter('x'), Parameter('k', default=2))\n"
    )
    register(store, root)
    params = parse_parameters(["x=[1, 2]", "k=10"])
    outcome = run_flow(store, "etl", params)
    assert list(outcome.result.values()) == [[10, 20]]
    assert outcome.record.parameters == {"x": [1, 2], "k": 10}
    assert parse_parameters(["name=plain text"]) == {"name": "plain text"}
    heads = dict(store.refs.iter_refs("runs/"))
    assert list(heads.values()) == [outcome.record.digest]
    # Checked against the declared parameters before anything runs or is recorded.
    with pytest.raises(UsageError, match="has no parameter 'nope' \\(its parameters: k, x\\)"):
        run_flow(store, "etl", {"nope": 1})
    with pytest.raises(UsageError, match="did you mean 'x'"):
        run_flow(store, "etl", {"xx": 1, "x": 1})
    with pytest.raises(UsageError, match="needs a value for parameter x: add --param x=VALUE"):
        run_flow(store, "etl", {"k": 1})
    assert dict(store.refs.iter_refs("runs/")) == heads  # no run record was written


def test_a_clean_history_passes_the_audit(history: History) -> None:
    report = audit_flow(reopen(history.store), find_flow(history.store, "etl"))
    assert report.ok, report.problems
    assert [r.version for r in report.registrations] == [3, 2, 1]
    assert [r.digest for r in report.runs] == history.runs[::-1]
    assert set(report.bundles) == {v.bundle for v in history.versions}


def test_audit_catches_a_record_whose_bytes_changed(history: History) -> None:
    middle = history.versions[1].record
    damage(history.store, middle)
    report = audit_flow(reopen(history.store), NAME)
    assert not report.ok
    assert any(
        p.startswith(f"registration record {middle} (parent of {history.versions[2].record})")
        and "the chain is broken here" in p
        for p in report.problems
    ), report.problems
    # the run of version 1 names a registration the broken chain no longer reaches
    assert any(f"used registration {history.versions[0].record}" in p for p in report.problems)


def test_audit_catches_a_removed_middle_record(history: History) -> None:
    middle = history.versions[1].record
    remove(history.store, middle)
    report = audit_flow(reopen(history.store), NAME)
    assert not report.ok
    assert any(
        f"registration record {middle}" in p and "cannot be read" in p for p in report.problems
    )


def test_audit_catches_a_chain_rewritten_without_its_middle_record(history: History) -> None:
    store = history.store
    v1, _, v3 = (read_registration(store, v.record) for v in history.versions)
    meta = {k: v for k, v in store.get_manifest(v3.digest).metadata.items()}
    meta.pop("bundle"), meta.pop("parent")
    forged = write_registration(store, meta, v3.bundle, v1.digest)
    store.set_ref("flows/demo/etl", forged)
    report = audit_flow(reopen(store), NAME)
    assert [r.version for r in report.registrations] == [3, 1]
    assert any(
        f"registration {forged}: version 3 after version 1 (new bundle), expected 2" in p
        for p in report.problems
    ), report.problems


def test_audit_catches_a_forged_record_whose_links_disagree(history: History) -> None:
    store = history.store
    v3 = history.versions[2]
    meta = dict(store.get_manifest(v3.record).metadata)
    meta["bundle"] = str(history.versions[0].bundle)  # claims another bundle than it links
    forged = store.put_files(
        [], kind="flowpack.registration.v1", metadata=meta, links=[v3.bundle, v3.record]
    ).digest
    store.set_ref("flows/demo/etl", forged)
    report = audit_flow(reopen(store), NAME)
    assert any("disagrees with the record's links" in p for p in report.problems), report.problems


def test_audit_catches_a_bundle_whose_stored_bytes_changed(history: History) -> None:
    store = history.store
    bundle = store.get_manifest(history.versions[0].bundle)
    damage(store, bundle.file("flows/helpers.py").chunks[0])
    report = audit_flow(reopen(store), NAME)
    assert not report.ok
    assert report.bundles[history.versions[0].bundle] is not None
    assert any(p.startswith(f"bundle {history.versions[0].bundle}") for p in report.problems)
    outcome = run_flow(reopen(store), "etl@1")  # refused before running, and recorded
    assert outcome.record.status == FAILED
    assert "damaged" in (outcome.record.error or "")


def test_audit_catches_a_run_of_a_registration_outside_the_chain(
    history: History, tmp_path: Path
) -> None:
    store = history.store
    other_root = make_project(tmp_path / "other", offset=50)
    source = ScriptSource.from_path(other_root / "flows" / "etl.py")
    (flow,) = collect(source)
    other = register_flow(
        store, flow, project="elsewhere", source=source, storage=storage_for(flow, source)
    )
    head = store.refs.get("runs/demo/etl")
    meta = dict(store.get_manifest(history.runs[-1]).metadata)
    for key in ("bundle", "registration", "parent"):
        meta.pop(key)
    stray = write_run(store, meta, other.bundle, other.record, head)
    store.set_ref("runs/demo/etl", stray)
    report = audit_flow(reopen(store), NAME)
    assert any(
        f"run {stray} used registration {other.record}, which is not in the registration chain" in p
        for p in report.problems
    ), report.problems
    assert find_registration(store, "elsewhere/etl").digest == other.record
    assert len(list(registrations(store, store.refs.get("flows/elsewhere/etl")))) == 1
