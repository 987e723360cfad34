"""A test server process: start on a free port, wait until it listens, kill, restart.

A missing binary fails the test (never skips it) with the line that installs it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

POLL = 0.02


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class ServerProcess:
    """One server, started by :meth:`start` on ``port`` (a free one by default).

    ``argv(port)`` builds the command line.  The port is kept across :meth:`restart`, so
    clients configured with the endpoint reach the new process.
    """

    def __init__(
        self,
        name: str,
        argv: Callable[[int], Sequence[str]],
        *,
        install_hint: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = argv
        self.install_hint = install_hint
        self.env = env
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.mkstemp(prefix=f"flowpack-{name}-", suffix=".log")[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        """Start the server and wait until its port accepts connections."""
        argv = list(self.argv(self.port))
        env = {**os.environ, **(self.env or {})}
        with open(self._log, "ab") as log:
            try:
                self.proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            except FileNotFoundError:
                pytest.fail(f"{self.name} is not installed ({argv[0]}): {self.install_hint}")
        deadline = time.monotonic() + self.start_timeout
        while not listening(self.port):
            if self.proc.poll() is not None:
                pytest.fail(
                    f"{self.name} exited with {self.proc.returncode} at start:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"{self.name} did not listen within {self.start_timeout}s")
            time.sleep(POLL)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the server's process group (no chance to flush anything), and reap it."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        self._signal(signal.SIGTERM, grace=5.0)

    def restart(self) -> None:
        """Kill the server if it runs, then start it again on the same port."""
        self.kill()
        deadline = time.monotonic() + 10
        while listening(self.port) and time.monotonic() < deadline:
            time.sleep(POLL)
        self.start()

    def _signal(self, sig: signal.Signals, grace: float = 0.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace or 10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
