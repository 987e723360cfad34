"""The default ignores are matched without ``pathspec`` (start-up); they must leave out
exactly what gitignore's own rules for the same patterns leave out, on every path shape."""

from __future__ import annotations

import itertools

import pathspec

from flowpack.cas.ignore import DEFAULT_IGNORES, DefaultIgnores

NAMES = [
    "a",
    "b.py",
    ".git",
    "git",
    ".gitx",
    "__pycache__",
    "x.pyc",
    ".pyc",
    "pyc",
    "c.pycx",
    ".mypy_cache",
    ".tox",
    "tox",
    ".hypothesis",
    ".svn",
    ".hg",
]


def test_the_default_ignores_match_as_gitignore_does() -> None:
    spec = pathspec.GitIgnoreSpec.from_lines(DEFAULT_IGNORES)
    ours = DefaultIgnores()
    checked = 0
    for depth in (1, 2, 3):
        for parts in itertools.product(NAMES, repeat=depth):
            for probe in ("/".join(parts), "/".join(parts) + "/"):
                assert ours.match_file(probe) == spec.match_file(probe), probe
                checked += 1
    assert checked == 2 * sum(len(NAMES) ** d for d in (1, 2, 3))
    assert ours.match_file("src/__pycache__/") and not ours.match_file("src/__pycache__")
