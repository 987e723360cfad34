"""A real Prefect 1.x flow (in the environment of its own of ``prefect1kit``) whose
task reads a file its script bundle lacks: Prefect catches the ``FileNotFoundError`` into a
failed state, and the run still names the file and ``register --include GLOB``."""

from __future__ import annotations

import datetime
from pathlib import Path

from prefect1kit import flowpack

READS_AT_RUN_TIME = """\
import datetime
from pathlib import Path

from prefect import task, Flow

HERE = Path(__file__).parent


@task
def read_report():
    return (HERE / f"reports/{datetime.date.today().year}.csv").read_text()


with Flow("report") as flow:
    read_report()
"""


def test_a_failed_prefect_task_names_the_file_the_bundle_lacked(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "report.py").write_text(READS_AT_RUN_TIME)
    rel = f"reports/{datetime.date.today().year}.csv"
    (tmp_path / "reports").mkdir()
    (tmp_path / rel).write_text("a,b\n")
    done = flowpack(tmp_path, "register", "-p", "report.py", "--project", "default")
    assert done.returncode == 0 and "1 registered" in done.stdout, done.stdout + done.stderr
    ran = flowpack(tmp_path, "run", "default/report")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"FileNotFoundError: {rel} was not in the bundle" in ran.stdout, ran.stdout
    assert "`flowpack register --include GLOB`" in ran.stdout
