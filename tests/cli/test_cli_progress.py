"""What long commands say on stderr: progress (bytes, a rate, an ETA) on a terminal, one summary
line elsewhere, nothing with --json or --quiet; stdout is the same in every case."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flowpack.cli.main import cli
from flowpack.cli.progress import Feedback, ProgressBars, size_text, wants_progress

#: A progress line of a stage counted in bytes: done/total (pct) rate.
BYTES_LINE = r"{stage}: [\d.]+ k?M?G?B/[\d.]+ k?M?G?B \(\d+%\) [\d.]+ k?M?G?B/s"
SIZE = r"[\d.]+ [kMG]?B"


def _read_timed(fd: int, t0: float) -> list[tuple[float, bytes]]:
    """Everything written to the pty ``fd`` until its other side closes, with the time
    (seconds after ``t0``) each piece arrived."""
    out: list[tuple[float, bytes]] = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO once the child side is closed
            return out
        if not chunk:
            return out
        out.append((time.monotonic() - t0, chunk))


def _on_tty(tmp_path: Path, *argv: str | Path) -> tuple[int, bytes, list[tuple[float, bytes]]]:
    """Run the installed ``flowpack`` with stderr on a pseudo-terminal (stdout a pipe)."""
    flowpack = shutil.which("flowpack")
    assert flowpack, "the flowpack console script is not installed (pip install -e .)"
    master, slave = pty.openpty()
    env = {**os.environ, "FLOWPACK_CACHE": str(tmp_path / "cache"), "TERM": "xterm"}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [flowpack, *map(str, argv)], stdout=subprocess.PIPE, stderr=slave, env=env
    )
    os.close(slave)
    assert proc.stdout
    pieces = _read_timed(master, t0)
    out = proc.stdout.read()
    os.close(master)
    return proc.wait(timeout=120), out, pieces


def _text(pieces: list[tuple[float, bytes]]) -> str:
    return b"".join(p for _, p in pieces).decode()


def _run(*argv: str | Path) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in argv], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def big_tree(tmp_path: Path) -> Path:
    """Eight files of 400 kB (text and random), so each stage has several updates."""
    root = tmp_path / "big"
    root.mkdir()
    for i in range(8):
        data = os.urandom(200_000)
        (root / f"f{i}.bin").write_bytes(data if i % 2 else data.hex().encode())
    return root


def test_each_long_command_shows_bytes_and_a_rate_on_a_terminal(
    big_tree: Path, tmp_path: Path
) -> None:
    store, copy = tmp_path / "store", tmp_path / "copy"
    commands: list[tuple[tuple[str | Path, ...], tuple[str, ...]]] = [
        (("--store", store, "push", big_tree, "--ref", "main"), ("pack",)),
        (("--store", store, "pull", "main", tmp_path / "out"), ("pull",)),
        (("copy", store, copy), ("copy",)),
        (("--store", copy, "verify", "--read-data"), ("read", "files")),
        (("--store", store, "gc", "--grace", "0", "--force"), ("mark", "examine")),
    ]
    for argv, stages in commands:
        code, out, pieces = _on_tty(tmp_path, *argv)
        err = _text(pieces)
        assert code == 0, err
        for stage in stages:
            assert re.search(BYTES_LINE.format(stage=stage), err), (argv, err)
            assert re.search(rf"{stage}: .*\(100%\) .* in [\d.]+s", err), (argv, err)
        assert b"\r" not in out and b"%" not in out  # progress never reaches stdout
        assert not re.search(r"^(pushed|pulled|copied|verified|gc examined) ", err, re.M)


def test_an_eta_appears_within_the_first_second_of_a_slow_copy(tmp_path: Path) -> None:
    """A copy of 48 MB (about two seconds here): the display starts at once, and a number of
    seconds left is on screen within a second of it."""
    src = tmp_path / "data"
    src.mkdir()
    for i in range(12):
        (src / f"f{i}.txt").write_text(os.urandom(2_000_000).hex())
    store = tmp_path / "src"
    _run("--store", store, "push", src, "--ref", "main")
    code, _, pieces = _on_tty(tmp_path, "copy", store, tmp_path / "dst")
    assert code == 0
    started = next(t for t, p in pieces if b"copy: " in p)
    eta = [t for t, p in pieces if re.search(rb"copy: [^\r]* ETA \d+s", p)]
    assert started < 3.0, pieces[:3]  # after start-up and the walk, never tens of seconds
    assert eta and eta[0] - started <= 1.0, [(t, p[-60:]) for t, p in pieces]
    assert re.search(r"copy: 48\.0 MB/48\.0 MB \(100%\) [\d.]+ MB/s in [\d.]+s", _text(pieces))


def test_no_progress_with_json_on_a_terminal(tree: Path, tmp_path: Path) -> None:
    code, out, pieces = _on_tty(tmp_path, "--store", tmp_path / "store", "--json", "push", tree)
    assert code == 0 and out.startswith(b"{")
    assert pieces == []


def test_quiet_means_no_progress_on_a_terminal(tree: Path, tmp_path: Path) -> None:
    code, out, pieces = _on_tty(tmp_path, "--store", tmp_path / "store", "push", tree, "-q")
    assert code == 0 and out.startswith(b"blake3:") and pieces == []


def test_one_summary_line_off_a_terminal_and_stdout_unchanged(
    big_tree: Path, tmp_path: Path
) -> None:
    store, copy = tmp_path / "store", tmp_path / "copy"
    push = _run("--store", store, "push", big_tree, "--ref", "main")
    assert re.fullmatch(r"blake3:[0-9a-f]{64}\n", push.stdout)
    assert re.fullmatch(rf"pushed 8 files, 2\.4 MB \({SIZE} new\) in [\d.]+ s\n", push.stderr)
    pull = _run("--store", store, "pull", "main", tmp_path / "out")
    assert pull.stdout.startswith("restored 8 files (2.3 MiB) of blake3:")
    assert re.fullmatch(r"pulled 8 files, 2\.4 MB in [\d.]+ s\n", pull.stderr)
    copied = _run("copy", store, copy)
    assert copied.stdout.startswith("copied 1 refs (1 updated): ")
    assert re.fullmatch(
        rf"copied 1 refs, \d+ objects, 2\.4 MB \({SIZE} sent\) in [\d.]+ s\n", copied.stderr
    )
    verified = _run("--store", copy, "verify", "--read-data")
    assert verified.stdout.startswith("ok; checked ")
    assert re.fullmatch(
        rf"verified \d packs, 8 files \({SIZE} read\) in [\d.]+ s\n", verified.stderr
    )
    assert re.fullmatch(
        r"verified \d packs, 8 files in [\d.]+ s\n", _run("--store", copy, "verify").stderr
    )
    gc = _run("--store", store, "gc")
    assert gc.stdout.startswith("gc: ")
    assert re.fullmatch(
        rf"gc examined \d+ live packs, {SIZE} \(0 B freed\) in [\d.]+ s\n", gc.stderr
    )


def test_quiet_and_json_silence_the_summary(tree: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    for argv in (
        ("--store", store, "-q", "push", tree, "--ref", "main"),
        ("--store", store, "push", tree, "--quiet"),
        ("--store", store, "--quiet", "pull", "main", tmp_path / "out"),
        ("--store", store, "verify", "--read-data", "-q"),
        ("--store", store, "gc", "-q"),
        ("-q", "copy", store, tmp_path / "copy"),
    ):
        quiet = _run(*argv)
        assert quiet.stderr == "" and quiet.stdout, argv
    for argv in (
        ("--store", store, "push", tree),
        ("--store", store, "pull", "main", tmp_path / "out2"),
        ("--store", store, "verify", "--read-data"),
        ("--store", store, "gc"),
        ("copy", store, tmp_path / "copy2"),
    ):
        result = _run("--json", *argv)
        assert result.stderr == "", argv
        assert isinstance(json.loads(result.stdout), dict)


def test_summary_format() -> None:
    now = [10.0]
    sink = io.StringIO()
    assert not wants_progress(False, sink)
    fb = Feedback(sink, bars=False, summarize=True, clock=lambda: now[0])
    assert fb.callback is fb  # a tally for the summary, drawing nothing
    fb("copy", 5_000, 56_700_000)
    assert sink.getvalue() == "" and fb.count("copy") == 5_000 and fb.count("read") == 0
    now[0] += 3.42
    fb.summary(f"pushed {1234:,} files, {size_text(56_700_000)} ({size_text(12_345_678)} new)")
    assert sink.getvalue() == "pushed 1,234 files, 56.7 MB (12.3 MB new) in 3.4 s\n"
    silent = Feedback(sink, bars=False, summarize=False)
    silent.summary("nothing")
    assert silent.callback is None and sink.getvalue().count("\n") == 1
    sizes = [size_text(n) for n in (999, 1000, 1_234_567, 5 * 10**9)]
    assert sizes == ["999 B", "1.0 kB", "1.2 MB", "5.0 GB"]


def test_progress_bars_switch_stages(tmp_path: Path) -> None:
    log = tmp_path / "log"
    with open(log, "w") as fh:
        bars = ProgressBars(fh)
        bars("pack", 1, 2)
        bars("pack", 2, 2)
        bars("upload", 0, 0)
        bars("manifests", 3, 0)
        bars.finish()
    text = log.read_text()
    assert "upload..." in text and "manifests: 3 " in text


def test_progress_line_shows_bytes_rate_and_an_eta_from_the_start(tmp_path: Path) -> None:
    now = [100.0]
    with open(tmp_path / "log", "w") as fh:
        bars = ProgressBars(fh, clock=lambda: now[0])
        bars("pack", 0, 4_000_000)
        assert bars.line(now[0]).endswith("?/s ETA ?")
        now[0] += 1.0
        bars("pack", 1_000_000, 4_000_000)
        line = bars.line(now[0])
        assert "1.0 MB/4.0 MB (25%)" in line and "1.0 MB/s" in line and "ETA 3s" in line
        bars("pack", 1_000_000, 400_000_000)
        assert bars.line(now[0]).endswith("ETA 6m39s")
        now[0] += 3.0
        bars("pack", 4_000_000, 4_000_000)
        assert bars.line(now[0]).endswith("in 4.0s")
        bars.finish()
    assert (tmp_path / "log").read_text().endswith("\n")
