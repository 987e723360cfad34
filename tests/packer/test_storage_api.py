"""The seed API: Storage, Local and Module, with their documented arguments and meanings."""

from __future__ import annotations

import importlib
import socket
import sys
from pathlib import Path

import pytest
from flowfixtures import expected, make_project

from flowpack import Flow, task
from flowpack.cas.errors import FlowError
from flowpack.cas.opening import open_store
from flowpack.packer.discover import FlowNotFound
from flowpack.packer.loading import load_flow
from flowpack.packer.run import execute
from flowpack.storage import Local, Module, Storage


def simple_flow(name: str, value: int = 1) -> Flow:
    @task
    def produce():
        return value

    with Flow(name) as flow:
        produce()
    return flow


def test_storage_arguments_and_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Plain(result="r", secrets=["TOKEN"], labels=["b", "a", "b"], stored_as_script=True)
    assert (s.result, s.secrets, s.stored_as_script, s.labels) == ("r", ["TOKEN"], True, ["a", "b"])
    assert s.add_default_labels is True
    assert s.flows == {} and "x" not in s
    monkeypatch.setenv("FLOWPACK_ADD_DEFAULT_LABELS", "false")
    assert Plain().add_default_labels is False


class Plain(Storage):
    """The smallest concrete storage (``Storage`` itself is abstract)."""


def test_local_adds_the_hostname_label_unless_told_not_to(tmp_path: Path) -> None:
    assert Local(directory=str(tmp_path / "s"), labels=["x"]).labels == sorted(
        ["x", socket.gethostname()]
    )
    assert Local(directory=str(tmp_path / "s"), add_default_labels=False).labels == []


def test_local_validate_makes_the_directory_absolute_and_creates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = Local(directory="flows-dir")
    assert s.directory == str(tmp_path / "flows-dir")
    assert (tmp_path / "flows-dir").is_dir()
    Local(directory="not-created", validate=False)
    assert not (tmp_path / "not-created").exists()


def test_add_flow_build_get_flow(tmp_path: Path) -> None:
    storage = Local(directory=str(tmp_path / "store"))
    location = storage.add_flow(simple_flow("one", 1))
    storage.add_flow(simple_flow("two", 2))
    assert location.startswith("blake3:") and len(location) == 71
    assert storage.flows["one"] == location and "one" in storage and "three" not in storage
    assert storage.build() is storage
    again = Local(directory=str(tmp_path / "store"))
    assert list(execute(again.get_flow(location), {}).values()) == [1]
    assert list(execute(storage.get_flow("two"), {}).values()) == [2]


def test_a_second_flow_of_the_same_name_is_refused(tmp_path: Path) -> None:
    storage = Local(directory=str(tmp_path / "store"))
    storage.add_flow(simple_flow("dup"))
    with pytest.raises(ValueError, match='Flow with the name "dup" is already present'):
        storage.add_flow(simple_flow("dup", 2))


def test_get_flow_on_an_unknown_name_lists_what_exists(tmp_path: Path) -> None:
    storage = Local(directory=str(tmp_path / "store"))
    with pytest.raises(ValueError, match="not contained in this Storage; it holds: no flows"):
        storage.get_flow("missing")
    storage.add_flow(simple_flow("alpha"))
    storage.add_flow(simple_flow("beta"))
    with pytest.raises(FlowNotFound, match=r"'missing' is not contained .* 'alpha', 'beta'"):
        storage.get_flow("missing")


def test_the_default_directory_is_the_default_store(tmp_path: Path) -> None:
    location = Local().add_flow(simple_flow("defaulted"))
    default = open_store(str(tmp_path / "data" / "flowpack" / "store"), cache_dir=None)
    assert str(default.resolve(location)) == location


def test_script_storage_bundles_the_file_given_by_path(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    storage = Local(
        directory=str(tmp_path / "store"),
        path=str(project / "flows" / "etl.py"),
        stored_as_script=True,
        include=["README.md"],
    )
    flow = simple_flow("etl")  # stands in for the flow the file defines
    assert storage.add_flow(flow) == str(project / "flows" / "etl.py")  # the seed's location
    location = storage.digest_of("etl")
    manifest = storage.store.get_manifest(storage.store.resolve(location))
    assert [f.path for f in manifest.files] == [
        "README.md",
        "flows/etl.py",
        "flows/helpers.py",
        "lib/__init__.py",
        "lib/util.py",
    ]
    assert Local(directory=str(tmp_path / "store")).get_flow(location).name == "etl"
    scoped = load_flow(storage.store, storage.store.resolve(location))
    assert scoped.scope is not None
    with scoped.scope.active():
        assert list(execute(scoped.flow, {}).values())[-1] == expected()


def test_pickle_mode_path_also_writes_a_verifiable_export(tmp_path: Path) -> None:
    out = tmp_path / "exports" / "flow.pack"
    storage = Local(directory=str(tmp_path / "a"), path=str(out))
    assert storage.add_flow(simple_flow("exported", 7)) == str(out)
    location = storage.digest_of("exported")
    assert out.is_file()
    elsewhere = Local(directory=str(tmp_path / "b"), path=str(out))
    assert list(execute(elsewhere.get_flow(location), {}).values()) == [7]


def test_secrets_are_names_resolved_from_the_environment_at_use_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = Plain(secrets=["FLOWPACK_TEST_TOKEN"])
    monkeypatch.delenv("FLOWPACK_TEST_TOKEN", raising=False)
    with pytest.raises(FlowError, match="secret 'FLOWPACK_TEST_TOKEN' is not set"):
        storage.resolve_secrets()
    monkeypatch.setenv("FLOWPACK_TEST_TOKEN", "s3cr3t-value")
    assert storage.resolve_secrets() == {"FLOWPACK_TEST_TOKEN": "s3cr3t-value"}


def test_module_storage_bundles_the_module_and_imports_it_from_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    (src / "myproject").mkdir(parents=True)
    (src / "myproject" / "__init__.py").write_text("")
    (src / "myproject" / "consts.py").write_text("FACTOR = 3\n")
    (src / "myproject" / "flows.py").write_text(
        "from flowpack import Flow, task\n"
        "from flowpack.storage import Module\n"
        "from myproject.consts import FACTOR\n\n"
        "@task\ndef compute():\n    return 14 * FACTOR\n\n"
        'with Flow("module storage example") as flow:\n    compute()\n\n'
        "flow.storage = Module(__name__)\n"
    )
    monkeypatch.syspath_prepend(str(src))
    mod = importlib.import_module("myproject.flows")
    storage = Module("myproject.flows")
    storage.bind(open_store((tmp_path / "store").as_uri(), cache_dir=None))
    assert storage.add_flow(mod.flow) == "myproject.flows"  # the seed's location
    location = storage.digest_of("module storage example")
    manifest = storage.store.get_manifest(storage.store.resolve(location))
    assert [f.path for f in manifest.files] == [
        "myproject/__init__.py",
        "myproject/consts.py",
        "myproject/flows.py",
    ]
    (src / "myproject" / "consts.py").write_text("FACTOR = 0\n")  # later edits do not matter
    for name in [m for m in sys.modules if m.startswith("myproject")]:
        del sys.modules[name]
    flow = storage.get_flow("module storage example")
    assert list(execute(flow, {}).values()) == [42]
    assert "myproject" not in sys.modules
