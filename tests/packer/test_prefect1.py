"""Real Prefect 1.x flows (Prefect 0.15.12, in an environment of its own made by
``scripts/install-test-servers.sh``) stored, registered and run by flowpack with ``Local``
(pickled and as a script) and ``Module`` storage: the seed's example flow with ``from prefect
import task, Flow``.  The other classes: ``test_prefect1_buckets.py`` (S3, GCS, Azure),
``test_prefect1_git.py`` (Git, GitHub, GitLab, Bitbucket, CodeCommit),
``test_prefect1_docker_webhook.py`` (Docker, Webhook); the helpers: ``prefect1kit.py``.

Regressions: a real ``prefect.Flow`` with two tasks could not be pickled (sorting its sets
called ``Task.__lt__``, which builds a ``LessThan`` task), and a pickled flow that defines a
class got a new version at every unchanged registration.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from prefect1kit import flowpack, prefect1_python, register_skip_and_run, run_example

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


@pytest.mark.parametrize("script", [False, True], ids=["pickle", "script"])
def test_the_seed_example_with_real_prefect_registers_skips_unchanged_and_runs(
    tmp_path: Path, script: bool
) -> None:
    register_skip_and_run(tmp_path, SEED_FLOW.format(script=script), storage="Local")


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
    """The seed's ``Module`` class with a real Prefect flow: ``register -m`` (registered, then
    skipped) and ``run``."""
    package = tmp_path / "lib" / "myflows"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "etl.py").write_text(MODULE_FLOW)
    lib = str(tmp_path / "lib")
    done = flowpack(tmp_path, "register", "-m", "myflows.etl", "--project", "default", path=lib)
    assert done.returncode == 0 and "1 registered" in done.stdout, done.stdout + done.stderr
    again = flowpack(tmp_path, "register", "-m", "myflows.etl", "--project", "default", path=lib)
    assert again.returncode == 0 and "1 skipped" in again.stdout, again.stdout + again.stderr
    run_example(tmp_path, spec="default/from-module", path=lib)


def test_the_environment_is_real_prefect_1() -> None:
    out = subprocess.run(
        [prefect1_python(), "-c", "import prefect; print(prefect.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("0.15.")
