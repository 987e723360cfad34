"""flowpack as a peer: ``flowpack push DIR --ref bench/<corpus>`` per version, from the CLI.

Each push is a fresh process, so interpreter start-up and imports count, as they do for a team
re-registering a flow.  The store is a plain directory (the ``file://`` backend) with its index
cache in the peer's work folder; only the store counts as stored bytes.  Python runs with its
bytecode cache enabled and warmed by one untimed push into a scratch store, as for an installed
package (see :func:`measure.python_env`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from measure import Meter, python_env, tree_bytes
from peers import HERE, Peer


def flowpack_exe() -> str:
    """The ``flowpack`` console script of this interpreter (not a version-manager shim)."""
    beside = Path(sys.executable).parent / "flowpack"
    if beside.exists():
        return str(beside)
    found = shutil.which("flowpack")
    if found is None:
        raise SystemExit("flowpack is not installed: pip install -e .")
    return found


class Flowpack(Peer):
    """flowpack's CLI over a ``file://`` store."""

    name = "flowpack"

    def __init__(self, root: Path, corpus: str) -> None:
        super().__init__(root, corpus)
        self.exe = flowpack_exe()
        self.digests: dict[int, str] = {}
        self.pushes: list[dict[str, object]] = []

    def env(self) -> dict[str, str]:
        env = python_env(self.root.parent.parent / "pycache")
        env["FLOWPACK_CACHE"] = str(self.root / "cache")
        env.pop("FLOWPACK_STORE", None)
        return env

    def setup(self, meter: Meter) -> None:
        """Warm the bytecode cache: one push into a scratch store, then remove it."""
        scratch = self.root / "warm"
        warm = str(HERE / "naive_store.py")
        meter.run([self.exe, "--store", str(scratch), "push", warm], env=self.env())
        shutil.rmtree(scratch)

    def cli(self, *args: str) -> list[str]:
        return [self.exe, "--store", str(self.root / "store"), *args]

    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        ref = f"bench/{self.corpus}"
        run = meter.run(self.cli("--json", "push", str(version), "--ref", ref), env=self.env())
        result = json.loads(run.stdout)
        self.digests[n] = str(result["digest"])
        self.pushes.append(result)

    def stored_bytes(self) -> int:
        return tree_bytes(self.root / "store")

    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        meter.run(self.cli("pull", self.digests[n], str(dest)), env=self.env())

    @staticmethod
    def version() -> str:
        return _first_line(Meter().run([flowpack_exe(), "--version"]).stdout)


def _first_line(data: bytes) -> str:
    return data.decode().strip().splitlines()[0]
