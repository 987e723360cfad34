"""Facts about where and when something happens, for records (never for bundles).

Times are UTC in ISO 8601 with microseconds (``2026-05-09T07:35:25.123456+00:00``), which sort
as text.  Distributions are ``[name, version]`` pairs sorted by normalised name.
``importlib.metadata`` and ``subprocess`` are imported where they are used: every command that
resolves a flow name imports this module, and those two cost more start-up than the rest of it.
"""

from __future__ import annotations

import functools
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def utc_now() -> str:
    """The current time, UTC, ISO 8601 with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """A time written by :func:`utc_now`; :class:`ValueError` otherwise."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return value


def hostname() -> str:
    return platform.node()


def interpreter() -> dict[str, Any]:
    """The running Python: implementation, full version, platform and executable."""
    return {
        "implementation": platform.python_implementation(),
        "version": platform.python_version(),
        "platform": sys.platform,
        "machine": platform.machine(),
        "executable": sys.executable,
    }


def distributions() -> list[list[str]]:
    """Every installed distribution as ``[name, version]``, sorted, one per name."""
    return [list(pair) for pair in _distributions()]


@functools.lru_cache(maxsize=1)
def _distributions() -> tuple[tuple[str, str], ...]:
    """Read once per process: listing distributions reads every package's metadata."""
    import importlib.metadata

    found: dict[str, tuple[str, str]] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", str(name)).lower()
        found.setdefault(key, (key, str(dist.version)))
    return tuple(found[k] for k in sorted(found))


def git_commit(root: Path) -> dict[str, Any] | None:
    """The git commit checked out at ``root`` and whether the tree differs from it, if any."""
    if not (root / ".git").exists():
        return None
    import subprocess

    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(status.strip())} if head else None
