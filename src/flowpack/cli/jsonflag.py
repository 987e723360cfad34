"""``--json`` after a command: the same switch as the global ``flowpack --json``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from flowpack.cli.context import CliContext

F = TypeVar("F", bound=Callable[..., Any])


def json_flag(f: F) -> F:
    """``--json`` after the command, same as the global option (parameter ``json_local``)."""
    return click.option(
        "--json", "json_local", is_flag=True, help="Print the result as one JSON document."
    )(f)


def use_json(cli: CliContext, local: bool) -> bool:
    """Whether to print JSON: the command's ``--json`` (which then sets the global one) or the
    global ``--json``."""
    if local:
        cli.json = True
    return cli.json
