"""The audit as one self-contained HTML page (filled in below)."""

from __future__ import annotations

from pathlib import Path

from flowpack.cas.store import Store
from flowpack.packer.audit import AuditReport


def write_report(store: Store, report: AuditReport, out: Path) -> None:
    raise NotImplementedError
