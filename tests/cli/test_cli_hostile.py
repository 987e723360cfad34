"""Hostile bundles through the real ``flowpack`` script: ``pull`` and ``import`` refuse them
with one line on stderr (no traceback, not an internal error), a non-zero exit code, and
nothing written: neither beside DEST nor into it, nor into the store on a refused import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cas"))

from hostile import (  # the hostile-input helpers shared with the core tests
    craft_export,
    file_row,
    lying_frame,
    plant_frame,
    raw_manifest,
    rle_bomb,
    snapshot,
    store_bundle,
)

from flowpack.cas.digest import Digest
from flowpack.cas.manifest import MODE_SYMLINK
from flowpack.cas.opening import open_store
from flowpack.cas.pack import DATA, Frame
from flowpack.cas.store import Store

FLOWPACK = shutil.which("flowpack")
GOOD = b"print('a harmless file')\n"
OTHER = b"x = 1\n" * 50


def run(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    assert FLOWPACK, "the flowpack console script is not installed (pip install -e .)"
    return subprocess.run(
        [FLOWPACK, *map(str, args)], capture_output=True, text=True, timeout=60, env=env
    )


def assert_refused(proc: subprocess.CompletedProcess[str], needle: str = "") -> None:
    assert proc.returncode != 0, proc.stdout
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("flowpack: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert needle in lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPACK_STORE": (tmp_path / "store").as_uri(),
        "FLOWPACK_CACHE": str(tmp_path / "cache"),
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store((tmp_path / "store").as_uri(), cache_dir=tmp_path / "core-cache")
    yield s
    s.close()


def plain(path: str, content: bytes = GOOD) -> tuple[list[Any], bytes]:
    return file_row(path, content), content


def link(path: str, target: bytes) -> tuple[list[Any], bytes]:
    return file_row(path, target, MODE_SYMLINK), target


def bundle(*entries: tuple[list[Any], bytes]) -> tuple[bytes, list[bytes]]:
    rows = sorted((row for row, _ in entries), key=lambda r: r[0])
    return raw_manifest(rows), [content for _, content in entries]


PULLS = {
    "dot-dot": (bundle(plain("ok.txt"), plain("../evil")), "unsafe path"),
    "absolute": (bundle(plain("ok.txt"), plain("/tmp/flowpack-evil")), "absolute"),
    "duplicate": (bundle(plain("a.py"), plain("a.py", OTHER)), "duplicate"),
    "under a file": (bundle(plain("a"), plain("a/b")), "under another file"),
    "symlink up and out": (bundle(plain("a.txt"), link("evil", b"../../etc")), "evil"),
    "symlink absolute": (bundle(plain("a.txt"), link("evil", b"/etc/passwd")), "evil"),
    "symlink through a symlink": (bundle(link("b", b"."), link("evil", b"b/..")), "evil"),
}


@pytest.mark.parametrize(("case", "needle"), PULLS.values(), ids=PULLS.keys())
def test_pull_refuses_hostile_bundles(
    store: Store,
    env: dict[str, str],
    arena: Path,
    tmp_path: Path,
    case: tuple[bytes, list[bytes]],
    needle: str,
) -> None:
    digest = store_bundle(store, *case)
    store.set_ref("flows/evil", digest)
    dest = arena / "dest"
    before = snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")
    assert_refused(run(env, "pull", "flows/evil", dest), needle)
    dest.mkdir()
    (dest / "mine.txt").write_text("mine\n")
    before_dest = snapshot(dest)
    assert_refused(run(env, "pull", "--force", str(digest), dest), needle)
    assert snapshot(dest) == before_dest
    shutil.rmtree(dest)
    assert (snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")) == before


def test_pull_refuses_a_zstd_bomb(
    store: Store, env: dict[str, str], arena: Path, tmp_path: Path
) -> None:
    bomb = rle_bomb(8 << 30)
    pack = plant_frame(store, *lying_frame(DATA, OTHER, bomb))
    digest = store_bundle(store, raw_manifest([file_row("a.txt", GOOD), file_row("b", OTHER)]))
    store_bundle(store, raw_manifest([]), [GOOD])
    before = snapshot(arena)
    assert_refused(run(env, "pull", str(digest), arena / "dest"), pack.hex)
    assert snapshot(arena) == before
    verify = run(env, "verify", "--read-data")
    assert verify.returncode == 1 and pack.hex in verify.stdout


def bomb_frame() -> Frame:
    return lying_frame(DATA, OTHER, rle_bomb(4 << 30))


def store_files(tmp_path: Path) -> dict[str, tuple[str, str]]:
    return snapshot(tmp_path / "store")


IMPORTS = {
    "dot-dot": craft_export(*bundle(plain("ok.txt"), plain("../evil"))[:1], chunks=[GOOD]),
    "absolute": craft_export(bundle(plain("/etc/cron.d/evil"))[0], chunks=[GOOD]),
    "duplicate": craft_export(bundle(plain("a"), plain("a", OTHER))[0], chunks=[GOOD, OTHER]),
    "bomb": craft_export(raw_manifest([file_row("b", OTHER)]), extra_frames=[bomb_frame()]),
    "missing content": craft_export(raw_manifest([file_row("b", OTHER)])),
    "not an export": b"FPACK001" + b"\0" * 100,
}


@pytest.mark.parametrize("data", IMPORTS.values(), ids=IMPORTS.keys())
def test_import_refuses_hostile_exports(
    store: Store, env: dict[str, str], tmp_path: Path, data: bytes
) -> None:
    store_bundle(store, raw_manifest([file_row("a.txt", GOOD)]), [GOOD])
    src = tmp_path / "evil.fpk"
    src.write_bytes(data)
    before = store_files(tmp_path)
    assert_refused(run(env, "import", src), "evil.fpk")
    assert store_files(tmp_path) == before


def test_import_keeps_an_escaping_symlink_but_pull_refuses_it(
    env: dict[str, str], arena: Path, tmp_path: Path
) -> None:
    manifest, contents = bundle(plain("a.txt"), link("evil", b"../../etc"))
    src = tmp_path / "evil.fpk"
    src.write_bytes(craft_export(manifest, chunks=contents))
    imported = run(env, "import", src)
    assert imported.returncode == 0, imported.stderr
    assert str(Digest.of(manifest)) in imported.stdout
    before = snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")
    assert_refused(run(env, "pull", str(Digest.of(manifest)), arena / "dest"), "evil")
    assert (snapshot(tmp_path / "arena"), snapshot(tmp_path / "etc")) == before
