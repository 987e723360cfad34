"""Script bundles: deterministic digests, helper modules carried along, verified loading."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from flowfixtures import FLOW, damage, expected, make_project, reopen

from flowpack.cas.errors import FlowError, IntegrityError
from flowpack.cas.store import Store
from flowpack.packer.bundle import read_bundle
from flowpack.packer.discover import FlowNotFound
from flowpack.packer.loading import load_flow
from flowpack.packer.run import execute
from flowpack.packer.script import ScriptSource, collect, pack_script


def pack(store: Store, project: Path, **kw: object) -> tuple[object, int]:
    source = ScriptSource.from_path(project / "flows" / "etl.py")
    result = pack_script(store, source, "etl", **kw)  # type: ignore[arg-type]
    return result.digest, result.bytes_uploaded


def run_bundle(store: Store, digest: object, name: str | None = None) -> object:
    loaded = load_flow(reopen(store), digest, name)  # type: ignore[arg-type]
    assert loaded.scope is not None
    with loaded.scope.active():
        result = execute(loaded.flow, {})
    return list(result.values())[-1]


def test_bundle_layout_and_metadata(store: Store, project: Path) -> None:
    digest, uploaded = pack(store, project)
    assert uploaded > 0
    bundle = read_bundle(store, digest)
    assert [f.path for f in bundle.manifest.files] == [
        "flows/etl.py",
        "flows/helpers.py",
        "lib/__init__.py",
        "lib/util.py",
    ]
    assert {f.mode for f in bundle.manifest.files} == {0o644}
    assert bundle.manifest.metadata == {
        "flow": {"kind": "script", "name": "etl", "entry": "flows/etl.py", "paths": ["flows", "."]}
    }


def test_repacking_unchanged_sources_uploads_nothing(store: Store, project: Path) -> None:
    first, _ = pack(store, project)
    again, uploaded = pack(reopen(store), project, parent=first)
    assert again == first
    assert uploaded == 0


def test_changing_a_task_or_a_helper_changes_the_digest(store: Store, project: Path) -> None:
    first, _ = pack(store, project)
    (project / "flows" / "etl.py").write_text(FLOW.replace("[1, 2, 3]", "[1, 2, 3, 4]"))
    second, _ = pack(store, project, parent=first)
    (project / "lib" / "util.py").write_text("def scale(values):\n    return values\n")
    third, _ = pack(store, project, parent=second)
    assert len({first, second, third}) == 3


def test_two_checkouts_in_different_directories_give_one_digest(
    store: Store, project: Path, tmp_path: Path
) -> None:
    other = shutil.copytree(project, tmp_path / "elsewhere" / "deeper" / "checkout-b")
    (other / "flows" / "etl.py").chmod(0o755)  # the executable bit is not content
    assert pack(store, project)[0] == pack(store, other)[0]


def test_a_loaded_bundle_runs_with_its_own_helper_modules(store: Store, tmp_path: Path) -> None:
    one = make_project(tmp_path / "one", offset=1)
    two = make_project(tmp_path / "two", offset=100)
    d1, _ = pack(store, one)
    d2, _ = pack(store, two)
    shutil.rmtree(one)
    shutil.rmtree(two)  # the sources are gone: only the bundles remain
    assert run_bundle(store, d1) == expected(1)
    assert run_bundle(store, d2) == expected(100)
    assert run_bundle(store, d1) == expected(1)  # no stale 'helpers' from the other bundle
    assert "helpers" not in sys.modules and "lib" not in sys.modules
    assert not any("flowpack-flow-" in p for p in sys.path)


def test_collecting_does_not_leak_modules(project: Path) -> None:
    flows = collect(ScriptSource.from_path(project / "flows" / "etl.py"))
    assert [f.name for f in flows] == ["etl"]
    assert "helpers" not in sys.modules


def test_an_unknown_flow_name_lists_the_flows_present(store: Store, project: Path) -> None:
    digest, _ = pack(store, project)
    with pytest.raises(FlowNotFound, match=r"flow 'nope' not found in flows/etl.py; found: 'etl'"):
        load_flow(store, digest, "nope")


def test_damaged_bundles_are_refused_before_anything_runs(store: Store, tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    marker = tmp_path / "executed"
    (root / "flows" / "etl.py").write_text(f"open({str(marker)!r}, 'w').close()\n" + FLOW)
    digest, _ = pack(store, root)
    entry = read_bundle(store, digest).manifest.file("flows/etl.py")
    damage(store, entry.chunks[0])
    with pytest.raises(IntegrityError):
        load_flow(reopen(store), digest)
    assert not marker.exists()


def test_a_script_that_fails_to_load_is_a_flow_error(store: Store, tmp_path: Path) -> None:
    root = make_project(tmp_path / "p")
    (root / "flows" / "etl.py").write_text(FLOW + "\nraise KeyError('config missing')\n")
    digest, _ = pack(store, root)
    with pytest.raises(FlowError, match=r"error loading flows/etl.py: KeyError: 'config missing'"):
        load_flow(store, digest)
