"""Running the CLI in-process (click's CliRunner) against one store URL."""

from __future__ import annotations

import os
from collections.abc import Callable

from click.testing import CliRunner, Result

from flowpack.cli.main import cli

Invoke = Callable[..., Result]


def make_invoker(store_url: str) -> Invoke:
    """``invoke("push", path, ...)`` runs the CLI in-process against ``store_url``.

    ``code`` is the exit code to assert (None: do not check); ``json`` adds ``--json``.
    """

    def run(*args: str | os.PathLike[str], json: bool = False, code: int | None = 0) -> Result:
        argv = ["--store", store_url] + (["--json"] if json else []) + [str(a) for a in args]
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (argv, result.exit_code, result.output)
        return result

    return run
