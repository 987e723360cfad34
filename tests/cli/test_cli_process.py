"""The installed ``flowpack`` script in real processes: exit codes, streams, start-up imports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLOWPACK = shutil.which("flowpack")


def run(
    *args: str | Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    assert FLOWPACK, "the flowpack console script is not installed (pip install -e .)"
    return subprocess.run(
        [FLOWPACK, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        input=stdin,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPACK_STORE": str(tmp_path / "store"),
        "FLOWPACK_CACHE": str(tmp_path / "cache"),
    }


def test_exit_codes_and_stream_separation(env: dict[str, str], tree: Path, tmp_path: Path) -> None:
    push = run("push", tree, "--ref", "flows/p", env=env)
    assert push.returncode == 0
    summary = r"pushed 5 files, [\d.]+ k?B \([\d.]+ k?B new\) in [\d.]+ s\n"
    assert re.fullmatch(summary, push.stderr)  # off a terminal: one summary line
    digest = push.stdout.strip()
    assert push.stdout == f"{digest}\n"

    pulled = run("pull", "flows/p", tmp_path / "out", env=env)
    assert pulled.returncode == 0
    assert (tmp_path / "out" / "pkg" / "helper.py").read_text() == "VALUE = 1\n"

    cases = [
        (("pull", "flows/p", tmp_path / "out"), 1, "exists"),
        (("ls", "blake3:nothex"), 2, "not a digest"),
        (("ls", "flows/missing"), 1, "flows/missing"),
        (("ref", "set", "--create", "flows/p", digest), 3, digest),
        (("ref", "set", "flows/p", digest, "--expect", "blake3:" + "0" * 64), 3, digest),
        (("gc", "--grace", "tomorrow"), 2, "tomorrow"),
        (("no-such-command",), 2, "No such command"),
    ]
    for args, code, needle in cases:
        proc = run(*args, env=env)
        assert proc.returncode == code, (args, proc.returncode, proc.stderr)
        assert proc.stdout == ""
        assert "Traceback" not in proc.stderr
        assert needle in proc.stderr
        if code != 2 or args[0] == "ls":
            assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_json_error_in_a_process(env: dict[str, str]) -> None:
    proc = run("--json", "ref", "get", "flows/missing", env=env)
    assert proc.returncode == 1 and proc.stdout == ""
    assert json.loads(proc.stderr)["type"] == "NotFound"


def test_closed_stdout_is_quiet(env: dict[str, str], tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    for i in range(1500):
        (big / f"file-with-a-fairly-long-name-{i:05d}.txt").write_text(str(i))
    assert run("push", big, "--ref", "big", env=env).returncode == 0
    assert FLOWPACK
    proc = subprocess.Popen(
        [FLOWPACK, "ls", "big"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout and proc.stderr
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert b"file-with-a-fairly-long-name-00000.txt" in first
    assert b"Traceback" not in err and b"Exception" not in err


def test_help_imports_no_codec(env: dict[str, str]) -> None:
    code = (
        "import sys\n"
        "from flowpack.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='flowpack')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0\n"
        "heavy = {'zstandard', 'msgpack', 'blake3', 'pyfastcdc', 'cloudpickle',\n"
        "         'flowpack.cas.store', 'flowpack.cas.opening'}\n"
        "print(sorted(heavy & set(sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage: flowpack" in proc.stdout
    assert proc.stderr.strip() == "[]"


def test_interrupt_exits_130(env: dict[str, str], tree: Path, tmp_path: Path) -> None:
    """A command blocked reading a ref (a FIFO here) and interrupted exits 130, quietly."""
    assert run("push", tree, "--ref", "flows/slow", env=env).returncode == 0
    found = [p for p in (tmp_path / "store").rglob("slow") if p.is_file()]
    assert len(found) == 1, found
    found[0].unlink()
    os.mkfifo(found[0])
    assert FLOWPACK
    proc = subprocess.Popen(
        [FLOWPACK, "ref", "get", "flows/slow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 30
    writer = -1
    while writer < 0:  # opening the write end succeeds once flowpack is reading the FIFO
        try:
            writer = os.open(found[0], os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
    # Signal once flowpack is blocked reading (a signal landing just as open() returns is
    # only acted on after the next read, on some Python versions).
    wchan = Path(f"/proc/{proc.pid}/wchan")
    while time.monotonic() < deadline and "pipe_read" not in wchan.read_text():
        time.sleep(0.02)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(writer)
    assert proc.returncode == 130
    assert out == b"" and err == b"flowpack: interrupted\n"
