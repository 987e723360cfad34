"""The audit as one self-contained HTML page: ``flowpack audit FLOW --html report.html``.

One file, no network: the CSS is inline, there is no script, no font, no image and no link
to anything outside the page.  It shows, newest first, the timeline of registrations (versions)
and runs with who signed each and the signer's standing, the git commit and the entry-script
digest behind each version and each run, the files changed between consecutive versions with
their diffs, and every verification result in colour (green passed, red failed, amber noted).
A record the audit could not read is drawn as a red *damaged* entry; a damaged bundle is
marked on every version and run that names it.  Every text from the store is escaped.
"""

from __future__ import annotations

import difflib
import html
import itertools
import os
from pathlib import Path

from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowpackError
from flowpack.cas.manifest import FileEntry
from flowpack.cas.store import Store
from flowpack.packer.audit import AuditReport
from flowpack.packer.bundle import read_bundle
from flowpack.packer.records import Registration, RunRecord

MAX_DIFF_LINES = 400
MAX_DIFF_BYTES = 256 * 1024

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f8fa;
color:#1f2328}
header{padding:20px 32px;color:#fff}
header.pass{background:#1a7f37}header.fail{background:#cf222e}
header h1{margin:0 0 4px;font-size:22px}header p{margin:0}
main{padding:8px 32px 40px;max-width:1100px}
h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
code,.digest{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
ul.checks{list-style:none;padding:0;margin:0}
ul.checks li{padding:5px 10px;margin:3px 0;border-radius:6px;border-left:5px solid}
ul.checks li.pass{background:#dafbe1;border-color:#1a7f37}
ul.checks li.fail{background:#ffebe9;border-color:#cf222e}
ul.checks li.warn{background:#fff8c5;border-color:#9a6700}
.event{background:#fff;border:1px solid #d0d7de;border-left:6px solid #0969da;border-radius:6px;
padding:10px 14px;margin:10px 0}
.event.run{border-left-color:#8250df}.event.damaged{border-left-color:#cf222e;background:#ffebe9}
.event h3{margin:0 0 6px;font-size:15px}
.event table{border-collapse:collapse}.event td{padding:1px 12px 1px 0;vertical-align:top}
.event td:first-child{color:#59636e;white-space:nowrap}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
color:#fff;margin-left:6px}
.badge.trusted,.badge.success,.badge.ok{background:#1a7f37}
.badge.signed{background:#0969da}
.badge.untrusted,.badge.failed,.badge.damaged{background:#cf222e}
.badge.unsigned{background:#9a6700}
details{margin:8px 0;background:#fff;border:1px solid #d0d7de;border-radius:6px}
summary{padding:6px 10px;cursor:pointer;font-weight:600}
pre.diff{margin:0;padding:8px 10px;overflow-x:auto;font:12px/1.4 ui-monospace,monospace;
border-top:1px solid #d0d7de}
pre.diff span{display:block;min-height:1.4em}
pre.diff .add{background:#dafbe1;color:#116329}
pre.diff .del{background:#ffebe9;color:#82071e}
pre.diff .hunk{color:#0969da}
.muted{color:#59636e}
"""


def write_report(store: Store, report: AuditReport, out: Path) -> None:
    """Write the page for ``report`` (``store`` holds its records and bundles) to ``out``,
    atomically (a temporary file renamed into place)."""
    page = render(store, report)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render(store: Store, report: AuditReport) -> str:
    """The whole page as text (see the module docstring)."""
    verdict = "pass" if report.ok else "fail"
    title = f"Audit of {report.flow}: {'passed' if report.ok else 'FAILED'}"
    summary = (
        f"{len(report.registrations)} versions, {len(report.runs)} runs,"
        f" {len(report.bundles)} bundles re-verified,"
        f" {sum(s.valid for s in report.signatures)} of {len(report.signatures)} signatures"
        f" verify, {len(report.problems)} problems"
    )
    body = [
        f'<header class="{verdict}" id="verdict"><h1>{_e(title)}</h1><p>{_e(summary)}</p>'
        "</header><main>",
        _trust_section(report),
        _checks(report),
        _timeline(report, _scripts(store, report)),
        _changes(store, report),
        "</main>",
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _trust_section(report: AuditReport) -> str:
    if report.trusted_keys is None:
        return (
            '<p class="muted" id="trusted-keys">No trusted key was given: signatures are'
            " verified, but no signer is judged.</p>"
        )
    keys = "".join(f"<li><code>{_e(k)}</code></li>" for k in report.trusted_keys)
    return f'<h2>Trusted keys</h2><ul id="trusted-keys">{keys}</ul>'


def _checks(report: AuditReport) -> str:
    items = [f'<li class="check fail">{_e(p)}</li>' for p in report.problems]
    items += [f'<li class="check warn">{_e(n)}</li>' for n in report.notes]
    for digest, problem in report.bundles.items():
        if problem is None:
            items.append(
                f'<li class="check pass">bundle <code>{_e(digest)}</code> re-verified:'
                " manifest, every chunk, every file digest</li>"
            )
    for sig in report.signatures:
        if sig.valid:
            items.append(
                f'<li class="check pass">signature <code>{_e(sig.digest.short)}</code> of'
                f" record <code>{_e(sig.record.short)}</code> verifies with key"
                f" {_e(sig.key.key_id)}</li>"
            )
    if not report.damaged:
        items.append(
            f'<li class="check pass">registration chain: {len(report.registrations)} records,'
            f" every link intact; run chain: {len(report.runs)} records, every link intact</li>"
        )
    return f'<h2>Verification</h2><ul class="checks" id="checks">{"".join(items)}</ul>'


def _scripts(store: Store, report: AuditReport) -> dict[Digest, str]:
    """For each readable bundle: its entry script (or module, or pickle) and that file's
    digest, as HTML."""
    out: dict[Digest, str] = {}
    for digest, problem in report.bundles.items():
        if problem is not None:
            continue
        try:
            bundle = read_bundle(store, digest)
        except FlowpackError:
            continue
        entry = bundle.info.get("entry") or bundle.info.get("file")
        files = {f.path: f for f in bundle.manifest.files}
        if isinstance(entry, str) and entry in files:
            out[digest] = f"{_e(entry)} {_code(files[entry].digest)}"
        else:
            out[digest] = _e(f"{bundle.kind} {bundle.info.get('module') or ''}".strip())
    return out


def _timeline(report: AuditReport, scripts: dict[Digest, str]) -> str:
    events: list[tuple[str, str]] = []
    for reg in report.registrations:
        events.append((reg.time, _registration_card(report, reg, scripts.get(reg.bundle))))
    by_digest = {r.digest: r for r in report.registrations}
    for run in report.runs:
        card = _run_card(report, run, by_digest.get(run.registration), scripts.get(run.bundle))
        events.append((run.start, card))
    events.sort(key=lambda e: e[0], reverse=True)
    cards = [card for _, card in events]
    for what, digest, why in report.damaged:
        cards.append(
            f'<div class="event damaged" data-record="{_e(digest)}"><h3>Damaged {_e(what)} record'
            f'<span class="badge damaged">DAMAGED</span></h3><table>'
            f"{_row('record', _code(digest))}{_row('problem', _e(why))}"
            f"{_row('meaning', 'nothing older in this chain can be read')}</table></div>"
        )
    return f'<h2>Timeline</h2><div id="timeline">{"".join(cards)}</div>'


def _row(label: str, value: str) -> str:
    return f"<tr><td>{_e(label)}</td><td>{value}</td></tr>"


def _code(value: object) -> str:
    return f'<code class="digest">{_e(value)}</code>'


def _signer(report: AuditReport, digest: Digest) -> tuple[str, str]:
    trust = report.trust.get(digest)
    status = trust.status if trust else "unsigned"
    keys = ", ".join(trust.keys) if trust and trust.keys else "nobody"
    return f'<span class="badge {status}">{_e(status)}</span>', keys


def _bundle_badge(report: AuditReport, bundle: Digest) -> str:
    problem = report.bundles.get(bundle)
    if problem is None:
        return f'{_code(bundle)} <span class="badge ok">verified</span>'
    return f'{_code(bundle)} <span class="badge damaged">DAMAGED</span> {_e(problem)}'


def _source(reg: Registration) -> str:
    source = dict(reg.source)
    where = str(source.get("path") or source.get("module") or source.get("kind") or "-")
    git = source.get("git") or (source if source.get("kind") == "git" else None)
    if source.get("kind") == "git":
        where = f"{source.get('repo', '')} {source.get('path', '')}".strip() or "git"
    if isinstance(git, dict) and git.get("commit"):
        dirty = " (uncommitted changes)" if git.get("dirty") else ""
        return f"{_e(where)} at git commit {_code(git['commit'])}{_e(dirty)}"
    return _e(where)


def _registration_card(report: AuditReport, reg: Registration, script: str | None) -> str:
    badge, signers = _signer(report, reg.digest)
    damaged = " damaged" if report.bundles.get(reg.bundle) else ""
    return (
        f'<div class="event registration{damaged}" data-record="{_e(reg.digest)}">'
        f"<h3>Version {reg.version} registered{badge}</h3><table>"
        + _row("time", _e(f"{reg.time} on {reg.host}"))
        + _row("signed by", _e(signers))
        + _row("source", _source(reg))
        + _row("entry script", script or "-")
        + _row("bundle", _bundle_badge(report, reg.bundle))
        + _row("record", _code(reg.digest))
        + _row("labels", _e(", ".join(reg.labels) or "-"))
        + "</table></div>"
    )


def _run_card(
    report: AuditReport, run: RunRecord, reg: Registration | None, script: str | None
) -> str:
    badge, signers = _signer(report, run.digest)
    status = f'<span class="badge {_e(run.status)}">{_e(run.status)}</span>'
    damaged = " damaged" if report.bundles.get(run.bundle) else ""
    source = _source(reg) if reg else "registration not in the chain"
    rows = (
        _row("time", _e(f"{run.start} to {run.end} on {run.host}"))
        + _row("signed by", _e(signers))
        + _row("ran", f"version {run.version} from {source}")
        + _row("entry script", script or "-")
        + _row("bundle", _bundle_badge(report, run.bundle))
        + _row("record", _code(run.digest))
    )
    if run.error:
        rows += _row("error", _e(run.error))
    return (
        f'<div class="event run{damaged}" data-record="{_e(run.digest)}">'
        f"<h3>Run of version {run.version}{status}{badge}</h3><table>{rows}</table></div>"
    )


def _changes(store: Store, report: AuditReport) -> str:
    regs = list(reversed(report.registrations))  # oldest first
    parts: list[str] = []
    for old, new in itertools.pairwise(regs):
        if old.bundle == new.bundle:
            continue
        parts.append(
            f'<h3 id="changes-v{new.version}">Version {old.version} &rarr; {new.version}</h3>'
            + _bundle_diff(store, old.bundle, new.bundle)
        )
    if not parts:
        parts.append('<p class="muted">Only one version: nothing to compare.</p>')
    return f'<h2>Files changed between versions</h2><div id="changes">{"".join(parts)}</div>'


def _files(store: Store, digest: Digest) -> dict[str, FileEntry] | None:
    try:
        return {f.path: f for f in read_bundle(store, digest).manifest.files}
    except FlowpackError:
        return None


def _bundle_diff(store: Store, old: Digest, new: Digest) -> str:
    before, after = _files(store, old), _files(store, new)
    if before is None or after is None:
        return '<p class="check fail">a bundle cannot be read: no diff</p>'
    out = []
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a is not None and b is not None and a.digest == b.digest:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        out.append(
            f'<details open class="file {change}"><summary>{_e(change)}: {_e(path)}</summary>'
            f"{_diff(store, path, a, b)}</details>"
        )
    return "".join(out) or '<p class="muted">same files (metadata changed)</p>'


def _text(store: Store, entry: FileEntry | None) -> list[str] | None:
    if entry is None:
        return []
    if entry.size > MAX_DIFF_BYTES:
        return None
    try:
        return store.file_bytes(entry).decode("utf-8").splitlines()
    except (UnicodeDecodeError, FlowpackError):
        return None


def _diff(store: Store, path: str, a: FileEntry | None, b: FileEntry | None) -> str:
    old, new = _text(store, a), _text(store, b)
    if old is None or new is None:
        sizes = f"{a.size if a else 0} -> {b.size if b else 0} bytes"
        return f'<pre class="diff">binary or large file, {_e(sizes)}</pre>'
    lines = list(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}", lineterm=""))
    shown = []
    for line in lines[:MAX_DIFF_LINES]:
        cls = "hunk" if line.startswith("@@") else "add" if line[:1] == "+" else ""
        cls = "del" if line[:1] == "-" and not line.startswith("---") else cls
        cls = "" if line.startswith(("+++", "---")) else cls
        shown.append(f'<span class="{cls or "ctx"}">{_e(line)}</span>')
    if len(lines) > MAX_DIFF_LINES:
        shown.append(f'<span class="ctx">... {len(lines) - MAX_DIFF_LINES} more lines</span>')
    return f'<pre class="diff">{"".join(shown)}</pre>'
