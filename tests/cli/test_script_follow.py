"""Script storage at a location of its own, as the seed documents it: "flow code can change in
between (or even during) runs without needing to be reregistered"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker

FLOW = """\
from flowpack import Flow, task
from flowpack.storage import Local

@task
def value():
    print("value is", {value})
    return {value}
{extra}
with Flow("live") as flow:
    value(){call}

flow.storage = Local(path=__file__, stored_as_script=True)
"""


def write(path: Path, value: int, *, extra_task: bool = False) -> None:
    extra = "\n@task\ndef more():\n    return 0\n" if extra_task else ""
    path.write_text(
        FLOW.format(value=value, extra=extra, call="\n    more()" if extra_task else "")
    )


@pytest.fixture
def run(file_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root / "live.py", 1)
    monkeypatch.chdir(root)
    invoke = make_invoker(file_store)
    invoke("register", "-p", "live.py")
    return invoke


def test_a_run_uses_the_script_as_it_is_now_and_records_what_ran(
    run: Invoke, tmp_path: Path
) -> None:
    """The seed: "flow code can change in between (or even during) runs without needing to be
    reregistered"."""
    first = run("run", "default/live")
    assert "value is 1" in first.output and "as it is now" not in first.output
    write(tmp_path / "repo" / "live.py", 2)  # edited, not re-registered
    second = run("run", "default/live")
    assert "value is 2" in second.output
    assert "Running the script at" in second.output and "as it is now" in second.output
    runs = json.loads(run("runs", "default/live", json=True).stdout)["runs"]
    log = json.loads(run("log", "default/live", json=True).stdout)["registrations"]
    assert len(log) == 1  # still version 1
    assert runs[1]["bundle"] == log[0]["bundle"] and runs[0]["bundle"] != log[0]["bundle"]
    pinned = run("run", "default/live@1")
    assert "value is 1" in pinned.output
    assert "value is 1" in run("run", "default/live", "--pinned").output


def test_a_changed_structure_is_refused_with_the_advice_to_re_register(
    run: Invoke, tmp_path: Path
) -> None:
    write(tmp_path / "repo" / "live.py", 1, extra_task=True)
    refused = run("run", "default/live", code=1)
    assert "the structure of flow 'live' (its task names and edges) changed" in refused.output
    assert "re-register it (flowpack register -p" in refused.output and "--pinned" in refused.output
