"""in-toto Statement v1 / SLSA Provenance v1, one per registration."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from auditfixtures import make_history
from click.testing import CliRunner

from flowpack.cas.store import Store
from flowpack.cli.main import cli
from flowpack.packer import keys


def test_one_statement_per_registration(store: Store, tmp_path: Path) -> None:
    public = keys.generate()
    history = make_history(store, tmp_path, count=2)
    result = CliRunner().invoke(
        cli, ["--store", store.url or "", "audit", "demo/etl", "--format", "in-toto"]
    )
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert len(docs) == 2
    for doc, version in zip(docs, history.versions, strict=True):
        assert doc["_type"] == "https://in-toto.io/Statement/v1"
        assert doc["predicateType"] == "https://slsa.dev/provenance/v1"
        (subject,) = doc["subject"]
        assert subject == {
            "name": "demo/etl",
            "digest": {"blake3": version.bundle.hex},
            "annotations": {"version": version.version},
        }
        build = doc["predicate"]["buildDefinition"]
        assert build["buildType"] == "https://flowpack.dev/registration/v1"
        assert build["externalParameters"]["flow"] == "etl"
        assert {
            "uri": "file:" + build["externalParameters"]["source"]["path"],
            "name": "flow-script",
        } in build["resolvedDependencies"]
        run = doc["predicate"]["runDetails"]
        assert run["metadata"]["invocationId"] == str(version.record)
        sigs = [b for b in run["byproducts"] if b["name"] == "signature"]
        assert [s["uri"] for s in sigs] == [str(public)]
        assert doc["flowpack"]["signer_status"] == "signed"


def test_the_git_commit_is_a_resolved_dependency(store: Store, tmp_path: Path) -> None:
    from auditfixtures import register
    from flowfixtures import make_project

    root = make_project(tmp_path / "g")
    git = ["git", "-C", str(root), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    register(store, root)
    result = CliRunner().invoke(
        cli, ["--store", store.url or "", "audit", "demo/etl", "--format", "in-toto"]
    )
    (doc,) = json.loads(result.stdout)
    deps = doc["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert deps[0]["uri"] == f"git:{commit}" and deps[0]["digest"] == {"gitCommit": commit}


def test_a_flow_packed_from_git_names_its_repository_and_commit() -> None:
    from flowpack.cas.digest import Digest
    from flowpack.packer.audit import AuditReport
    from flowpack.packer.lookup import FlowName
    from flowpack.packer.provenance import statement
    from flowpack.packer.records import Registration

    commit = "a" * 40
    reg = Registration(
        digest=Digest.of(b"record"),
        flow="etl",
        project="demo",
        bundle=Digest.of(b"bundle"),
        version=1,
        time="2026-01-01T00:00:00+00:00",
        parent=None,
        source={
            "kind": "git",
            "repo": "https://git.example/team/flows",
            "commit": commit,
            "path": "flows/etl.py",
        },
    )
    doc = statement(AuditReport(FlowName("demo", "etl"), registrations=[reg]), reg)
    (dep,) = doc["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert dep == {
        "uri": f"git+https://git.example/team/flows@{commit}#flows/etl.py",
        "digest": {"gitCommit": commit},
    }
    assert doc["flowpack"]["signer_status"] == "unknown"
