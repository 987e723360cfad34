"""Helpers for the signing, trust and audit tests: a signed history of the sample flow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flowfixtures import make_project

from flowpack.cas.digest import Digest
from flowpack.cas.store import Store
from flowpack.packer.register import RegisterResult, register_flow
from flowpack.packer.run import run_flow
from flowpack.packer.script import ScriptSource, collect
from flowpack.storage.defaults import storage_for


def register(store: Store, root: Path, project: str = "demo") -> RegisterResult:
    source = ScriptSource.from_path(root / "flows" / "etl.py")
    (flow,) = collect(source)
    return register_flow(
        store, flow, project=project, source=source, storage=storage_for(flow, source)
    )


def set_offset(root: Path, offset: int) -> None:
    (root / "flows" / "helpers.py").write_text(
        f"def transform(values):\n    return [v + {offset} for v in values]\n"
    )


@dataclass
class History:
    store: Store
    root: Path
    versions: list[RegisterResult]  # v1, v2, v3
    runs: list[Digest]  # oldest first


def make_history(store: Store, tmp_path: Path, count: int = 3) -> History:
    """``count`` versions of the sample flow, each run once (signed if the user has a key)."""
    root = make_project(tmp_path / "p")
    versions, run_records = [], []
    for offset in range(1, count + 1):
        set_offset(root, offset)
        versions.append(register(store, root))
        outcome = run_flow(store, "demo/etl")
        assert outcome.ok, outcome.exception
        run_records.append(outcome.record.digest)
    return History(store, root, versions, run_records)
