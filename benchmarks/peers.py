"""The peers flowpack is measured against, behind one small interface.

Each peer keeps one repository under its own work folder and ingests the versions of a corpus in
order, one snapshot (or commit, or archive) per version, the way a team re-registers a flow:

- ``setup(meter)``: create the empty repository (not counted in ingest time);
- ``ingest(n, version, meter)``: store version ``n`` (1-based) from the folder ``version``;
- ``last_added(before)``: bytes the last version added (stored bytes now minus ``before``; git
  reports its thin pack instead, which is what a push of that commit sends);
- ``finish(meter)``: work done once after all versions (git's ``gc --aggressive``);
- ``stored_bytes()``: bytes of the repository on disk (caches excluded);
- ``restore(n, dest, meter)``: write version ``n`` into the empty folder ``dest``.

Every command runs through a :class:`~measure.Meter`, so the harness sees each peer's wall time,
CPU time and peak RSS the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from measure import Meter, python_env, tree_bytes

HERE = Path(__file__).resolve().parent


class Peer(ABC):
    """One tool and its repository for one corpus."""

    name: ClassVar[str] = ""
    #: What ``last_added`` measures, shown beside the figure when it is not a stored-bytes delta.
    last_note: ClassVar[str] = ""

    def __init__(self, root: Path, corpus: str) -> None:
        self.root = root / self.name
        self.corpus = corpus
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def setup(self, meter: Meter) -> None:
        """Create the repository; the default peer needs nothing."""
        return None

    @abstractmethod
    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        """See the module docstring."""

    def finish(self, meter: Meter) -> None:
        """Work done once after the last version; most peers have none."""
        return None

    @abstractmethod
    def stored_bytes(self) -> int:
        """See the module docstring."""

    def last_added(self, before: int, meter: Meter) -> int:
        return self.stored_bytes() - before

    @abstractmethod
    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        """See the module docstring."""

    @staticmethod
    def version() -> str:
        return ""


class Restic(Peer):
    """restic, repository format v2 (compressed, ``--compression auto``)."""

    name = "restic"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RESTIC_REPOSITORY": str(self.root / "repo"),
            "RESTIC_PASSWORD": "bench",
            "RESTIC_CACHE_DIR": str(self.root / "cache"),
        }

    def setup(self, meter: Meter) -> None:
        meter.run(["restic", "init", "-q", "--repository-version", "2"], env=self.env())
        self.snapshots: dict[int, str] = {}

    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        run = meter.run(
            ["restic", "backup", "--json", "--host", "bench", "--compression", "auto", "."],
            cwd=version,
            env=self.env(),
        )
        summary = json.loads(run.stdout.decode().strip().splitlines()[-1])
        self.snapshots[n] = summary["snapshot_id"]

    def stored_bytes(self) -> int:
        return tree_bytes(self.root / "repo")

    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        meter.run(
            ["restic", "restore", "-q", self.snapshots[n], "--target", str(dest)], env=self.env()
        )

    @staticmethod
    def version() -> str:
        return _first_line(["restic", "version"])


class Borg(Peer):
    """BorgBackup, unencrypted, ``--compression zstd,3``."""

    name = "borg"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BORG_REPO": str(self.root / "repo"),
            "BORG_BASE_DIR": str(self.root / "base"),
            "BORG_PASSPHRASE": "",
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
        }

    def setup(self, meter: Meter) -> None:
        meter.run(["borg", "init", "-e", "none"], env=self.env())

    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        meter.run(
            ["borg", "create", "--compression", "zstd,3", f"::v{n:02d}", "."],
            cwd=version,
            env=self.env(),
        )

    def stored_bytes(self) -> int:
        return tree_bytes(self.root / "repo")

    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        meter.run(["borg", "extract", f"::v{n:02d}"], cwd=dest, env=self.env())

    @staticmethod
    def version() -> str:
        return _first_line(["borg", "--version"])


class Git(Peer):
    """git: ``add -A`` and ``commit`` per version; ``gc --aggressive`` once at the end."""

    name = "git"
    last_note = "thin pack"

    def env(self) -> dict[str, str]:
        ident = {"NAME": "bench", "EMAIL": "bench@example.invalid", "DATE": "2024-01-01T00:00:00Z"}
        env = {**os.environ, "HOME": str(self.root), "GIT_CONFIG_NOSYSTEM": "1"}
        for who in ("AUTHOR", "COMMITTER"):
            for key, value in ident.items():
                env[f"GIT_{who}_{key}"] = value
        return env

    def git(self, *args: str, work_tree: Path | None = None) -> list[str]:
        argv = ["git", "-c", "gc.auto=0", "-c", "core.autocrlf=false"]
        argv += [f"--git-dir={self.root / 'repo' / '.git'}"]
        if work_tree is not None:
            argv.append(f"--work-tree={work_tree}")
        return [*argv, *args]

    def setup(self, meter: Meter) -> None:
        meter.run(["git", "init", "-q", "--template=", str(self.root / "repo")], env=self.env())

    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        meter.run(self.git("add", "-A", "-f", ".", work_tree=version), env=self.env())
        meter.run(self.git("commit", "-q", "--no-verify", "-m", f"v{n:02d}"), env=self.env())

    def last_added(self, before: int, meter: Meter) -> int:
        run = meter.run(
            self.git("pack-objects", "--revs", "--thin", "--stdout", "-q"),
            env=self.env(),
            stdin=b"HEAD\n^HEAD~1\n",
        )
        return len(run.stdout)

    def finish(self, meter: Meter) -> None:
        meter.run(self.git("gc", "--aggressive", "--quiet", "--prune=now"), env=self.env())

    def stored_bytes(self) -> int:
        return tree_bytes(self.root / "repo" / ".git" / "objects")

    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        rev = "HEAD" if n == self._count() else f"HEAD~{self._count() - n}"
        meter.run(self.git("checkout", "-q", "-f", rev, "--", ".", work_tree=dest), env=self.env())

    def _count(self) -> int:
        run = Meter().run(self.git("rev-list", "--count", "HEAD"), env=self.env())
        return int(run.stdout)

    @staticmethod
    def version() -> str:
        return _first_line(["git", "--version"])


class Casync(Peer):
    """casync: one ``.caidx`` per version over one chunk store (its default zstd)."""

    name = "casync"

    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        (self.root / "idx").mkdir(exist_ok=True)
        meter.run(["casync", "make", f"--store={self.root / 'store'}", self._idx(n), str(version)])

    def stored_bytes(self) -> int:
        return tree_bytes(self.root / "store", self.root / "idx")

    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        meter.run(["casync", "extract", f"--store={self.root / 'store'}", self._idx(n), str(dest)])

    def _idx(self, n: int) -> str:
        return str(self.root / "idx" / f"v{n:02d}.caidx")

    @staticmethod
    def version() -> str:
        return "casync " + _first_line(["casync", "--version"])


class TarZstd(Peer):
    """One ``tar | zstd -3`` archive per version."""

    name = "tar+zstd"

    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        script = 'tar -cf - -C "$1" . | zstd -q -3 -o "$2"'
        meter.run(["sh", "-c", script, "sh", str(version), self._file(n)])

    def stored_bytes(self) -> int:
        return tree_bytes(self.root)

    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        meter.run(
            ["sh", "-c", 'zstd -dcq "$1" | tar -xf - -C "$2"', "sh", self._file(n), str(dest)]
        )

    def _file(self, n: int) -> str:
        return str(self.root / f"v{n:02d}.tar.zst")

    @staticmethod
    def version() -> str:
        return _first_line(["zstd", "--version"]).strip("* ")


class Naive(Peer):
    """Every version whole, as one zstd pickle under a new key (see ``naive_store.py``)."""

    name = "naive"

    def env(self) -> dict[str, str]:
        return python_env(self.root.parent.parent / "pycache")

    def setup(self, meter: Meter) -> None:
        """Warm the bytecode cache, as :class:`flowpack_peer.Flowpack` does."""
        meter.run([sys.executable, "-c", "import pickle, zstandard"], env=self.env())

    def ingest(self, n: int, version: Path, meter: Meter) -> None:
        script = str(HERE / "naive_store.py")
        argv = [sys.executable, script, "put", str(version), str(self.root / "store"), f"v{n:02d}"]
        meter.run(argv, env=self.env())

    def stored_bytes(self) -> int:
        return tree_bytes(self.root / "store")

    def restore(self, n: int, dest: Path, meter: Meter) -> None:
        stored = str(self.root / "store" / f"v{n:02d}.pkl.zst")
        argv = [sys.executable, str(HERE / "naive_store.py"), "get", stored, str(dest)]
        meter.run(argv, env=self.env())


PEERS: dict[str, type[Peer]] = {p.name: p for p in (Restic, Borg, Git, Casync, TarZstd, Naive)}


def _first_line(argv: list[str]) -> str:
    try:
        run = Meter().run(argv)
    except (OSError, RuntimeError):
        return f"{argv[0]} (missing)"
    return (run.stdout or run.stderr).decode().strip().splitlines()[0]
