"""Turning an exception into one line on stderr and an exit code.

Exit codes come from the error tree (``FlowpackError.exit_code``: 1 failure, 2 usage, 3 lost
compare-and-set race); operating-system errors exit 1; anything else is reported as an internal
error (exit 1).  A traceback is printed only with ``--debug``.  Every message passes through
:func:`~flowpack.cas.urls.scrub` here, the one edge where errors leave the program, so no
credential in a URL, an option or a vendor's message reaches the terminal.  With ``--json`` the
line is a JSON object ``{"error", "type", "exit_code"}`` (plus ``"current"`` for a lost race).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from flowpack.cas.errors import FlowpackError, RefConflict
from flowpack.cas.urls import scrub

PROG = "flowpack"
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


def one_line(text: str) -> str:
    """``text`` folded onto one line, credentials masked."""
    parts = [p.strip() for p in text.splitlines() if p.strip()]
    return scrub("; ".join(parts))


def describe(exc: BaseException) -> tuple[str, int]:
    """The message and exit code for ``exc``."""
    if isinstance(exc, FlowpackError):
        return one_line(str(exc)) or type(exc).__name__, int(exc.exit_code)
    if isinstance(exc, OSError):
        if exc.strerror and exc.filename is not None:
            where = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 else "")
            return one_line(f"{exc.strerror}: {where}"), EXIT_FAILURE
        return one_line(str(exc)) or type(exc).__name__, EXIT_FAILURE
    detail = one_line(str(exc))
    message = f"internal error: {type(exc).__name__}" + (f": {detail}" if detail else "")
    return message + " (run with --debug for the traceback)", EXIT_FAILURE


def report(exc: BaseException, *, json_output: bool, debug: bool) -> int:
    """Print ``exc`` on stderr (one line, or JSON) and return the exit code to use."""
    message, code = describe(exc)
    if debug:
        import traceback  # --debug only

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    if json_output:
        doc: dict[str, Any] = {"error": message, "type": type(exc).__name__, "exit_code": code}
        if isinstance(exc, RefConflict):
            doc["current"] = str(exc.current) if exc.current is not None else None
        click.echo(_dumps(doc), err=True)
    else:
        click.echo(f"{PROG}: error: {message}", err=True)
    return code


def report_usage(exc: click.ClickException) -> None:
    """A click usage error as one JSON line (text mode keeps click's own message)."""
    doc = {
        "error": one_line(exc.format_message()),
        "type": "UsageError",
        "exit_code": exc.exit_code,
    }
    click.echo(_dumps(doc), err=True)


def _dumps(doc: object) -> str:
    import json  # errors are rare: a command that succeeds never loads it here

    return json.dumps(doc)
