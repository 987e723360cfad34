"""The top-level command table: commands load on use, and the table says what they say."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from flowpack.cli.main import COMMAND_TABLE, cli, load_all_commands


def test_table_matches_the_commands() -> None:
    group = load_all_commands()
    assert list(group.commands) == list(COMMAND_TABLE)
    for name, (_family, short_help) in COMMAND_TABLE.items():
        assert group.commands[name].get_short_help_str(limit=1000) == short_help, name


def test_help_lists_every_command_in_order() -> None:
    lines = CliRunner().invoke(cli, ["--help"]).stdout.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in lines if line.strip()] == list(COMMAND_TABLE)


def _modules_after(*argv: str) -> set[str]:
    code = (
        "import sys\n"
        "from flowpack.cli.main import cli\n"
        f"try:\n    cli({list(argv)!r}, prog_name='flowpack')\n"
        "except SystemExit:\n    pass\n"
        "print('\\n'.join(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.splitlines())


def test_help_and_ls_import_no_other_command() -> None:
    help_modules = _modules_after("--help")
    loaded = {m for m in help_modules if m.startswith("flowpack.cli.")}
    assert loaded <= {"flowpack.cli.main", "flowpack.cli.failure", "flowpack.cli.context"}
    ls_modules = _modules_after("--store", "memory://lazy", "ls", "nosuchref")
    assert "flowpack.cli.objects" in ls_modules
    for other in ("flowpack.cli.serve", "flowpack.cli.flows", "flowpack.cli.runs"):
        assert other not in ls_modules, other
