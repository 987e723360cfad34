"""Parsing of durations, verify subsets and ``DIGEST[:PATH]``."""

from __future__ import annotations

import click
import pytest

from flowpack.cli.params import parse_duration, parse_subset, split_object_path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("30s", 30.0),
        ("15m", 900.0),
        ("24h", 86400.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        ("1.5h", 5400.0),
        ("45", 45.0),
        (" 10M ", 600.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "-5s", "3x", "1h30m", "abc", "1e3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_subsets() -> None:
    assert parse_subset("1/1") == (1, 1)
    assert parse_subset("3/10") == (3, 10)
    for bad in ("0/3", "4/3", "1/0", "a/b", "1", "1/2/3", "-1/2"):
        with pytest.raises(ValueError):
            parse_subset(bad)


def test_split_object_path() -> None:
    full = "blake3:" + "a" * 64
    assert split_object_path(full) == (full, None)
    assert split_object_path(f"{full}:dir/f.py") == (full, "dir/f.py")
    assert split_object_path("flows/x:a:b") == ("flows/x", "a:b")
    assert split_object_path("flows/x") == ("flows/x", None)
    assert split_object_path("deadbeef:f") == ("deadbeef", "f")
    with pytest.raises(click.BadParameter):
        split_object_path("flows/x:")
