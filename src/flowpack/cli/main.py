"""The ``flowpack`` top-level command group, its global options, and the error boundary.

Global options: ``--store URL`` (else ``$FLOWPACK_STORE``, else the per-user default directory),
``--json`` (one JSON document on stdout, errors as one JSON line on stderr), ``--debug``
(tracebacks), ``--version``.  :class:`FlowpackGroup` is the one place where exceptions become
a line on stderr and an exit code (see :mod:`flowpack.cli.failure`).

Importing this module imports click and the command modules only; the store and its codecs are
imported by the commands that need them, so ``flowpack --help`` starts fast.
"""

from __future__ import annotations

from typing import Any

import click

from flowpack import __version__
from flowpack.cli import audit, failure, flows, keys, maintenance, objects, refs, runs, serve
from flowpack.cli.context import CliContext

#: Command families registered on the top-level group, in help order.  A family is a module
#: with a ``COMMANDS`` tuple of click commands, importing only click and the stdlib at its top.
#: To add one (e.g. ``cli/flows.py``), import it above and list it here.
FAMILIES = (objects, refs, maintenance, flows, runs, audit, keys, serve)


class FlowpackGroup(click.Group):
    """A click group that reports errors as one line with the documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            if _options(ctx).json:
                failure.report_usage(exc)
                ctx.exit(exc.exit_code)
            raise
        except KeyboardInterrupt:
            click.echo(f"{failure.PROG}: interrupted", err=True)
            ctx.exit(failure.EXIT_INTERRUPTED)
        except BrokenPipeError:
            raise  # click silences a closed stdout (``flowpack ls x | head``)
        except Exception as exc:
            opts = _options(ctx)
            ctx.exit(failure.report(exc, json_output=opts.json, debug=opts.debug))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


def _options(ctx: click.Context) -> CliContext:
    if isinstance(ctx.obj, CliContext):
        return ctx.obj
    return CliContext(json=bool(ctx.params.get("json_output")), debug=bool(ctx.params.get("debug")))


@click.group(
    name="flowpack", cls=FlowpackGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    envvar="FLOWPACK_STORE",
    show_envvar=True,
    help="Store to use: file:// or a path, memory://NAME, s3://, ...  "
    "[default: a per-user directory, ~/.local/share/flowpack/store]",
)
@click.option("--json", "json_output", is_flag=True, help="Print results (and errors) as JSON.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--token",
    metavar="TOKEN",
    envvar="FLOWPACK_TOKEN",
    show_envvar=True,
    help="Bearer token for an http(s):// store served by `flowpack serve`.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Allow plain HTTP to an oci+http:// registry that is not on this machine.",
)
@click.version_option(__version__, "-V", "--version", prog_name="flowpack")
@click.pass_context
def cli(
    ctx: click.Context,
    store_url: str | None,
    json_output: bool,
    debug: bool,
    token: str | None,
    insecure: bool,
) -> None:
    """flowpack: a content-addressed artifact store for workflow flows.

    DIGEST arguments accept a full digest (blake3:<hex>), a unique prefix of 8 or more hex
    digits, or a ref name.  Exit codes: 0 success, 1 failure or damage found, 2 usage error,
    3 lost compare-and-set race.
    """
    state = CliContext(
        store_url=store_url or None,
        json=json_output,
        debug=debug,
        token=token or None,
        insecure=insecure,
    )
    ctx.obj = state
    ctx.call_on_close(state.close)


def _json_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).json = True


def _accept_json_everywhere(command: click.Command) -> None:
    """Let ``--json`` follow any command too (``flowpack push dir --json``)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_json_everywhere(sub)
        return
    if not any("--json" in p.opts for p in command.params if isinstance(p, click.Option)):
        command.params.append(
            click.Option(
                ["--json"],
                is_flag=True,
                expose_value=False,
                callback=_json_flag,
                help="Print results (and errors) as JSON.",
            )
        )


for _family in FAMILIES:
    for _command in _family.COMMANDS:
        _accept_json_everywhere(_command)
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="flowpack")
