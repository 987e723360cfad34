"""push, pull, cat, ls and diff against real file:// and memory:// stores."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

from cli_invoke import Invoke


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    pending = [cmp]
    while pending:
        c = pending.pop()
        if c.left_only or c.right_only or c.diff_files or c.funny_files:
            return False
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        if mismatch or errors:
            return False
        pending.extend(c.subdirs.values())
    return True


def test_push_prints_only_the_digest(invoke: Invoke, tree: Path) -> None:
    result = invoke("push", tree)
    assert result.stdout.startswith("blake3:")
    assert result.stdout.count("\n") == 1
    assert len(result.stdout.strip()) == len("blake3:") + 64


def test_push_pull_round_trip_is_identical(invoke: Invoke, tree: Path, tmp_path: Path) -> None:
    digest = invoke("push", tree).stdout.strip()
    out = tmp_path / "out"
    result = invoke("pull", digest, out)
    assert "restored 5 files" in result.stdout
    assert _same_tree(tree, out)
    assert os.access(out / "run.sh", os.X_OK)
    assert not os.access(out / "flow.py", os.X_OK)


def test_push_json_fields_and_repush_uploads_nothing(invoke: Invoke, tree: Path) -> None:
    first = json.loads(invoke("push", tree, json=True).stdout)
    assert set(first) == {
        "digest",
        "size",
        "files",
        "chunks",
        "new_chunks",
        "bytes_uploaded",
        "packs_uploaded",
        "ignored",
    }
    assert first["files"] == 5 and first["ignored"] == 0
    assert first["size"] == sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    assert first["new_chunks"] >= 1 and first["bytes_uploaded"] > 0
    again = json.loads(invoke("push", tree, json=True).stdout)
    assert again["digest"] == first["digest"]
    assert again["bytes_uploaded"] == 0
    assert again["packs_uploaded"] == 0
    assert again["new_chunks"] == 0


def test_push_with_ref_moves_the_ref(invoke: Invoke, tree: Path) -> None:
    d1 = invoke("push", tree, "--ref", "flows/demo/main").stdout.strip()
    assert invoke("ref", "get", "flows/demo/main").stdout.strip() == d1
    (tree / "pkg" / "helper.py").write_text("VALUE = 2\n")
    d2 = invoke("push", tree, "--ref", "flows/demo/main").stdout.strip()
    assert d2 != d1
    assert invoke("ref", "get", "flows/demo/main").stdout.strip() == d2


def test_pull_refuses_to_overwrite_without_force(
    invoke: Invoke, tree: Path, tmp_path: Path
) -> None:
    digest = invoke("push", tree).stdout.strip()
    out = tmp_path / "out"
    out.mkdir()
    (out / "flow.py").write_text("mine\n")
    result = invoke("pull", digest, out, code=1)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("flowpack: error: ")
    assert "flow.py exists" in lines[0] and "--force" in lines[0]
    assert (out / "flow.py").read_text() == "mine\n"
    assert sorted(p.name for p in out.iterdir()) == ["flow.py"]


def test_pull_force_into_existing_directory(invoke: Invoke, tree: Path, tmp_path: Path) -> None:
    digest = invoke("push", tree).stdout.strip()
    out = tmp_path / "out"
    out.mkdir()
    (out / "flow.py").write_text("mine\n")
    (out / "unrelated.txt").write_text("keep me\n")
    invoke("pull", "--force", digest, out)
    assert (out / "flow.py").read_bytes() == (tree / "flow.py").read_bytes()
    assert (out / "unrelated.txt").read_text() == "keep me\n"
    assert filecmp.cmp(
        tree / "pkg" / "sub" / "data.bin", out / "pkg" / "sub" / "data.bin", shallow=False
    )


def test_pull_json(invoke: Invoke, tree: Path, tmp_path: Path) -> None:
    digest = invoke("push", tree).stdout.strip()
    doc = json.loads(invoke("pull", digest, tmp_path / "o", json=True).stdout)
    assert doc["digest"] == digest and doc["files"] == 5 and doc["dest"] == str(tmp_path / "o")


def test_cat_path_writes_raw_bytes(invoke: Invoke, tree: Path) -> None:
    digest = invoke("push", tree, "--ref", "flows/x").stdout.strip()
    assert invoke("cat", f"{digest}:pkg/helper.py").stdout == "VALUE = 1\n"
    assert invoke("cat", "flows/x:flow.py").stdout_bytes == (tree / "flow.py").read_bytes()
    binary = invoke("cat", "flows/x:pkg/sub/data.bin").stdout_bytes
    assert binary == (tree / "pkg" / "sub" / "data.bin").read_bytes()


def test_cat_json_of_a_file(invoke: Invoke, tree: Path) -> None:
    invoke("push", tree, "--ref", "flows/x")
    doc = json.loads(invoke("cat", "flows/x:pkg/helper.py", json=True).stdout)
    assert doc["encoding"] == "utf-8" and doc["content"] == "VALUE = 1\n"
    assert doc["path"] == "pkg/helper.py" and doc["size"] == 10
    binary = json.loads(invoke("cat", "flows/x:pkg/sub/data.bin", json=True).stdout)
    assert binary["encoding"] == "base64"


def test_cat_manifest_as_json(invoke: Invoke, tree: Path) -> None:
    digest = invoke("push", tree).stdout.strip()
    doc = json.loads(invoke("cat", digest).stdout)
    assert doc["digest"] == digest
    assert doc["kind"] == "bundle"
    paths = [f["path"] for f in doc["files"]]
    assert paths == sorted(paths) and "pkg/sub/data.bin" in paths
    run = next(f for f in doc["files"] if f["path"] == "run.sh")
    assert run["mode"] == "755"
    assert sum(size for _, size in run["chunks"]) == run["size"]


def test_cat_missing_path_is_one_line(invoke: Invoke, tree: Path) -> None:
    digest = invoke("push", tree).stdout.strip()
    result = invoke("cat", f"{digest}:nope.txt", code=1)
    assert result.stderr.count("\n") == 1 and "nope.txt" in result.stderr


def test_ls_lists_mode_size_path(invoke: Invoke, tree: Path) -> None:
    invoke("push", tree, "--ref", "flows/x")
    lines = invoke("ls", "flows/x").stdout.splitlines()
    assert [line.split()[-1] for line in lines] == [
        "flow.py",
        "pkg/__init__.py",
        "pkg/helper.py",
        "pkg/sub/data.bin",
        "run.sh",
    ]
    by_path = {line.split()[-1]: line.split() for line in lines}
    assert by_path["run.sh"][0] == "-rwxr-xr-x"
    assert by_path["pkg/sub/data.bin"][1] == str(256 * 40)
    assert by_path["pkg/__init__.py"][:2] == ["-rw-r--r--", "0"]
    listed = json.loads(invoke("ls", "flows/x", json=True).stdout)
    assert [f["path"] for f in listed] == sorted(by_path)
    assert {f["path"]: f["size"] for f in listed}["pkg/helper.py"] == 10


def test_prefix_resolution(invoke: Invoke, tree: Path) -> None:
    digest = invoke("push", tree).stdout.strip()
    hexpart = digest.removeprefix("blake3:")
    for text in (hexpart[:8], hexpart[:12], f"blake3:{hexpart[:8]}", hexpart, digest):
        assert invoke("ls", text).stdout == invoke("ls", digest).stdout
    other = "0" * 12 if not hexpart.startswith("0" * 12) else "f" * 12
    assert "neither a ref nor an object" in invoke("ls", other, code=1).stderr


def test_diff_reports_added_removed_changed_and_text_diffs(invoke: Invoke, tree: Path) -> None:
    a = invoke("push", tree).stdout.strip()
    (tree / "pkg" / "helper.py").write_text("VALUE = 2\n")
    (tree / "flow.py").unlink()
    (tree / "new.txt").write_text("fresh\n")
    data = bytearray((tree / "pkg" / "sub" / "data.bin").read_bytes())
    data[5] ^= 0xFF
    (tree / "pkg" / "sub" / "data.bin").write_bytes(bytes(data))
    (tree / "run.sh").chmod(0o644)
    b = invoke("push", tree).stdout.strip()
    out = invoke("diff", a, b).stdout
    summary = out.split("\n\n")[0].splitlines()
    assert summary == [
        "removed  flow.py",
        "added    new.txt",
        "changed  pkg/helper.py",
        "changed  pkg/sub/data.bin",
        "changed  run.sh",
    ]
    assert "--- a/pkg/helper.py\n+++ b/pkg/helper.py\n" in out
    assert "-VALUE = 1\n+VALUE = 2\n" in out
    assert "binary files a/pkg/sub/data.bin and b/pkg/sub/data.bin differ" in out
    assert "mode 755 -> 644: run.sh" in out
    assert invoke("diff", "--name-only", a, b).stdout == "\n".join(summary) + "\n"
    doc = json.loads(invoke("diff", a, b, json=True).stdout)
    assert [f["path"] for f in doc["added"]] == ["new.txt"]
    assert [f["path"] for f in doc["removed"]] == ["flow.py"]
    changed = {c["path"]: c for c in doc["changed"]}
    assert "+VALUE = 2" in changed["pkg/helper.py"]["diff"]
    assert changed["pkg/sub/data.bin"]["diff"] is None
    assert changed["run.sh"]["old"]["mode"] == "755" and changed["run.sh"]["new"]["mode"] == "644"


def test_diff_of_identical_bundles_is_empty(invoke: Invoke, tree: Path) -> None:
    a = invoke("push", tree).stdout.strip()
    assert invoke("diff", a, a).stdout == ""
