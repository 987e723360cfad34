"""The ``flowpack`` top-level command group, its global options, and the error boundary.

Global options: ``--store URL`` (else ``$FLOWPACK_STORE``, else the per-user default directory),
``--json`` (one JSON document on stdout, errors as one JSON line on stderr), ``--quiet`` (no
progress and no summary line on stderr), ``--debug`` (tracebacks), ``--version``.
:class:`FlowpackGroup` is the one place where exceptions become a line on stderr and an exit
code (see :mod:`flowpack.cli.failure`).

Importing this module imports click only; a command's module is imported when that command
runs (:data:`COMMAND_TABLE`), and the store and its codecs by the commands that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from flowpack import __version__
from flowpack.cli import failure
from flowpack.cli.context import CliContext

#: Every top-level command, in help order: its family module under ``flowpack.cli`` (a module
#: with a ``COMMANDS`` tuple of click commands) and its one-line help.  A command's module is
#: imported only when that command runs, so ``flowpack ls`` never imports what ``serve`` or
#: ``register`` need, and ``--help`` imports none of them.  ``tests/cli/test_lazy_commands.py``
#: holds this table equal to the commands themselves.  To add a command, list it here.
COMMAND_TABLE: dict[str, tuple[str, str]] = {
    "push": ("objects", "Store the directory or file PATH as a bundle and print its digest."),
    "pull": ("objects", "Restore a bundle into the directory DEST."),
    "cat": ("objects", "Print one file of a bundle (raw bytes), or the manifest itself as JSON."),
    "ls": ("objects", "List the files of a bundle (or of a flow's bundle): mode, size and path."),
    "diff": ("objects", "Show what changed from bundle A to bundle B."),
    "ref": ("refs", "Read and change refs: mutable names pointing at digests."),
    "verify": ("maintenance", "Check the store (or the given bundles) for damage."),
    "gc": ("maintenance", "Delete packs no ref can reach."),
    "stats": ("maintenance", "Objects, packs, stored and logical bytes, and the dedup ratio."),
    "export": ("maintenance", "Write a bundle and everything it references as one pack file."),
    "import": (
        "maintenance",
        'Store a pack file made by "flowpack export" and print the bundle\'s digest.',
    ),
    "copy": (
        "maintenance",
        "Copy refs (default: every ref) and what they reach from SRC_URL to DST_URL.",
    ),
    "register": ("flows", "Pack flows and record them under PROJECT; unchanged flows are skipped."),
    "project": (
        "projects",
        "Create and list projects (flowpack register --project NAME needs one).",
    ),
    "run": ("runs", "Fetch, verify, load and run a registered flow; record the run."),
    "log": (
        "runs",
        "List the registrations of FLOW, newest first: version, time, bundle, record.",
    ),
    "runs": (
        "runs",
        "List the runs of FLOW, newest first: start, status, duration, version, run name, "
        "parameters, record, error (--json: every field, the bundle used included).",
    ),
    "show": (
        "runs",
        "Show one registration of a flow: its metadata and the files of its bundle.",
    ),
    "audit": (
        "audit",
        "Re-verify FLOW's history: both record chains, every link, every bundle, every signature.",
    ),
    "key": ("keys", "Manage your ed25519 signing key (kept in $XDG_CONFIG_HOME/flowpack/keys)."),
    "trust": ("keys", "Which signers' flows you run from this store (your own policy file)."),
    "serve": ("serve", "Serve the store over HTTP until interrupted."),
    "token": ("serve", "Manage the bearer tokens of 'flowpack serve'."),
}


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
        return [*COMMAND_TABLE, *(name for name in self.commands if name not in COMMAND_TABLE)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_TABLE:
            _load_family(self, COMMAND_TABLE[cmd_name][0])
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`COMMAND_TABLE`, without importing any command."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in COMMAND_TABLE:
                text = click.Command(name, help=COMMAND_TABLE[name][1]).get_short_help_str(limit)
            else:
                text = self.commands[name].get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def load_all_commands() -> click.Group:
    """Import every command module (for tests and tools that walk the whole command tree)."""
    for family in dict.fromkeys(family for family, _ in COMMAND_TABLE.values()):
        _load_family(cli, family)
    return cli


def _load_family(group: click.Group, family: str) -> None:
    """Import ``flowpack.cli.<family>`` and add its commands to ``group``."""
    module = importlib.import_module(f"flowpack.cli.{family}")
    for command in module.COMMANDS:
        _accept_flags_everywhere(command)
        group.add_command(command)


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
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress and no closing summary on stderr (errors are still reported).",
)
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
    quiet: bool,
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
        quiet=quiet,
        debug=debug,
        token=token or None,
        insecure=insecure,
    )
    ctx.obj = state
    ctx.call_on_close(state.close)


def _json_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).json = True


def _quiet_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(CliContext).quiet = True


#: Global flags also accepted after any command: (names, callback, help).
_ANYWHERE = (
    (["--json"], _json_flag, "Print results (and errors) as JSON."),
    (["--quiet", "-q"], _quiet_flag, "No progress and no closing summary on stderr."),
)


def _accept_flags_everywhere(command: click.Command) -> None:
    """Let ``--json`` and ``--quiet`` follow any command too (``flowpack push dir --json``)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_flags_everywhere(sub)
        return
    taken = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
    for names, callback, help_text in _ANYWHERE:
        if not taken & set(names):
            command.params.append(
                click.Option(
                    names, is_flag=True, expose_value=False, callback=callback, help=help_text
                )
            )


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="flowpack")
