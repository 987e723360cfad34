"""``flowpack run`` with Prefect 1.x's run options, and ``runs`` showing them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker

FLOW = """\
import logging
from flowpack import Flow, Parameter, task

@task
def mul(x, k):
    logging.getLogger("etl").debug("level %s", logging.getLogger().level)
    print("product", [v * k for v in x])
    return [v * k for v in x]

with Flow("etl") as flow:
    mul(Parameter("x"), Parameter("k", default=2))
"""


@pytest.fixture
def run(file_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "etl.py").write_text(FLOW)
    monkeypatch.chdir(root)
    invoke = make_invoker(file_store)
    invoke("project", "create", "Data")
    invoke("register", "-p", "etl.py", "--project", "Data")
    return invoke


def test_params_files_names_labels_and_level_reach_the_run_and_its_record(
    run: Invoke, tmp_path: Path
) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"x": [1], "k": 10}))
    args = ["--project", "Data", "-n", "etl", "--param-file", tmp_path / "p.json"]
    args += ["--param", "x=[1, 2]", "--run-name", "nightly", "--label", "b", "--label", "a"]
    out = run("run", *args, "--log-level", "debug", json=True)
    doc = json.loads(out.stdout)
    assert doc["ok"] and doc["parameters"] == {"x": [1, 2], "k": 10}
    assert (doc["run_name"], doc["labels"]) == ("nightly", ["a", "b"])
    assert logging.getLogger().level != logging.DEBUG  # restored after the run
    runs = json.loads(run("runs", "Data/etl", json=True).stdout)["runs"]
    assert [(r["run_name"], r["status"], r["parameters"]) for r in runs] == [
        ("nightly", "success", {"x": [1, 2], "k": 10})
    ]
    run("run", "Data/etl", "--param", "x=[3]")
    table = run("runs", "Data/etl").output.splitlines()
    assert table[0].split() == [
        "STARTED", "STATUS", "DURATION", "VERSION", "NAME", "PARAMETERS", "RECORD", "ERROR"
    ]  # fmt: skip
    assert "success" in table[1] and "x=[3]" in table[1] and " - " in table[1]
    assert "k=10 x=[1, 2]" in table[2] and "nightly" in table[2]


def test_bad_parameters_are_refused_before_a_run_is_recorded(run: Invoke, tmp_path: Path) -> None:
    unknown = run("run", "Data/etl", "--param", "x=[1]", "--param", "kk=3", code=2)
    assert "flow 'etl' has no parameter 'kk'; did you mean 'k'? (its parameters: k, x)" in (
        unknown.output
    )
    missing = run("run", "Data/etl", code=2)
    assert "needs a value for parameter x: add --param x=VALUE" in missing.output
    (tmp_path / "list.json").write_text("[1]")
    bad_file = run("run", "Data/etl", "--param-file", tmp_path / "list.json", code=2)
    assert "holds list, not an object" in bad_file.output
    assert run("runs", "Data/etl").output.strip() == "Data/etl has not run yet"


def test_project_and_name_are_an_alternative_to_the_flow(run: Invoke) -> None:
    both = run("run", "Data/etl", "-n", "etl", code=2)
    assert "not both" in both.output
    neither = run("run", code=2)
    assert "--project P -n NAME" in neither.output
    typo = run("run", "--project", "Dta", "-n", "etl", code=1)
    assert "no project 'Dta'; did you mean 'Data'?" in typo.output
    flow = run("run", "--project", "Data", "-n", "elt", "--param", "x=[1]", code=1)
    assert "no flow registered as 'Data/elt'; did you mean 'Data/etl'?" in flow.output
    ok = run("run", "-n", "etl", "--param", "x=[2]")
    assert "product [4]" in ok.output


PREFECT2_STYLE = """\
class Flow:
    '''The shape of a Prefect 2/3 flow, without prefect: the decorated function and a name.'''

    def __init__(self, fn):
        self.fn = fn
        self.name = fn.__name__.replace("_", "-")

    def __call__(self, **parameters):
        return self.fn(**parameters)


def flow(fn):
    return Flow(fn)


@flow
def greet_all(who, times=2, *rest, punctuation="!"):
    return [f"hello {who}{punctuation}"] * times
"""


def test_a_prefect2_style_flows_signature_is_its_parameters(
    file_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo2"
    (root / ".git").mkdir(parents=True)
    (root / "greet.py").write_text(PREFECT2_STYLE)
    monkeypatch.chdir(root)
    run = make_invoker(file_store)
    run("register", "-p", "greet.py")
    unknown = run("run", "greet-all", "--param", "whom=ann", code=2)
    assert "flow 'greet-all' has no parameter 'whom'; did you mean 'who'?" in unknown.output
    assert "(its parameters: punctuation, times, who)" in unknown.output
    missing = run("run", "greet-all", "--param", "times=1", code=2)
    assert "needs a value for parameter who: add --param who=VALUE" in missing.output
    assert json.loads(run("runs", "greet-all", json=True).stdout)["runs"] == []
    done = json.loads(run("run", "greet-all", "--param", "who=ann", json=True).stdout)
    assert done["ok"] and done["parameters"] == {"who": "ann"}


def test_signature_parameters_read_names_defaults_and_give_up_on_kwargs() -> None:
    from flowpack.packer.params import declared_parameters

    class Duck:
        def __init__(self, fn: object) -> None:
            self.fn, self.name = fn, "duck"

    def etl(x: int, /, y: int, z: object = print, *, k: int = 3) -> None: ...

    def anything(x: int, **kw: object) -> None: ...

    assert declared_parameters(Duck(etl)) == [
        {"name": "k", "required": False, "default": 3},
        {"name": "y", "required": True, "default": None},
        {"name": "z", "required": False, "default": repr(print)},
    ]
    assert declared_parameters(Duck(anything)) is None
    assert declared_parameters(Duck(len)) == []  # a builtin's signature: positional only
