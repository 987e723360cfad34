"""Registration: versions follow digests, unchanged flows cost nothing, records form a chain."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flowfixtures import FLOW, make_project

from flowpack import __version__
from flowpack.cas.errors import FlowError
from flowpack.cas.opening import open_store
from flowpack.cas.store import Store
from flowpack.cas.verify import verify
from flowpack.packer.environment import parse_time
from flowpack.packer.records import REGISTRATION, read_registration, registrations
from flowpack.packer.register import REGISTERED, SKIPPED, RegisterResult, register_flow
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage import Local
from flowpack.storage.defaults import storage_for


def register(store: Store, project: Path, **kw: Any) -> RegisterResult:
    """Load the sample flow from ``project`` as ``flowpack register -p`` does, and register it."""
    source = ScriptSource.from_path(project / "flows" / "etl.py")
    (flow,) = collect(source)
    kw.setdefault("project", "demo")
    return register_flow(store, flow, source=source, storage=storage_for(flow, source), **kw)


def test_first_registration(store: Store, project: Path) -> None:
    r = register(store, project, labels=["team-a"])
    assert (r.status, r.version, r.flow, r.project) == (REGISTERED, 1, "etl", "demo")
    assert r.storage == "Local"
    assert r.bytes_uploaded > 0
    assert store.refs.get("flows/demo/etl") == r.record
    rec = read_registration(store, r.record)
    assert rec.bundle == r.bundle and rec.parent is None and rec.version == 1
    assert rec.flow_kind == "script" and rec.storage == "Local"
    assert "team-a" in rec.labels  # plus the hostname: Local's default label
    assert rec.source["path"] == str(project / "flows" / "etl.py")
    assert rec.source["files"] == [
        "flows/etl.py",
        "flows/helpers.py",
        "lib/__init__.py",
        "lib/util.py",
    ]
    assert rec.environment["flowpack"] == __version__
    assert rec.environment["interpreter"]["implementation"]
    names = [name for name, _ in rec.environment["distributions"]]
    assert "flowpack" in names and "cloudpickle" in names and names == sorted(names)
    parse_time(rec.time)
    manifest = store.get_manifest(r.record)
    assert manifest.kind == REGISTRATION and manifest.links == (r.bundle,)


def test_unchanged_is_skipped_and_uploads_zero_bytes(store: Store, project: Path) -> None:
    first = register(store, project)
    again = register(open_store(store.url, cache_dir=None), project)
    assert again.status == SKIPPED
    assert again.bytes_uploaded == 0
    assert (again.bundle, again.record, again.version) == (first.bundle, first.record, 1)
    assert store.refs.get("flows/demo/etl") == first.record


def test_the_version_grows_only_when_the_digest_changes(store: Store, project: Path) -> None:
    v1 = register(store, project)
    (project / "flows" / "etl.py").write_text(FLOW.replace("[1, 2, 3]", "[4, 5, 6]"))
    v2 = register(store, project)
    (project / "flows" / "helpers.py").write_text("def transform(values):\n    return values\n")
    v3 = register(store, project)
    relabelled = register(store, project, labels=["new-label"])
    forced = register(store, project, labels=["new-label"], force=True)
    assert [r.version for r in (v1, v2, v3, relabelled, forced)] == [1, 2, 3, 3, 3]
    assert len({v1.bundle, v2.bundle, v3.bundle}) == 3
    assert relabelled.bundle == forced.bundle == v3.bundle
    assert relabelled.status == forced.status == REGISTERED
    # a forced registration of the same bundle uploads only its record (a delta of the last)
    assert v2.bytes_uploaded > forced.bytes_uploaded > 0
    chain = list(registrations(store, store.refs.get("flows/demo/etl")))
    assert [c.digest for c in chain] == [r.record for r in (forced, relabelled, v3, v2, v1)]
    for child, parent in itertools.pairwise(chain):
        assert store.get_manifest(child.digest).links == (child.bundle, parent.digest)
    assert verify(store).ok


def test_one_project_from_two_directories_gives_one_digest(
    store: Store, project: Path, tmp_path: Path
) -> None:
    other = shutil.copytree(project, tmp_path / "second" / "clone")
    first = register(store, project)
    second = register(store, other)
    assert second.bundle == first.bundle
    assert second.status == SKIPPED
    elsewhere = open_store((tmp_path / "other-store").as_uri(), cache_dir=None)
    assert register(elsewhere, other).bundle == first.bundle


def test_a_storage_with_its_own_directory_copies_the_bundle_over(
    store: Store, tmp_path: Path
) -> None:
    root = make_project(tmp_path / "p")
    own = tmp_path / "own-store"
    script = root / "flows" / "etl.py"
    storage = f"Local(directory={str(own)!r}, stored_as_script=True)"
    script.write_text(f"{FLOW}\nfrom flowpack.storage import Local\nflow.storage = {storage}\n")
    r = register(store, root)
    assert store.has(r.bundle)
    assert open_store(str(own), cache_dir=None).has(r.bundle)


def test_secrets_are_recorded_by_name_only(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_TEST_TOKEN", "value-that-must-not-be-stored")
    root = make_project(tmp_path / "p")
    source = ScriptSource.from_path(root / "flows" / "etl.py")
    (flow,) = collect(source)
    flow.storage = Local(stored_as_script=True, secrets=["FLOWPACK_TEST_TOKEN"])
    r = register_flow(store, flow, project="demo", source=source, storage=flow.storage)
    rec = read_registration(store, r.record)
    assert rec.secrets == ("FLOWPACK_TEST_TOKEN",)
    metadata = json.dumps(dict(store.get_manifest(r.record).metadata))
    assert "value-that-must-not-be-stored" not in metadata


def test_two_flows_whose_names_share_a_ref_are_refused(store: Store, tmp_path: Path) -> None:
    from flowpack import Flow

    register_flow(store, Flow("my flow"), project="demo", storage=Local())
    with pytest.raises(FlowError, match="holds flow 'my flow'"):
        register_flow(store, Flow("my-flow"), project="demo", storage=Local())


def test_a_pickled_flow_from_two_directories_gives_one_digest(
    store: Store, project: Path, tmp_path: Path
) -> None:
    other = shutil.copytree(project, tmp_path / "second" / "clone")
    digests = []
    for root, name in ((project, "a"), (other, "b")):
        source = ScriptSource.from_path(root / "flows" / "etl.py")
        (flow,) = collect(source)
        flow.storage = Local(stored_as_script=False)
        result = register_flow(store, flow, project=name, source=source, storage=flow.storage)
        assert result.status == REGISTERED
        digests.append(result.bundle)
    assert digests[0] == digests[1]
    assert read_registration(store, store.refs.get("flows/a/etl")).flow_kind == "pickle"
