"""``register --watch``: notice when the sources of a registration change, by polling.

:func:`changes` polls the modification time and size of every file the registration reads
(the expanded ``--path`` files, re-expanded each time so a new file in a watched directory
counts, and each ``--module``'s source file) every ``interval`` seconds, and yields once per
change.  It is bounded: it stops after ``limit`` changes, or when ``timeout`` seconds passed
without one; with neither, it polls until interrupted (Ctrl-C).  Polling needs no extra
package and works on every file system, network mounts included.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable, Iterator, Sequence

from flowpack.cas.errors import FlowpackError

#: ``{path: (mtime_ns, size)}`` of the watched files (a missing file is absent).
Snapshot = dict[str, tuple[int, int]]


def watched_files(paths: Sequence[str], modules: Sequence[str]) -> list[str]:
    """Every file a registration of ``paths`` and ``modules`` loads, now."""
    from flowpack.packer.registration import expand

    out: list[str] = []
    for path in paths:
        try:
            out.extend(expand(path))
        except FlowpackError:
            continue  # a path that names nothing yet: its files appear later
    for name in modules:
        try:
            spec = importlib.util.find_spec(name.partition(":")[0])
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin and os.path.isfile(spec.origin):
            out.append(spec.origin)
    return out


def snapshot(files: Sequence[str]) -> Snapshot:
    """The modification time and size of each file of ``files`` that exists."""
    out: Snapshot = {}
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        out[os.path.abspath(f)] = (st.st_mtime_ns, st.st_size)
    return out


def changes(
    paths: Sequence[str],
    modules: Sequence[str],
    *,
    interval: float = 1.0,
    limit: int | None = None,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[list[str]]:
    """Yield the changed files each time the watched files change (module docstring).

    The first snapshot is taken when iteration starts; a file added, removed, or with a new
    modification time or size is a change.  Stops after ``limit`` changes or ``timeout``
    seconds without a change.
    """
    before = snapshot(watched_files(paths, modules))
    seen = 0
    quiet_since = clock()
    while limit is None or seen < limit:
        if timeout is not None and clock() - quiet_since >= timeout:
            return
        sleep(interval)
        now = snapshot(watched_files(paths, modules))
        if now == before:
            continue
        changed = sorted(k for k in {*before, *now} if before.get(k) != now.get(k))
        before, seen, quiet_since = now, seen + 1, clock()
        yield changed
