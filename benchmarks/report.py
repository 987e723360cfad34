"""Rendering results: per-corpus tables of absolute figures, ratios flowpack/peer, the goals.

Input is the list of :class:`PeerResult` a run produced (also saved as JSON beside the work
folder, so a report can be re-rendered), plus the machine description and the start-up figures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

MB = 1 << 20
RSS_LIMIT = 64 * MB
STARTUP_LIMIT = 0.15


@dataclass
class PeerResult:
    """What one peer did on one corpus (times in seconds, sizes in bytes)."""

    corpus: str
    peer: str
    versions: int
    ingest_wall: float = 0.0
    ingest_cpu: float = 0.0
    finish_wall: float = 0.0
    stored: int = 0
    last_added: int = 0
    last_note: str = ""
    restore_wall: float = 0.0
    identical: bool = False
    peak_rss: int = 0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_ingest(self) -> float:
        return self.ingest_wall + self.finish_wall

    @property
    def cores(self) -> float:
        return self.ingest_cpu / self.ingest_wall if self.ingest_wall else 0.0


def num(n: float) -> str:
    return f"{n:,.0f}"


def secs(t: float) -> str:
    return f"{t:.2f} s" if t >= 0.1 else f"{t * 1000:.0f} ms"


def mbytes(n: int) -> str:
    return f"{n / MB:.0f} MB"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def _table(head: list[str], rows: Iterable[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def corpus_section(corpus: str, results: list[PeerResult]) -> list[str]:
    """Absolute figures, then flowpack/peer ratios, then flowpack's S3 requests."""
    n = results[0].versions if results else 0
    lines = [f"## {corpus} ({n} versions)", ""]
    rows = []
    for r in results:
        if r.error:
            rows.append([r.peer, f"**failed**: {r.error[:160]}", "", "", "", "", "", ""])
            continue
        ingest = f"{secs(r.ingest_wall)} (CPU {secs(r.ingest_cpu)})"
        if r.finish_wall:
            ingest += f" (+{secs(r.finish_wall)} gc)"
        last = num(r.last_added) + (f" ({r.last_note})" if r.last_note else "")
        rows.append(
            [
                r.peer,
                ingest,
                f"{r.cores:.2f}",
                num(r.stored),
                last,
                secs(r.restore_wall),
                "yes" if r.identical else "**NO**",
                mbytes(r.peak_rss),
            ]
        )
    head = ["peer", "ingest all versions", "CPU/wall", "stored bytes", "last version adds"]
    head += ["restore last", "identical", "peak RSS"]
    lines += _table(head, rows)
    fp = next((r for r in results if r.peer == "flowpack" and not r.error), None)
    if fp is None:
        return [*lines, ""]
    lines += ["", "Ratios flowpack / peer (below 1: flowpack better):", ""]
    ratio_rows = []
    for r in results:
        if r.peer == "flowpack" or r.error:
            continue
        ratio_rows.append(
            [
                r.peer,
                ratio(fp.total_ingest, r.total_ingest),
                ratio(fp.stored, r.stored),
                ratio(fp.last_added, r.last_added),
                ratio(fp.restore_wall, r.restore_wall),
                ratio(fp.peak_rss, r.peak_rss),
            ]
        )
    head = ["peer", "ingest (incl. gc)", "stored", "last adds", "restore", "peak RSS"]
    lines += _table(head, ratio_rows)
    lines += ["", *s3_lines(fp.extra.get("s3")), ""]
    return lines


def s3_lines(s3: dict[str, Any] | None) -> list[str]:
    if not s3:
        return ["flowpack requests against S3 (moto): not measured"]
    if "error" in s3:
        return [f"flowpack requests against S3 (moto): {s3['error']}"]

    def fmt(c: dict[str, int]) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if not k.startswith("bytes"))
        total = sum(v for k, v in c.items() if not k.startswith("bytes"))
        return f"{total} ({kinds}; {num(c.get('bytes up', 0))} B up)"

    return [
        "flowpack requests against S3 (moto server on this machine, counted at the server):",
        "",
        f"- all pushes: {fmt(s3['all_pushes'])} in {secs(s3['push_wall'])}",
        f"- last push alone: {fmt(s3['last_push'])}",
        f"- pull of the last version: {fmt(s3['pull'])} in {secs(s3.get('pull_wall', 0.0))}",
    ]


Check = Callable[[PeerResult, dict[str, PeerResult]], tuple[str, str, bool] | None]


def _vs(peer: str, attr: str, factor: float = 1.0) -> Check:
    def check(fp: PeerResult, by: dict[str, PeerResult]) -> tuple[str, str, bool] | None:
        other = by.get(peer)
        if other is None or other.error:
            return None
        a, b = getattr(fp, attr), getattr(other, attr)
        return f"{ratio(a, b)} x {peer}", f"<= {factor:.2f} x", a <= b * factor

    return check


GOALS: list[tuple[str, Check]] = [
    ("stored bytes <= git after gc --aggressive", _vs("git", "stored")),
    ("last version adds <= git's thin pack", _vs("git", "last_added")),
    ("ingest >= 3x faster than restic", _vs("restic", "ingest_wall", 1 / 3)),
    ("ingest >= 3x faster than borg", _vs("borg", "ingest_wall", 1 / 3)),
    ("ingest <= git add+commit+gc", _vs("git", "total_ingest")),
    ("restore <= tar+zstd", _vs("tar+zstd", "restore_wall")),
    (
        "both cores used by the first push, all data new (CPU/wall)",
        lambda fp, by: (f"{_first_cores(fp):.2f}", "> 1", _first_cores(fp) > 1.0),
    ),
    (
        "peak RSS <= 64 MB",
        lambda fp, by: (mbytes(fp.peak_rss), "<= 64 MB", fp.peak_rss <= RSS_LIMIT),
    ),
]


def _first_cores(r: PeerResult) -> float:
    """CPU/wall of the first ingest command: the one with the most new data to compress.

    Later pushes of a few changed chunks are mostly interpreter start-up, on one core.
    """
    runs = r.extra.get("per_command") or [[r.ingest_wall, r.ingest_cpu, 0]]
    wall, cpu = runs[0][0], runs[0][1]
    return float(cpu / wall) if wall else 0.0


def goals_section(results: list[PeerResult], startup: dict[str, Any] | None) -> list[str]:
    rows = []
    for corpus in dict.fromkeys(r.corpus for r in results):
        by = {r.peer: r for r in results if r.corpus == corpus}
        fp = by.get("flowpack")
        if fp is None:
            continue
        if fp.error:
            rows.append(["all", corpus, f"failed: {fp.error[:160]}", "", "**missed**"])
            continue
        for goal, check in GOALS:
            got = check(fp, by)
            if got is not None:
                rows.append([goal, corpus, got[0], got[1], "met" if got[2] else "**missed**"])
    if startup and "push_fresh" in startup:
        t = startup["push_fresh"]["mean"]
        rows.append(
            [
                "one requests version pushed from the CLI, start-up included",
                "requests v1",
                secs(t),
                "<= 0.15 s",
                "met" if t <= STARTUP_LIMIT else "**missed**",
            ]
        )
    return ["## Goals", "", *_table(["goal", "corpus", "flowpack", "target", "status"], rows), ""]
