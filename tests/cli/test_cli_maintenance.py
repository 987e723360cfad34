"""verify, gc, stats, export, import and copy through the command line."""

from __future__ import annotations

import filecmp
import json
import uuid
from pathlib import Path

import pytest
from cli_invoke import Invoke, make_invoker


def _pack_files(store_dir: Path) -> list[Path]:
    return sorted((store_dir / "packs").iterdir())


@pytest.fixture
def local(tmp_path: Path) -> tuple[Invoke, Path]:
    """An invoker on a file:// store whose directory the test can damage."""
    store_dir = tmp_path / "store"
    return make_invoker(store_dir.as_uri()), store_dir


def test_verify_clean_store(invoke: Invoke, tree: Path) -> None:
    invoke("push", tree, "--ref", "flows/x")
    out = invoke("verify").stdout
    assert out.startswith("ok; checked ") and "1 manifests" in out
    assert invoke("verify", "--all", "--read-data").stdout.startswith("ok")
    assert invoke("verify", "flows/x", "--read-data", "--subset", "1/3").stdout.startswith("ok")
    doc = json.loads(invoke("verify", "--all", json=True).stdout)
    assert doc["ok"] is True and doc["problems"] == [] and doc["checked"]["refs"] == 1


def test_verify_lists_damage_and_who_references_it(local: tuple[Invoke, Path], tree: Path) -> None:
    invoke, store_dir = local
    digest = invoke("push", tree, "--ref", "flows/x").stdout.strip()
    before = set(_pack_files(store_dir))
    (tree / "extra.txt").write_text("only in the second bundle\n" * 50)
    invoke("push", tree, "--ref", "flows/y")
    for pack in set(_pack_files(store_dir)) - before:  # damage only the second push's packs
        data = bytearray(pack.read_bytes())
        data[len(data) // 3] ^= 0x55
        pack.write_bytes(bytes(data))
    assert invoke("verify", "flows/x", "--read-data").stdout.startswith("ok")
    result = invoke("verify", "--read-data", code=1)
    lines = result.stdout.splitlines()
    damaged = [line for line in lines if line.startswith("damaged pack blake3:")]
    assert damaged, result.stdout
    assert any("referenced by:" in line and "ref flows/y" in line for line in lines)
    assert not any("ref flows/x" in line for line in lines)
    assert digest not in result.stdout
    assert "problem(s) found" in lines[-1]
    doc = json.loads(invoke("verify", "--read-data", json=True, code=1).stdout)
    assert doc["ok"] is False
    assert any("ref flows/y" in p["referenced_by"] for p in doc["problems"])


def test_verify_structural_damage_without_reading_data(
    local: tuple[Invoke, Path], tree: Path
) -> None:
    invoke, store_dir = local
    invoke("push", tree, "--ref", "flows/x")
    pack = _pack_files(store_dir)[0]
    pack.write_bytes(pack.read_bytes()[:-10])
    result = invoke("verify", code=1)
    assert f"damaged pack blake3:{pack.name}" in result.stdout


def test_gc_is_two_phase(invoke: Invoke, tree: Path, tmp_path: Path) -> None:
    keep = invoke("push", tree, "--ref", "flows/keep").stdout.strip()
    (tree / "doomed.txt").write_text("unreferenced\n" * 1000)
    doomed = invoke("push", tree, "--ref", "flows/doomed").stdout.strip()
    invoke("ref", "rm", "flows/doomed")

    dry = json.loads(invoke("gc", "--dry-run", "--grace", "0", json=True).stdout)
    assert dry["dry_run"] is True and dry["condemned"] and dry["deleted"] == []
    first = json.loads(invoke("gc", "--grace", "0", "--force", json=True).stdout)
    assert first["condemned"] == dry["condemned"] and first["deleted"] == []
    invoke("ls", doomed)  # condemned, not deleted: still readable

    held = invoke("gc", "--grace", "7d").stdout
    assert held.startswith("gc: ") and "deleted 0 packs" in held
    invoke("ls", doomed)

    swept = json.loads(invoke("gc", "--grace", "0", "--force", json=True).stdout)
    assert swept["deleted"] == first["condemned"] and swept["freed_bytes"] > 0
    invoke("ls", doomed, code=1)
    assert invoke("verify", "--all", "--read-data").stdout.startswith("ok")
    invoke("pull", keep, tmp_path / "out")
    assert filecmp.cmp(tree / "flow.py", tmp_path / "out" / "flow.py", shallow=False)


def test_stats(invoke: Invoke, tree: Path) -> None:
    empty = json.loads(invoke("stats", json=True).stdout)
    assert empty["objects"] == 0 and empty["refs"] == 0
    invoke("push", tree, "--ref", "flows/a")
    once = json.loads(invoke("stats", json=True).stdout)
    invoke("push", tree, "--ref", "flows/b")
    (tree / "flow.py").write_text("print('changed')\n")
    invoke("push", tree, "--ref", "flows/c")
    after = json.loads(invoke("stats", json=True).stdout)
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    for key in ("objects", "packs", "stored_bytes", "logical_bytes", "dedup_ratio", "refs"):
        assert key in after
    assert after["refs"] == 3
    assert once["logical_bytes"] > 0 and after["logical_bytes"] > once["logical_bytes"]
    assert after["logical_bytes"] <= 2 * once["logical_bytes"] + size
    assert after["objects"] > once["objects"]
    text = invoke("stats").stdout
    assert "dedup ratio" in text and "stored bytes" in text


def test_export_import_round_trip(invoke: Invoke, tree: Path, tmp_path: Path) -> None:
    digest = invoke("push", tree, "--ref", "flows/x").stdout.strip()
    out = tmp_path / "bundle.fpk"
    doc = json.loads(invoke("export", "flows/x", "-o", out, json=True).stdout)
    assert doc["digest"] == digest and doc["bytes"] == out.stat().st_size > 0

    other = make_invoker(f"memory://cli-{uuid.uuid4().hex}")
    assert other("import", out).stdout.strip() == digest
    other("pull", digest, tmp_path / "restored")
    assert filecmp.cmp(
        tree / "pkg" / "sub" / "data.bin",
        tmp_path / "restored" / "pkg" / "sub" / "data.bin",
        shallow=False,
    )
    assert other("verify", "--read-data").stdout.startswith("ok")


def test_import_of_a_damaged_file_stores_nothing(
    invoke: Invoke, tree: Path, tmp_path: Path
) -> None:
    invoke("push", tree, "--ref", "flows/x")
    out = tmp_path / "bundle.fpk"
    invoke("export", "flows/x", "-o", out)
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.fpk"
    bad.write_bytes(bytes(data))
    other = make_invoker((tmp_path / "other").as_uri())
    result = other("import", bad, code=1)
    assert result.stdout == "" and result.stderr.startswith("flowpack: error: ")
    assert json.loads(other("stats", json=True).stdout)["objects"] == 0
    assert "Missing option" in invoke("export", "flows/x", code=2).stderr
    assert other("import", tmp_path / "absent.fpk", code=2).stderr


def test_copy_sends_only_what_the_destination_lacks(tree: Path, tmp_path: Path) -> None:
    src_url = (tmp_path / "src").as_uri()
    dst_url = f"memory://cli-{uuid.uuid4().hex}"
    src, dst = make_invoker(src_url), make_invoker(dst_url)
    a = src("push", tree, "--ref", "flows/a").stdout.strip()
    (tree / "flow.py").write_text("print('b')\n")
    b = src("push", tree, "--ref", "flows/b").stdout.strip()

    one = json.loads(src("copy", src_url, dst_url, "flows/a", json=True).stdout)
    assert one["refs"] == {"flows/a": a} and one["refs_updated"] == ["flows/a"]
    assert one["bytes_uploaded"] > 0
    assert dst("ref", "ls").stdout.split() == ["flows/a", a]

    every = json.loads(src("copy", src_url, dst_url, json=True).stdout)
    assert every["refs"] == {"flows/a": a, "flows/b": b}
    assert every["refs_updated"] == ["flows/b"]
    assert 0 < every["bytes_uploaded"] < one["bytes_uploaded"]

    again = src("copy", src_url, dst_url).stdout
    assert again.startswith("copied 2 refs (0 updated): 0 B in 0 packs")
    dst("pull", "flows/b", tmp_path / "out")
    assert (tmp_path / "out" / "flow.py").read_text() == "print('b')\n"
    assert dst("verify", "--all", "--read-data").stdout.startswith("ok")
    assert "flows/none" in src("copy", src_url, dst_url, "flows/none", code=1).stderr
