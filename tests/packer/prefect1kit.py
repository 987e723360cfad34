"""Real Prefect 1.x flows for the tests: the Prefect 0.15.12 environment (Python 3.10, made by
``scripts/install-test-servers.sh`` from ``requirements/prefect1.txt``; flowpack comes from the
tree under test through ``PYTHONPATH``), the seed's example flow with only its import line
changed, and the cycle every storage class goes through: ``flowpack project create``,
``register -p`` (registered), ``register -p`` again (skipped), ``run`` (Prefect's own runner
runs the tasks; the printed data and Prefect's final state are checked)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The seed's walkthrough flow (``flows/my_flow.py``) as written there, but for the import of
#: the storage class, which comes from ``flowpack.storage`` instead of ``prefect.storage``.
SEED_EXAMPLE = """\
# flows/my_flow.py

from prefect import task, Flow
from flowpack.storage import {cls}

@task
def get_data():
    return {data}

@task
def print_data(data):
    print(data)

with Flow("example") as flow:
    data = get_data()
    print_data(data)

flow.storage = {cls}(
{args}
)
"""

DATA = [1, 2, 3, 4, 5]


def seed_example(cls: str, args: Mapping[str, object], data: list[int] | None = None) -> str:
    """The seed's ``flows/my_flow.py`` with ``flow.storage = cls(**args)``."""
    lines = "\n".join(f"    {name}={value!r}," for name, value in args.items())
    return SEED_EXAMPLE.format(cls=cls, args=lines, data=data or DATA)


def prefect1_python() -> str:
    """The Prefect 1.x environment's interpreter (fails the test when it is missing)."""
    found = os.environ.get("FLOWPACK_PREFECT1_PYTHON")
    if not found:
        base = os.environ.get("FLOWPACK_TEST_SERVERS") or str(
            Path.home() / ".local" / "share" / "flowpack-test-servers"
        )
        found = str(Path(base) / "prefect1" / "bin" / "python")
    if not Path(found).exists():
        pytest.fail(f"no Prefect 1.x environment at {found}: run scripts/install-test-servers.sh")
    return found


def flowpack(
    tmp: Path, *args: str, path: str = "", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m flowpack ARGS`` in the Prefect 1.x environment, in ``tmp``, with the stores,
    caches and keys of ``tmp``; ``path`` is added to ``PYTHONPATH``, ``env`` to the rest."""
    run_env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), path) if p),
        PYTHONWARNINGS="ignore::FutureWarning",  # google-api-core's notice about Python 3.10
        XDG_DATA_HOME=str(tmp / "data"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        FLOWPACK_CACHE=str(tmp / "cache"),
        **(env or {}),
    )
    run_env.pop("FLOWPACK_STORE", None)
    cmd = [prefect1_python(), "-m", "flowpack", *args]
    return subprocess.run(cmd, cwd=tmp, env=run_env, capture_output=True, text=True, timeout=240)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    """The command's stdout and stderr together, after checking it exited 0."""
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    return text


def register(
    tmp: Path, flow_file: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``flowpack register -p FLOW_FILE --project MyProject``, as the seed's command."""
    return flowpack(tmp, "register", "-p", flow_file, "--project", "MyProject", env=env)


def run_example(
    tmp: Path,
    env: Mapping[str, str] | None = None,
    data: list[int] | None = None,
    *,
    spec: str = "MyProject/example",
    path: str = "",
) -> str:
    """``flowpack run SPEC``: checks Prefect's runner ran both tasks to success and
    ``print_data`` printed ``data``; returns the output."""
    text = ok(flowpack(tmp, "run", spec, env=env, path=path))
    assert f"{data or DATA}\n" in text, text  # print_data's output: the task really ran
    assert "Task 'print_data': Finished task run for task with final state: 'Success'" in text
    assert "Flow run SUCCESS: all reference tasks succeeded" in text, text
    return text


def register_skip_and_run(
    tmp: Path, source: str, env: Mapping[str, str] | None = None, storage: str = ""
) -> tuple[str, str]:
    """Write ``source`` as ``flows/my_flow.py`` in ``tmp``, register it (registered), register
    it again (skipped), run it; the outputs of the first registration and of the run."""
    (tmp / "flows").mkdir(exist_ok=True)
    (tmp / "flows" / "my_flow.py").write_text(source)
    ok(flowpack(tmp, "project", "create", "MyProject", "--skip-if-exists", env=env))
    first = ok(register(tmp, "flows/my_flow.py", env))
    assert "1 registered" in first, first
    if storage:
        assert f"`{storage}` storage" in first, first
    again = ok(register(tmp, "flows/my_flow.py", env))
    assert "1 skipped" in again and "1 registered" not in again, again
    return first, run_example(tmp, env)
