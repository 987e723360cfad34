"""The flow commands: register (the seed's output), run, log, runs, show and audit."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker

from flowpack import Flow, task
from flowpack.cas.opening import open_store
from flowpack.cas.tree import SourceFile
from flowpack.packer.bundle import flow_metadata
from flowpack.packer.pickled import current_versions, dumps
from flowpack.packer.records import write_registration

REPO = Path(__file__).resolve().parents[2]
DIGEST = r"blake3:[0-9a-f]{64}"

SEED_FLOW = """\
# flows/my_flow.py

from flowpack import task, Flow
from flowpack.storage import Local

@task
def get_data():
    return [1, 2, 3, 4, 5]

@task
def print_data(data):
    print(data)

with Flow("example") as flow:
    data = get_data()
    print_data(data)

flow.storage = Local(stored_as_script=True)
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seed's repository layout (README.md, flows/my_flow.py), as the working directory."""
    root = tmp_path / "repo"
    (root / "flows").mkdir(parents=True)
    (root / ".git").mkdir()  # the project root marker; not a real repository
    (root / "README.md").write_text("# repo\n")
    (root / "flows" / "my_flow.py").write_text(SEED_FLOW)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def run(file_store: str) -> Invoke:
    invoke = make_invoker(file_store)
    for project in ("MyProject", "p", "mods", "demo"):
        invoke("project", "create", project)
    return invoke


def lines(text: str) -> list[str]:
    return re.sub(DIGEST, "<digest>", text).splitlines()


def test_register_prints_the_seed_report(repo: Path, run: Invoke) -> None:
    out = run("register", "-p", "flows/my_flow.py", "--project", "MyProject").output
    assert lines(out) == [
        "Collecting flows...",
        "Processing 'flows/my_flow.py':",
        "  Building `Local` storage...",
        "  Registering 'example'... Done",
        "  └── ID: <digest>",
        "  └── Version: 1",
        "======================== 1 registered ========================",
    ]
    again = run("register", "-p", "flows/my_flow.py", "--project", "MyProject").output
    assert lines(again) == [
        "Collecting flows...",
        "Processing 'flows/my_flow.py':",
        "  Building `Local` storage...",
        "  Registering 'example'... Skipped (unchanged)",
        "================== 0 registered, 1 skipped ==================",
    ]
    doc = json.loads(
        run("register", "-p", "flows/my_flow.py", "--project", "MyProject", "--json").stdout
    )
    assert (doc["registered"], doc["skipped"], doc["errored"]) == (0, 1, 0)
    (flow,) = doc["flows"]
    assert flow["bytes_uploaded"] == 0 and flow["version"] == 1 and flow["status"] == "skipped"
    assert re.search(DIGEST, out).group(0) == flow["bundle"]  # type: ignore[union-attr]


def test_a_changed_task_registers_version_two(repo: Path, run: Invoke) -> None:
    run("register", "-p", "flows", "--project", "p")  # a directory: every script below it
    (repo / "flows" / "my_flow.py").write_text(SEED_FLOW.replace("[1, 2, 3, 4, 5]", "[6]"))
    out = run("register", "-p", "flows/*.py", "--project", "p").output
    assert "  └── Version: 2" in out
    log = run("log", "p/example").output.splitlines()
    assert log[0].split() == ["VERSION", "REGISTERED", "BUNDLE", "RECORD", "LABELS"]
    assert [row.split()[0] for row in log[1:]] == ["2", "1"]
    doc = json.loads(run("log", "example", "--json").stdout)
    assert [r["version"] for r in doc["registrations"]] == [2, 1]
    assert doc["registrations"][0]["parent"] == doc["registrations"][1]["record"]


def test_run_runs_and_records(repo: Path, run: Invoke) -> None:
    run("register", "-p", "flows/my_flow.py", "--project", "MyProject")
    out = run("run", "MyProject/example").output
    assert lines(out)[:3] == [
        "Running 'example' of MyProject, version 1",
        "  └── Bundle: <digest>",
        "[1, 2, 3, 4, 5]",
    ]
    assert re.fullmatch(r"Run succeeded in \d+\.\d\d s", lines(out)[3])
    assert lines(out)[4] == "  └── Run record: <digest>"
    doc = json.loads(run("run", "example@1", "--json").stdout)
    assert doc["status"] == "success" and doc["ok"] is True and doc["version"] == 1
    runs = run("runs", "example").output.splitlines()
    assert runs[0].split()[:4] == ["STARTED", "STATUS", "DURATION", "VERSION"]
    assert [r.split()[1] for r in runs[1:]] == ["success", "success"]
    assert (
        json.loads(run("runs", "MyProject/example", "--json").stdout)["runs"][0]["record"]
        == (doc["record"])
    )


def test_show_prints_metadata_and_files(repo: Path, run: Invoke) -> None:
    run("register", "-p", "flows/my_flow.py", "--project", "MyProject", "-l", "gpu")
    out = run("show", "example@1").output
    assert re.search(r"^flow:\s+example$", out, re.M)
    assert re.search(r"^project:\s+MyProject$", out, re.M)
    assert re.search(rf"^bundle:\s+{DIGEST}$", out, re.M)
    assert re.search(r"^kind:\s+script \(flows/my_flow.py\)$", out, re.M)
    assert re.search(r"^labels:\s+.*\bgpu\b", out, re.M)
    assert re.search(r"^  -rw-r--r--\s+\d+ B  flows/my_flow.py$", out, re.M)
    doc = json.loads(run("show", "MyProject/example", "--json").stdout)
    assert [f["path"] for f in doc["files"]] == ["flows/my_flow.py"]
    assert doc["bundle_metadata"]["entry"] == "flows/my_flow.py"


def test_a_failing_run_exits_1_and_is_recorded(repo: Path, run: Invoke) -> None:
    (repo / "flows" / "my_flow.py").write_text(
        SEED_FLOW.replace("print(data)", "raise ValueError('no data today')")
    )
    run("register", "-p", "flows/my_flow.py", "--project", "p")
    out = run("run", "p/example", code=1).output
    assert re.search(r"^Run failed after \d+\.\d\d s: ValueError: no data today$", out, re.M)
    doc = json.loads(run("runs", "example", "--json").stdout)
    assert doc["runs"][0]["status"] == "failed"
    assert doc["runs"][0]["error"] == "ValueError: no data today"
    assert run("audit", "example").exit_code == 0


def test_audit_reports_each_runs_bundle_and_fails_on_damage(
    repo: Path, run: Invoke, file_store: str
) -> None:
    run("register", "-p", "flows/my_flow.py", "--project", "p")
    run("run", "p/example")
    out = run("audit", "p/example").output
    bundle = json.loads(run("show", "example", "--json").stdout)["bundle"]
    assert f"used bundle {bundle}" in out
    assert out.splitlines()[-1] == "Audit passed: chains intact, 1 bundles re-verified"
    store = open_store(file_store, cache_dir=None)
    digest = store.resolve(bundle)
    chunk = store.get_manifest(digest).files[0].chunks[0]
    store.sync()
    loc = store.index.get(chunk)
    assert loc is not None
    pack = Path(file_store[len("file://") :]) / "packs" / loc.pack.hex
    data = bytearray(pack.read_bytes())
    data[loc.frame_offset + loc.frame_length // 2] ^= 0xFF
    os.chmod(pack, 0o644)
    pack.write_bytes(bytes(data))
    bad = run("audit", "p/example", code=1).output
    assert "Audit FAILED: 1 problems" in bad
    assert f"  - bundle {bundle}: " in bad
    assert json.loads(run("audit", "example", "--json", code=1).stdout)["ok"] is False


def test_a_pickle_from_another_environment_fails_the_run_clearly(
    tmp_path: Path, run: Invoke, file_store: str
) -> None:
    @task
    def one():
        return 1

    with Flow("legacy") as flow:
        one()
    store = open_store(file_store, cache_dir=None)
    info = {**current_versions(), "cloudpickle": "1.6.0"}
    meta = flow_metadata(kind="pickle", name="legacy", file="flow.pkl", protocol=5, **info)
    bundle = store.put_files([SourceFile.from_bytes("flow.pkl", dumps(flow))], metadata=meta)
    reg = {"flow": "legacy", "project": "old", "version": 1, "time": "2020-01-01T00:00:00+00:00"}
    record = write_registration(store, reg, bundle.digest, None)
    store.set_ref("flows/old/legacy", record, create=True)
    out = run("run", "old/legacy", code=1).output
    assert (
        "Run failed after" in out
        and "EnvironmentMismatch: cannot load pickled flow 'legacy': it was pickled under"
        " cloudpickle 1.6.0, but this environment has cloudpickle"
        in out
    )
    assert json.loads(run("runs", "old/legacy", "--json").stdout)["runs"][0]["status"] == "failed"


def test_errors_are_one_line_with_exit_codes(repo: Path, run: Invoke, tmp_path: Path) -> None:
    missing = run("run", "nothing", code=1)
    assert missing.output.strip() == (
        "flowpack: error: no flow registered as 'nothing'; registered: none"
    )
    assert run("register", code=2).exit_code == 2
    assert "no such file" in run("register", "-p", "nope.py", code=2).output
    (repo / "flows" / "broken.py").write_text("import json\nraise RuntimeError('boom')\n")
    out = run("register", "-p", "flows", "--project", "p", code=1).output
    assert (
        "  Error loading 'flows/broken.py': error loading flows/broken.py: RuntimeError: boom"
        in (out)
    )
    assert out.splitlines()[-1] == "================== 1 registered, 1 errored =================="
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert "  No flows found" in run("register", "-p", empty).output


def test_register_a_module(tmp_path: Path, run: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "mods" / "cli_flows_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "flows.py").write_text(
        "from flowpack import Flow, task\n\n@task\ndef hello():\n"
        "    print('hello from a module')\n\n"
        "with Flow('greet') as flow:\n    hello()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    out = run("register", "-m", "cli_flows_pkg.flows", "--project", "mods").output
    assert "Processing 'cli_flows_pkg.flows':\n  Building `Module` storage..." in out
    assert "hello from a module" in run("run", "mods/greet").output


FLOWPACK = shutil.which("flowpack")


def test_the_readme_demo_in_real_processes(tmp_path: Path) -> None:
    assert FLOWPACK, "the flowpack console script is not installed (pip install -e .)"
    env = {
        **os.environ,
        "FLOWPACK_STORE": str(tmp_path / "store"),
        "FLOWPACK_CACHE": str(tmp_path / "cache"),
    }

    def flowpack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FLOWPACK, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )

    assert flowpack("project", "create", "demo").returncode == 0
    reg = flowpack("register", "-p", "examples/flows/my_flow.py", "--project", "demo")
    assert reg.returncode == 0, reg.stderr
    assert "  Registering 'example'... Done" in reg.stdout and reg.stderr == ""
    ran = flowpack("run", "demo/example")
    assert ran.returncode == 0, ran.stderr
    assert "[1, 2, 3, 4, 5]\n" in ran.stdout
    audit = flowpack("audit", "demo/example", "--json")
    assert audit.returncode == 0 and json.loads(audit.stdout)["ok"] is True
