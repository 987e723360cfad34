"""Parameter types for the command line: durations, verify subsets, ``DIGEST[:PATH]``.

Malformed values raise click's usage errors (exit code 2) naming the option and the value.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    _DurationBase = click.ParamType[float]
    _SubsetBase = click.ParamType[tuple[int, int]]
else:
    _DurationBase = _SubsetBase = click.ParamType

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SUBSET = re.compile(r"^(\d+)/(\d+)$")


def parse_duration(text: str) -> float:
    """Seconds from ``30s``, ``15m``, ``24h``, ``7d``, ``2w`` or a bare number of seconds."""
    m = _DURATION.match(text.strip().lower())
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 24h, 7d or 0)")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_subset(text: str) -> tuple[int, int]:
    """``N/T`` with ``1 <= N <= T``: check the N-th of T slices of the data."""
    m = _SUBSET.match(text.strip())
    if not m:
        raise ValueError(f"not a subset: {text!r} (use N/T, e.g. 1/10)")
    n, t = int(m.group(1)), int(m.group(2))
    if not 1 <= n <= t:
        raise ValueError(f"subset {text!r} needs 1 <= N <= T")
    return n, t


class Duration(_DurationBase):
    """A duration in seconds, written ``30s``, ``15m``, ``24h``, ``7d`` or ``0``."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Subset(_SubsetBase):
    """A verify slice ``N/T``."""

    name = "N/T"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_subset(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def split_object_path(text: str) -> tuple[str, str | None]:
    """``DIGEST[:PATH]`` or ``REF[:PATH]`` split into the object and the path (or None).

    Ref names cannot contain ``:``, so the first colon after an optional ``blake3:`` ends the
    object part.
    """
    scheme = "blake3:" if text.startswith("blake3:") else ""
    obj, sep, path = text[len(scheme) :].partition(":")
    if sep and not path:
        raise click.BadParameter(f"empty path after ':' in {text!r}")
    return scheme + obj, (path if sep else None)
