"""The registration verb: plan, load, group by storage, register, report; and its races."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowfixtures import make_project, reopen

from flowpack.cas.digest import Digest
from flowpack.cas.errors import UsageError
from flowpack.cas.store import PushResult, Store
from flowpack.packer import FlowStorage
from flowpack.packer.flowstorage import flow_storage
from flowpack.packer.records import read_registration, registrations
from flowpack.packer.register import REGISTERED, SKIPPED, RegisterResult, register_flow
from flowpack.packer.registration import (
    PathNotFound,
    RegistrationReport,
    Source,
    expand,
    register,
)
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage import Local
from flowpack.storage.defaults import default_storage, storage_for

TWO_FLOWS = """\
from flowpack import Flow, task
from flowpack.storage import Local


@task
def one():
    return 1


with Flow("first") as first:
    one()
with Flow("second") as second:
    one()
with Flow("third") as third:
    one()
second.storage = Local(stored_as_script=False, labels=["own"])
"""


class Recorder:
    """Every event, in order, as text."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def processing(self, source: str) -> None:
        self.seen.append(f"processing {source}")

    def load_failed(self, source: str, error: Exception) -> None:
        self.seen.append(f"load_failed {source} {type(error).__name__}")

    def no_flows(self, source: str) -> None:
        self.seen.append(f"no_flows {source}")

    def building(self, storage: FlowStorage) -> None:
        self.seen.append(f"building {storage.name} {','.join(storage.labels)}")

    def registering(self, flow: str) -> None:
        self.seen.append(f"registering {flow}")

    def registered(self, result: RegisterResult) -> None:
        self.seen.append(f"registered {result.flow} {result.status}")

    def failed(self, flow: str, error: Exception) -> None:
        self.seen.append(f"failed {flow} {type(error).__name__}")

    def publishing(self, storage: FlowStorage) -> None:
        self.seen.append(f"publishing {storage.name}")

    def published(self, storage: FlowStorage) -> None:
        self.seen.append(f"published {storage.name}")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "p")
    (root / "flows" / "many.py").write_text(TWO_FLOWS)
    (root / "flows" / "broken.py").write_text("raise RuntimeError('boom')\n")
    (root / "flows" / "empty.py").write_text("x = 1\n")
    return root


def test_register_reports_every_flow_and_failure(store: Store, tree: Path) -> None:
    events = Recorder()
    made: list[Source] = []

    def default(source: Source) -> FlowStorage:
        made.append(source)
        return default_storage(source)

    report = register(
        [str(tree / "flows")], "demo", store=store, default_storage=default, events=events
    )
    assert isinstance(report, RegistrationReport)
    assert (report.registered, report.skipped, report.ok) == (4, 0, False)
    assert [r.flow for r in report.results] == ["etl", "first", "third", "second"]
    (failure,) = report.failures
    assert failure.source.endswith("broken.py") and failure.flow is None
    assert "boom" in str(failure.error)
    host = Local().labels[0]
    flows = tree / "flows"
    assert events.seen == [
        f"processing {flows / 'broken.py'}",
        f"load_failed {flows / 'broken.py'} FlowError",
        f"processing {flows / 'empty.py'}",
        f"no_flows {flows / 'empty.py'}",
        f"processing {flows / 'etl.py'}",
        f"building Local {host}",
        "registering etl",
        "registered etl registered",
        f"processing {flows / 'helpers.py'}",
        f"no_flows {flows / 'helpers.py'}",
        f"processing {flows / 'many.py'}",
        f"building Local {host}",
        "registering first",
        "registered first registered",
        "registering third",
        "registered third registered",
        f"building Local {','.join(sorted([host, 'own']))}",
        "registering second",
        "registered second registered",
    ]
    # One default storage per source with flows lacking their own (empty sources make none).
    assert [s.display for s in made if isinstance(s, ScriptSource)] == [
        str(flows / "etl.py"),
        str(flows / "many.py"),
    ]
    again = register([str(tree / "flows")], "demo", store=store, default_storage=default_storage)
    assert (again.registered, again.skipped, len(again.failures)) == (0, 4, 1)
    assert all(r.status == SKIPPED and r.bytes_uploaded == 0 for r in again.results)


def test_a_store_that_fails_to_open_fails_each_flow_and_no_flow_opens_nothing(
    tree: Path,
) -> None:
    opened: list[int] = []

    def broken() -> Store:
        opened.append(1)
        raise UsageError("no such store")

    empty = register(
        [str(tree / "flows" / "empty.py")], "d", store=broken, default_storage=default_storage
    )
    assert empty.ok and not empty.results and opened == []
    report = register(
        [str(tree / "flows" / "many.py")], "d", store=broken, default_storage=default_storage
    )
    assert [(f.flow, str(f.error)) for f in report.failures] == [
        ("first", "no such store"),
        ("third", "no such store"),
        ("second", "no such store"),
    ]
    assert len(opened) == 3


def test_paths_that_name_nothing_raise_before_anything_loads(store: Store, tree: Path) -> None:
    events = Recorder()
    with pytest.raises(PathNotFound, match="no such file") as caught:
        register(
            [str(tree / "flows"), "nope.py"],
            "d",
            store=store,
            default_storage=default_storage,
            events=events,
        )
    assert caught.value.path == "nope.py" and events.seen == []
    with pytest.raises(PathNotFound, match="matches no file"):
        expand(str(tree / "zz*.py"))
    with pytest.raises(UsageError, match="at least one path or module"):
        register([], "d", store=store, default_storage=default_storage)
    assert expand(str(tree / "flows" / "e*.py")) == [
        str(tree / "flows" / "empty.py"),
        str(tree / "flows" / "etl.py"),
    ]


def test_asking_for_a_flows_storage_opens_no_store(tmp_path: Path) -> None:
    class Holder:
        name = "holder"

    holder = Holder()
    own = Local(directory=str(tmp_path / "own"))
    holder.storage = own  # type: ignore[attr-defined]
    assert flow_storage(holder) is own
    assert own._store is None  # the store property was not run
    holder.storage = Local  # type: ignore[attr-defined]  # a class is not a storage
    assert flow_storage(holder) is None
    holder.storage = object()  # type: ignore[attr-defined]
    assert flow_storage(holder) is None
    assert isinstance(storage_for(holder), Local)


class RivalFirst:
    """A storage that lets a rival register the same flow while this one packs: the rival's
    record lands between this registration's read of the ref and its compare-and-set."""

    def __init__(self, inner: Local, rival: Any) -> None:
        self.inner = inner
        self.rival = rival
        self.name = inner.name
        self.labels = inner.labels
        self.secrets = inner.secrets

    @property
    def store(self) -> Store:
        return self.inner.store

    def bind(self, store: Store) -> None:
        self.inner.bind(store)

    def pack(
        self, flow: Any, *, source: ScriptSource | None = None, parent: Digest | None = None
    ) -> PushResult:
        self.rival()
        return self.inner.pack(flow, source=source, parent=parent)


def test_a_lost_race_rechains_the_record_on_the_winner(store: Store, tmp_path: Path) -> None:
    mine, theirs = make_project(tmp_path / "mine", offset=1), make_project(tmp_path / "theirs", 9)
    rival_store = reopen(store)
    won: list[RegisterResult] = []

    def rival() -> None:
        source = ScriptSource.from_path(theirs / "flows" / "etl.py")
        (flow,) = collect(source)
        won.append(
            register_flow(
                rival_store, flow, project="demo", storage=storage_for(flow, source), source=source
            )
        )

    source = ScriptSource.from_path(mine / "flows" / "etl.py")
    (flow,) = collect(source)
    storage = RivalFirst(Local(stored_as_script=True), rival)
    result = register_flow(store, flow, project="demo", storage=storage, source=source)
    (winner,) = won
    assert result.status == REGISTERED and winner.status == REGISTERED
    assert (winner.version, result.version) == (1, 2)  # re-decided on the winner's record
    assert store.refs.get("flows/demo/etl") == result.record
    assert read_registration(store, result.record).parent == winner.record
    chain = [r.digest for r in registrations(store, result.record)]
    assert chain == [result.record, winner.record]


def test_a_seed_storage_is_a_flow_storage() -> None:
    storage: FlowStorage = Local()  # checked by mypy; and at run time:
    holder = type("F", (), {"storage": storage, "name": "f"})()
    assert flow_storage(holder) is storage
