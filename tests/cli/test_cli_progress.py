"""Progress bars appear on a terminal's stderr only, never on stdout or with --json."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from flowpack.cli.main import cli
from flowpack.cli.progress import ProgressBars, wants_progress


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO once the child side is closed
            return out
        if not chunk:
            return out
        out += chunk


def _push_on_tty(tree: Path, tmp_path: Path, *extra: str) -> tuple[int, bytes, bytes]:
    flowpack = shutil.which("flowpack")
    assert flowpack
    master, slave = pty.openpty()
    env = {**os.environ, "FLOWPACK_CACHE": str(tmp_path / "cache"), "TERM": "xterm"}
    proc = subprocess.Popen(
        [flowpack, "--store", str(tmp_path / "store"), *extra, "push", str(tree)],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    assert proc.stdout
    out = proc.stdout.read()
    err = _read_all(master)
    os.close(master)
    return proc.wait(timeout=60), out, err


def test_progress_on_a_terminal(tree: Path, tmp_path: Path) -> None:
    code, out, err = _push_on_tty(tree, tmp_path)
    assert code == 0
    assert out.startswith(b"blake3:") and out.count(b"\n") == 1
    assert b"pack" in err and b"100%" in err


def test_no_progress_with_json_on_a_terminal(tree: Path, tmp_path: Path) -> None:
    code, out, err = _push_on_tty(tree, tmp_path, "--json")
    assert code == 0 and out.startswith(b"{")
    assert err == b""


def test_no_progress_when_stderr_is_not_a_terminal(tree: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s"), "push", str(tree)])
    assert result.exit_code == 0 and result.stderr == ""


def test_progress_bars_switch_stages(tmp_path: Path) -> None:
    log = tmp_path / "log"
    with open(log, "w") as fh:
        assert not wants_progress(False, fh)
        bars = ProgressBars(fh)
        bars("pack", 1, 2)
        bars("pack", 2, 2)
        bars("upload", 0, 0)
        bars.finish()
    text = log.read_text()
    assert "upload..." in text


def test_progress_line_shows_bytes_rate_and_an_eta_from_the_start(tmp_path: Path) -> None:
    now = [100.0]
    with open(tmp_path / "log", "w") as fh:
        bars = ProgressBars(fh, clock=lambda: now[0])
        bars("pack", 0, 4_000_000)
        assert bars.line(now[0]).endswith("ETA ?")
        now[0] += 1.0
        bars("pack", 1_000_000, 4_000_000)
        line = bars.line(now[0])
        assert "1.0MB/4.0MB (25%)" in line and "1.0MB/s" in line and "ETA 3s" in line
        now[0] += 3.0
        bars("pack", 4_000_000, 4_000_000)
        assert bars.line(now[0]).endswith("in 4.0s")
        bars.finish()
    assert (tmp_path / "log").read_text().endswith("\n")
