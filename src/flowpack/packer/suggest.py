"""Error-message helpers: "did you mean" (:mod:`difflib`) and listings of at most ten names.

Every error that names what exists goes through :func:`listing`, so no message lists more
than :data:`MAX_LISTED` names (the rest become ``and N more``), and through :func:`did_you_mean`
for the closest known names to what was typed.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The most names an error message lists.
MAX_LISTED = 10


def listing(names: Iterable[object], *, limit: int = MAX_LISTED, empty: str = "none") -> str:
    """``a, b, c`` for ``names`` (as text), at most ``limit`` of them, then ``and N more``."""
    items = [str(n) for n in names]
    if not items:
        return empty
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def close_matches(word: str, known: Iterable[object], *, n: int = 3) -> list[str]:
    """The (at most ``n``) known names closest to ``word``, best first; case is ignored."""
    by_lower: dict[str, str] = {}
    for name in known:
        by_lower.setdefault(str(name).lower(), str(name))
    import difflib  # only on the error path; costs start-up otherwise

    found = difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[f] for f in found]


def did_you_mean(word: str, known: Iterable[object]) -> str:
    """``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for the closest known names, else ``""``."""
    found = close_matches(word, known)
    if not found:
        return ""
    return "; did you mean " + " or ".join(repr(f) for f in found) + "?"


def unknown(what: str, word: str, known: Iterable[object], *, kind: str = "known") -> str:
    """One line: ``no WHAT 'word'; did you mean 'x'? (KIND: a, b ... and N more)``."""
    names = [str(k) for k in known]
    return f"no {what} {word!r}{did_you_mean(word, names)} ({kind}: {listing(names)})"
