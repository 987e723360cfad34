"""Writing a restore's staged files on a thread of their own.

Creating a file costs about as much as decoding it (on this project's test machines a file
create and a directory create each take 0.2-0.3 ms of system time, as much as tar pays), so
the restore decodes and verifies the next file while a writer thread creates, writes and
closes the last ones: decoding (zstd, blake3) and the file system calls both release the
GIL, so each takes a core.  Files are queued whole, up to the memory budget's ``read_ahead``
bytes in all (counted as held); a file larger than that is written by the caller, a chunk at
a time, as before.  The first error of the thread is raised to the caller at its next
:meth:`StageWriter.write` or at :meth:`StageWriter.close`, which waits for every queued file.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from flowpack.cas.memory import MemoryBudget

OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Folders:
    """The directories files are restored into: made when missing, each looked at once (not
    at all when ``known``, the restore's plan, says whether it exists).  Thread-safe."""

    def __init__(self, dest: Path, known: dict[Path, bool] | None = None) -> None:
        self.made: list[Path] = []
        self._there = {dest}
        self._known = known or {}
        self._lock = threading.Lock()

    def ensure(self, parent: Path) -> None:
        with self._lock:
            if parent in self._there:
                return
            missing = []
            for p in [parent, *parent.parents]:
                if p in self._there:
                    break
                known = self._known.get(p)
                if p.exists() if known is None else known:
                    break
                missing.append(p)
            for p in reversed(missing):
                p.mkdir()
                self.made.append(p)
            self._there.update([parent, *parent.parents])


@dataclass(frozen=True)
class _File:
    tmp: Path
    parent: Path
    pieces: list[bytes]
    mode: int
    size: int


class StageWriter:
    """Creates staged files (``O_EXCL``, no symlink followed, then ``mode``) in order, on a
    thread, while the caller goes on; see the module docstring."""

    def __init__(self, folders: Folders, budget: MemoryBudget) -> None:
        self.folders = folders
        self._budget = budget
        self._queue: queue.SimpleQueue[_File | None] = queue.SimpleQueue()
        self._room = threading.Condition()
        self._pending = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="flowpack-stage", daemon=True)
        self._thread.start()

    def write(self, tmp: Path, parent: Path, pieces: list[bytes], mode: int) -> None:
        """Queue file ``tmp`` (in the folder ``parent`` is made for) with ``pieces``; waits
        while the files queued hold the budget's ``read_ahead`` bytes."""
        size = sum(len(p) for p in pieces)
        with self._room:
            while self._pending and self._pending + size > self._budget.read_ahead:
                if self._error is not None:
                    break
                self._room.wait()
            if self._error is not None:
                raise self._error
            self._pending += size
        self._budget.hold(size)
        self._queue.put(_File(tmp, parent, pieces, mode, size))

    def close(self, *, check: bool = True) -> None:
        """Wait for every file queued; with ``check``, raise the thread's first error."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if check and self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                if self._error is None:
                    self.folders.ensure(job.parent)
                    write_file(job.tmp, job.pieces, job.mode)
            except BaseException as exc:  # raised to the caller
                self._error = exc
            finally:
                self._budget.release(job.size)
                with self._room:
                    self._pending -= job.size
                    self._room.notify_all()


def write_file(tmp: Path, pieces: list[bytes], mode: int) -> None:
    """Create ``tmp`` (exclusively) holding ``pieces``, with ``mode``."""
    fd = os.open(tmp, OPEN_FLAGS, 0o600)
    try:
        for piece in pieces:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
