"""in-toto Statement v1 with a SLSA Provenance v1 predicate, one per registration.

Each registration record becomes a statement whose *subject* is the bundle (named by the
flow, with its blake3 digest: in-toto's DigestSet allows any algorithm name), and whose
predicate says how it was built::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "<project>/<flow>", "digest": {"blake3": "<hex>"}}],
     "predicateType": "https://slsa.dev/provenance/v1",
     "predicate": {
       "buildDefinition": {
         "buildType": "https://flowpack.dev/registration/v1",
         "externalParameters": {"project", "flow", "version", "source", "storage", "labels"},
         "internalParameters": {"flow_kind"},
         "resolvedDependencies": [
             {"uri": "git+<repo>@<commit>#<path>", "digest": {"gitCommit": ...}}
             (a flow packed from a git repository), or
             {"uri": "git:<commit>", "digest": {"gitCommit": ...}},
             {"uri": "file:<script path>"}, ...]},
       "runDetails": {
         "builder": {"id": "https://flowpack.dev/flowpack@<version>"},
         "metadata": {"invocationId": "blake3:<record>", "startedOn": "<time>"},
         "byproducts": [{"name": "registration-record", "digest": {"blake3": ...}},
                        {"name": "signature", "uri": "ed25519:<key>", ...}]}}}

The statements are unsigned JSON (the flowpack signatures over the records, listed as
byproducts, are what vouch for them; see docs/audit.md); a DSSE envelope can wrap each one.
"""

from __future__ import annotations

from typing import Any

from flowpack.packer.audit import AuditReport
from flowpack.packer.records import Registration

STATEMENT = "https://in-toto.io/Statement/v1"
SLSA = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://flowpack.dev/registration/v1"


def statements(report: AuditReport) -> list[dict[str, Any]]:
    """One in-toto statement per registration the audit read, oldest first."""
    return [statement(report, r) for r in reversed(report.registrations)]


def statement(report: AuditReport, reg: Registration) -> dict[str, Any]:
    """The in-toto Statement v1 / SLSA Provenance v1 for ``reg`` (see the module docstring)."""
    env = dict(reg.environment)
    byproducts: list[dict[str, Any]] = [
        {"name": "registration-record", "digest": {"blake3": reg.digest.hex}},
    ]
    for sig in report.signatures:
        if sig.record == reg.digest and sig.valid:
            byproducts.append(
                {
                    "name": "signature",
                    "uri": str(sig.key),
                    "digest": {"blake3": sig.digest.hex},
                    "annotations": {"key_id": sig.key.key_id, "algorithm": "ed25519"},
                }
            )
    trust = report.trust.get(reg.digest)
    return {
        "_type": STATEMENT,
        "subject": [
            {
                "name": f"{reg.project}/{reg.flow}",
                "digest": {"blake3": reg.bundle.hex},
                "annotations": {"version": reg.version},
            }
        ],
        "predicateType": SLSA,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "project": reg.project,
                    "flow": reg.flow,
                    "version": reg.version,
                    "source": dict(reg.source),
                    "storage": reg.storage,
                    "labels": list(reg.labels),
                },
                "internalParameters": {"flow_kind": reg.flow_kind},
                "resolvedDependencies": _dependencies(reg),
            },
            "runDetails": {
                "builder": {
                    "id": f"https://flowpack.dev/flowpack@{env.get('flowpack', 'unknown')}",
                    "version": {
                        "python": str(dict(env.get("interpreter") or {}).get("version", ""))
                    },
                },
                "metadata": {"invocationId": str(reg.digest), "startedOn": reg.time},
                "byproducts": byproducts,
            },
        },
        "flowpack": {"signer_status": trust.status if trust else "unknown"},
    }


def _dependencies(reg: Registration) -> list[dict[str, Any]]:
    source = dict(reg.source)
    deps: list[dict[str, Any]] = []
    if source.get("kind") == "git" and source.get("commit"):  # packed from a git repository
        commit = str(source["commit"])
        uri = f"git+{source.get('repo', '')}@{commit}"
        path = source.get("path")
        return [{"uri": f"{uri}#{path}" if path else uri, "digest": {"gitCommit": commit}}]
    git = source.get("git")
    if isinstance(git, dict) and git.get("commit"):
        deps.append(
            {
                "uri": f"git:{git['commit']}",
                "digest": {"gitCommit": str(git["commit"])},
                "annotations": {"dirty": bool(git.get("dirty"))},
            }
        )
    if source.get("kind") == "script" and source.get("path"):
        deps.append({"uri": f"file:{source['path']}", "name": "flow-script"})
    if source.get("kind") == "module":
        deps.append({"uri": f"python-module:{source['module']}", "name": "flow-module"})
    return deps
