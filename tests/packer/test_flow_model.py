"""The flow model runs the seed examples, and flow discovery tells flows from look-alikes."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from flowpack import Flow, task
from flowpack.cas.errors import FlowError
from flowpack.packer.discover import FlowNotFound, find_flows, is_flow, pick_flow
from flowpack.packer.flow import Parameter

REPO = Path(__file__).resolve().parents[2]


def test_seed_example_runs_tasks_in_dependency_order(capsys: pytest.CaptureFixture[str]) -> None:
    @task
    def get_data():
        return [1, 2, 3, 4, 5]

    @task
    def print_data(data):
        print(data)

    with Flow("example") as flow:
        data = get_data()
        print_data(data)

    assert capsys.readouterr().out == ""  # building runs nothing
    result = flow.run()
    assert capsys.readouterr().out == "[1, 2, 3, 4, 5]\n"
    assert result[data] == [1, 2, 3, 4, 5]
    assert [t.name for t in flow.tasks] == ["get_data", "print_data"]


def test_tasks_are_plain_functions_outside_a_flow() -> None:
    @task(name="double")
    def twice(x):
        return 2 * x

    assert twice(4) == 8
    assert twice.name == "double"


def test_arguments_nest_and_parameters_take_run_values() -> None:
    order: list[str] = []

    @task
    def source(n):
        order.append("source")
        return list(range(n))

    @task
    def combine(parts, factor=1):
        order.append("combine")
        return [sum(p) * factor for p in parts]

    with Flow("params") as flow:
        n = Parameter("n", default=3)
        factor = Parameter("factor")
        a = source(n)
        b = source(2)
        total = combine([a, b], factor=factor)

    assert flow.run(parameters={"factor": 10})[total] == [30, 10]
    assert flow.run(n=4, factor=1)[total] == [6, 1]
    assert order == ["source", "source", "combine"] * 2
    with pytest.raises(ValueError, match="needs a value for parameter 'factor'"):
        flow.run()
    with pytest.raises(ValueError, match="has no parameter 'x'"):
        flow.run(x=1, factor=1)


def test_a_task_exception_propagates() -> None:
    @task
    def boom():
        raise RuntimeError("task failed")

    with Flow("failing") as flow:
        boom()
    with pytest.raises(RuntimeError, match="task failed"):
        flow.run()


def test_the_example_script_runs_directly() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "examples" / "flows" / "my_flow.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout == "[1, 2, 3, 4, 5]\n"


class Flow1Shape:
    """The shape of a Prefect 1 flow: a name, run() and tasks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: list[object] = []

    def run(self) -> None:
        return None


def foreign_flow(name: str) -> object:
    """An instance of another framework's class named ``Flow`` (the Prefect 2/3 case)."""
    cls = type("Flow", (), {"__init__": lambda self, n: setattr(self, "name", n)})
    return cls(name)


def test_is_flow_accepts_flows_of_any_framework_and_rejects_look_alikes() -> None:
    @task
    def t():
        return 1

    assert is_flow(Flow("own"))
    assert is_flow(foreign_flow("prefect-2-or-3-shaped"))
    assert is_flow(Flow1Shape("prefect-1-shaped"))
    for other in (
        Path("x.py"),
        logging.getLogger("x"),
        threading.Thread(name="x"),
        t,
        Flow,
        foreign_flow(""),
    ):
        assert not is_flow(other), other


def test_find_and_pick_flows_by_name_else_first() -> None:
    a, b = Flow("a"), Flow("b")
    flows = find_flows({"x": Path("p"), "first": a, "again": a, "second": b})
    assert flows == [a, b]
    assert pick_flow(flows, None, "f.py") is a
    assert pick_flow(flows, "b", "f.py") is b
    with pytest.raises(FlowNotFound, match=r"flow 'c' not found in f.py; found: 'a', 'b'"):
        pick_flow(flows, "c", "f.py")
    with pytest.raises(ValueError, match=r"no flows found in empty\.py"):
        pick_flow([], None, "empty.py")
    with pytest.raises(FlowError, match="2 different flows are named 'a'"):
        pick_flow([a, Flow("a")], "a", "f.py")
