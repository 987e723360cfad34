"""requirements/lock.txt and pyproject.toml agree: every requirement pyproject.toml declares
(the core, every extra, the test needs) is pinned in the lock at a version it allows, and the lock
pins nothing twice.  `make lock` regenerates the file after a dependency changes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\],]+)==([^\s;]+)\s*(?:;\s*(.+))?$")


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for reqs in project["optional-dependencies"].values():
        found += [Requirement(r) for r in reqs]
    return [r for r in found if canonicalize_name(r.name) != "flowpack"]


def pins() -> dict[str, list[tuple[str, str | None]]]:
    """Each locked package's pins, with their environment markers (a universal lock may pin
    one package differently for different Python versions)."""
    found: dict[str, list[tuple[str, str | None]]] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            name = canonicalize_name(m.group(1).split("[")[0])
            found.setdefault(name, []).append((m.group(2), m.group(3)))
    return found


def test_every_declared_requirement_is_locked_at_an_allowed_version() -> None:
    locked = pins()
    problems = []
    for req in declared():
        name = canonicalize_name(req.name)
        if name not in locked:
            problems.append(f"{req} is not in the lock")
            continue
        for version, _marker in locked[name]:
            if not req.specifier.contains(version, prereleases=True):
                problems.append(f"{req} but the lock pins {name}=={version}")
    assert not problems, "run `make lock`: " + "; ".join(problems)


def test_the_lock_pins_each_package_once_per_environment() -> None:
    env = default_environment()
    from packaging.markers import Marker

    for name, versions in pins().items():
        here = [v for v, m in versions if m is None or Marker(m).evaluate(env)]
        assert len(here) <= 1, f"{name} is pinned {len(here)} times for this interpreter"


def test_the_lock_says_how_to_regenerate_it() -> None:
    head = (ROOT / "requirements" / "lock.txt").read_text().splitlines()[:3]
    assert any("make lock" in line for line in head)
