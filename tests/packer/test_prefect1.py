"""Real Prefect 1.x flows (Prefect 0.15.12, in an environment of its own made by
``scripts/install-test-servers.sh``) stored, registered and run by flowpack: the seed's example
flow with ``from prefect import task, Flow``, in pickled and script form.

Regressions: a real ``prefect.Flow`` with two tasks could not be pickled (sorting its sets
called ``Task.__lt__``, which builds a ``LessThan`` task), and a pickled flow that defines a
class got a new version at every unchanged registration.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The seed's walkthrough flow, as written there (``flows/my_flow.py``), with a class added.
SEED_FLOW = """\
from prefect import task, Flow
from flowpack.storage import Local


class Scale:
    factor = 1


@task
def get_data():
    return [x * Scale.factor for x in [1, 2, 3, 4, 5]]

@task
def print_data(data):
    print(data)

with Flow("example") as flow:
    data = get_data()
    print_data(data)

flow.storage = Local(stored_as_script={script})
"""


def prefect1_python() -> str:
    found = os.environ.get("FLOWPACK_PREFECT1_PYTHON")
    if not found:
        base = os.environ.get("FLOWPACK_TEST_SERVERS") or str(
            Path.home() / ".local" / "share" / "flowpack-test-servers"
        )
        found = str(Path(base) / "prefect1" / "bin" / "python")
    if not Path(found).exists():
        pytest.fail(f"no Prefect 1.x environment at {found}: run scripts/install-test-servers.sh")
    return found


def flowpack(tmp: Path, *args: str, path: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), path) if p),
        XDG_DATA_HOME=str(tmp / "data"),
        FLOWPACK_CACHE=str(tmp / "cache"),
    )
    env.pop("FLOWPACK_STORE", None)
    cmd = [prefect1_python(), "-m", "flowpack", *args]
    return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", [False, True], ids=["pickle", "script"])
def test_the_seed_example_with_real_prefect_registers_skips_unchanged_and_runs(
    tmp_path: Path, script: bool
) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "my_flow.py").write_text(SEED_FLOW.format(script=script))
    made = flowpack(tmp_path, "project", "create", "MyProject")
    assert made.returncode == 0, made.stdout + made.stderr
    first = flowpack(tmp_path, "register", "-p", "flows/my_flow.py", "--project", "MyProject")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "1 registered" in first.stdout
    again = flowpack(tmp_path, "register", "-p", "flows/my_flow.py", "--project", "MyProject")
    assert again.returncode == 0 and "1 skipped" in again.stdout, again.stdout + again.stderr
    ran = flowpack(tmp_path, "run", "MyProject/example")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "[1, 2, 3, 4, 5]" in ran.stdout
    assert "Flow run SUCCESS" in ran.stdout + ran.stderr  # Prefect's own runner ran it


MODULE_FLOW = """\
from prefect import task, Flow
from flowpack.storage import Module


@task
def get_data():
    return [1, 2, 3, 4, 5]


@task
def print_data(data):
    print(data)


with Flow("from-module") as flow:
    print_data(get_data())

flow.storage = Module("myflows.etl")
"""


def test_module_storage_with_real_prefect(tmp_path: Path) -> None:
    """The seed's ``Module`` class with a real Prefect flow: ``register -m`` then ``run``."""
    package = tmp_path / "lib" / "myflows"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "etl.py").write_text(MODULE_FLOW)
    lib = str(tmp_path / "lib")
    done = flowpack(tmp_path, "register", "-m", "myflows.etl", "--project", "default", path=lib)
    assert done.returncode == 0 and "1 registered" in done.stdout, done.stdout + done.stderr
    ran = flowpack(tmp_path, "run", "default/from-module", path=lib)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "[1, 2, 3, 4, 5]" in ran.stdout and "Flow run SUCCESS" in ran.stdout + ran.stderr


def test_the_environment_is_real_prefect_1() -> None:
    out = subprocess.run(
        [prefect1_python(), "-c", "import prefect; print(prefect.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("0.15.")
