"""ref set / get / ls / rm, with compare-and-set races reported as exit code 3."""

from __future__ import annotations

import json
from pathlib import Path

from cli_invoke import Invoke


def _two_bundles(invoke: Invoke, tree: Path) -> tuple[str, str]:
    a = invoke("push", tree).stdout.strip()
    (tree / "flow.py").write_text("print('v2')\n")
    b = invoke("push", tree).stdout.strip()
    assert a != b
    return a, b


def test_set_get_ls_rm(invoke: Invoke, tree: Path) -> None:
    a, b = _two_bundles(invoke, tree)
    assert invoke("ref", "set", "flows/p/one", a).stdout == ""
    invoke("ref", "set", "flows/p/two", b)
    invoke("ref", "set", "tags/v1", "flows/p/one")  # a ref name resolves to its digest
    assert invoke("ref", "get", "flows/p/one").stdout == f"{a}\n"
    assert invoke("ref", "get", "tags/v1").stdout == f"{a}\n"
    lines = invoke("ref", "ls").stdout.splitlines()
    assert [line.split() for line in lines] == [
        ["flows/p/one", a],
        ["flows/p/two", b],
        ["tags/v1", a],
    ]
    assert [line.split()[0] for line in invoke("ref", "ls", "flows/").stdout.splitlines()] == [
        "flows/p/one",
        "flows/p/two",
    ]
    listed = json.loads(invoke("ref", "ls", "tags", json=True).stdout)
    assert listed == [{"name": "tags/v1", "digest": a}]
    invoke("ref", "rm", "tags/v1")
    assert "no ref named 'tags/v1'" in invoke("ref", "get", "tags/v1", code=1).stderr
    assert [line.split()[0] for line in invoke("ref", "ls").stdout.splitlines()] == [
        "flows/p/one",
        "flows/p/two",
    ]


def test_set_with_expect_moves_the_ref(invoke: Invoke, tree: Path) -> None:
    a, b = _two_bundles(invoke, tree)
    invoke("ref", "set", "--create", "flows/x", a)
    doc = json.loads(invoke("ref", "set", "flows/x", b, "--expect", a, json=True).stdout)
    assert doc == {"name": "flows/x", "digest": b, "previous": a}
    assert invoke("ref", "get", "flows/x").stdout.strip() == b


def test_set_with_wrong_expect_exits_3_naming_the_current_value(invoke: Invoke, tree: Path) -> None:
    a, b = _two_bundles(invoke, tree)
    invoke("ref", "set", "flows/x", a)
    result = invoke("ref", "set", "flows/x", b, "--expect", b, code=3)
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert a in result.stderr and "flows/x" in result.stderr
    unknown = "blake3:" + "ab" * 32
    result = invoke("ref", "set", "flows/x", b, "--expect", unknown, code=3)
    assert a in result.stderr
    assert invoke("ref", "get", "flows/x").stdout.strip() == a


def test_create_on_existing_ref_exits_3(invoke: Invoke, tree: Path) -> None:
    a, b = _two_bundles(invoke, tree)
    invoke("ref", "set", "--create", "flows/x", a)
    result = invoke("ref", "set", "--create", "flows/x", b, code=3)
    assert a in result.stderr
    doc = json.loads(invoke("ref", "set", "--create", "flows/x", b, json=True, code=3).stderr)
    assert doc["type"] == "RefConflict" and doc["exit_code"] == 3 and doc["current"] == a
    assert invoke("ref", "get", "flows/x").stdout.strip() == a


def test_expect_and_create_together_is_a_usage_error(invoke: Invoke, tree: Path) -> None:
    a, _ = _two_bundles(invoke, tree)
    result = invoke("ref", "set", "--create", "--expect", a, "flows/x", a, code=2)
    assert "--expect and --create" in result.stderr


def test_rm_with_expect(invoke: Invoke, tree: Path) -> None:
    a, b = _two_bundles(invoke, tree)
    invoke("ref", "set", "flows/x", a)
    result = invoke("ref", "rm", "flows/x", "--expect", b, code=3)
    assert a in result.stderr
    doc = json.loads(invoke("ref", "rm", "flows/x", "--expect", a, json=True).stdout)
    assert doc == {"name": "flows/x", "removed": a}
    invoke("ref", "rm", "flows/x", code=1)


def test_set_to_an_absent_object_fails(invoke: Invoke) -> None:
    result = invoke("ref", "set", "flows/x", "blake3:" + "cd" * 32, code=1)
    assert result.stderr.startswith("flowpack: error: ")
    assert invoke("ref", "ls").stdout == ""


def test_invalid_ref_name_is_a_usage_error(invoke: Invoke, tree: Path) -> None:
    a = invoke("push", tree).stdout.strip()
    result = invoke("ref", "set", "../escape", a, code=2)
    assert result.stderr.count("\n") == 1 and "invalid ref name" in result.stderr
