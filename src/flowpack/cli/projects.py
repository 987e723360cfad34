"""``flowpack project create NAME`` and ``flowpack project ls``: the projects flows go in.

Projects are refs ``projects/<name>`` in the store (:mod:`flowpack.packer.projects`); a
project that holds flows, and ``default``, exist without being created.
"""

from __future__ import annotations

import click

from flowpack.cli.context import CliContext, pass_cli
from flowpack.cli.jsonflag import json_flag, use_json
from flowpack.cli.render import print_json, table


@click.group(name="project")
def project_group() -> None:
    """Create and list projects (flowpack register --project NAME needs one)."""


@project_group.command(name="create")
@click.argument("name")
@click.option("--skip-if-exists", is_flag=True, help="Succeed when the project exists already.")
@json_flag
@pass_cli
def create_command(cli: CliContext, name: str, skip_if_exists: bool, json_local: bool) -> None:
    """Create project NAME.  Exits 1 if it exists (unless --skip-if-exists)."""
    from flowpack.packer.projects import create_project

    project = create_project(cli.store, name, exist_ok=skip_if_exists)
    if use_json(cli, json_local):
        print_json(project.as_dict())
    else:
        click.echo(f"Project {name!r} created")


@project_group.command(name="ls")
@json_flag
@pass_cli
def ls_command(cli: CliContext, json_local: bool) -> None:
    """List the projects: name, number of flows, when created."""
    from flowpack.packer.projects import list_projects

    projects = list_projects(cli.store)
    if use_json(cli, json_local):
        print_json({"projects": [p.as_dict() for p in projects]})
        return
    rows = [("PROJECT", "FLOWS", "CREATED")]
    rows += [(p.name, str(p.flows), p.created or "-") for p in projects]
    for line in table(rows, right=frozenset({1})):
        click.echo(line)


COMMANDS = (project_group,)
