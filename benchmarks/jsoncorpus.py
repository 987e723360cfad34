"""A JSON-heavy corpus: successive releases of a package that ships API model definitions.

Each version is laid out like a release of an SDK's data package: one folder per service and
API version (``data/<service>/<date>/``) holding a large ``service-2.json`` (operations and
shapes with documentation, indented), ``paginators-1.json``, often ``waiters-2.json`` and
``examples-1.json``, and for half of the services an ``endpoint-rule-set-1.json.gz``.
At full scale a version has about 1,500 files and 40 MB, about 240 of them gzipped.

Between versions about 12 % of the services change (operations and shapes added, documentation
reworded, members added), a few services are added, and now and then a service gets a new API
version folder whose files resemble the old folder's (a new path for similar content, as real
releases do).  Everything is a pure function of ``(seed, scale, version)``: the same arguments
give the same bytes, and gzip members carry no timestamp.

    python benchmarks/jsoncorpus.py DEST --versions 20 [--scale 0.25] [--seed 1]   # DEST/01..20
    python benchmarks/jsoncorpus.py DEST --in-place --version 7                    # one folder

``--in-place`` rewrites only the files that changed since the version the folder holds (so
unchanged files keep their mtime, as a working copy would).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SERVICES = 470
CHANGE = 0.12  # probability that a service changes in a version
ELEMENT_CHANGE = 0.15  # probability that an element of a changed service changes
NEW_SERVICES = 3  # services added per version
NEW_API_VERSION = 0.01  # probability that a changed service gets a new API-version folder
MARKER = ".jsoncorpus-version"


def _h(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    d = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(d, "little") / 2**64


def _rng(*parts: object) -> random.Random:
    return random.Random(hashlib.blake2b(repr(parts).encode(), digest_size=16).digest())


class Corpus:
    """The corpus for one seed and scale."""

    def __init__(self, seed: int = 1, scale: float = 1.0) -> None:
        self.seed = seed
        self.n_services = max(4, int(SERVICES * scale))
        r = _rng(seed, "vocab")
        letters = "abcdefghijklmnopqrstuvwxyz"
        self.words = [
            "".join(r.choice(letters) for _ in range(r.randint(2, 11))) for _ in range(3000)
        ]
        self.nouns = [w.capitalize() for w in self.words[:600]]

    # -- which service changes when ------------------------------------------------------

    def services(self, version: int) -> list[int]:
        return list(range(self.n_services + NEW_SERVICES * (version - 1)))

    def born(self, svc: int) -> int:
        return 1 if svc < self.n_services else 1 + (svc - self.n_services) // NEW_SERVICES + 1

    def revision(self, svc: int, version: int) -> int:
        """How many times ``svc`` has changed up to ``version`` (0 at its first version)."""
        return sum(
            1 for t in range(self.born(svc) + 1, version + 1) if _h(self.seed, svc, t) < CHANGE
        )

    def api_dates(self, svc: int, version: int) -> list[str]:
        """The API-version folders of ``svc`` at ``version`` (oldest first)."""
        dates = [f"20{10 + svc % 12:02d}-{1 + svc % 12:02d}-{1 + svc % 28:02d}"]
        for t in range(self.born(svc) + 1, version + 1):
            if (
                _h(self.seed, svc, t) < CHANGE
                and _h(self.seed, svc, t, "api") < NEW_API_VERSION * 8
            ):
                dates.append(f"{2023 + t // 12}-{1 + t % 12:02d}-{1 + svc % 28:02d}")
        return dates

    # -- content ---------------------------------------------------------------------------

    def _text(self, r: random.Random, lo: int, hi: int) -> str:
        n = r.randint(lo, hi)
        return "<p>" + " ".join(r.choices(self.words, k=n)) + ".</p>"

    def _size(self, svc: int) -> int:
        """Operations in ``svc`` at its first version: most small, a few huge (log-normal)."""
        return max(2, min(400, int(_rng(self.seed, svc, "size").lognormvariate(2.6, 1.0))))

    def _element(self, svc: int, rev: int, j: int, what: str) -> random.Random:
        """The RNG for element ``j``: reseeded only when that element changes."""
        changes = sum(
            1 for t in range(1, rev + 1) if _h(self.seed, svc, j, what, t) < ELEMENT_CHANGE
        )
        return _rng(self.seed, svc, j, what, changes)

    def service_model(self, svc: int, rev: int, date: str) -> dict[str, Any]:
        name = f"{self.nouns[svc % len(self.nouns)]}{svc}"
        n_ops = self._size(svc) + rev // 2
        ops: dict[str, Any] = {}
        shapes: dict[str, Any] = {}
        for j in range(n_ops):
            r = self._element(svc, rev, j, "op")
            verb = ("Get", "List", "Create", "Delete", "Update", "Describe", "Put")[j % 7]
            op = f"{verb}{self.nouns[(svc * 7 + j) % len(self.nouns)]}{j}"
            ops[op] = {
                "name": op,
                "http": {"method": "POST" if j % 3 else "GET", "requestUri": f"/{op.lower()}"},
                "input": {"shape": f"{op}Request"},
                "output": {"shape": f"{op}Response"},
                "errors": [{"shape": f"E{k}"} for k in r.sample(range(12), r.randint(0, 4))],
                "documentation": self._text(r, 8, 60),
            }
            for suffix in ("Request", "Response"):
                rs = self._element(svc, rev, j, suffix)
                members = {
                    f"{self.nouns[rs.randrange(len(self.nouns))]}{k}": {
                        "shape": rs.choice(("String", "Integer", "Boolean", "Timestamp", "Tags")),
                        "documentation": self._text(rs, 4, 30),
                    }
                    for k in range(rs.randint(1, 9) + (rev // 4 if suffix == "Request" else 0))
                }
                shapes[f"{op}{suffix}"] = {
                    "type": "structure",
                    "required": sorted(members)[: rs.randint(0, 2)],
                    "members": members,
                    "documentation": self._text(rs, 0, 20),
                }
        meta = {
            "apiVersion": date,
            "endpointPrefix": name.lower(),
            "protocol": ("json", "rest-json", "query")[svc % 3],
            "serviceFullName": f"Example {name} Service",
            "serviceId": name,
            "signatureVersion": "v4",
            "uid": f"{name.lower()}-{date}",
        }
        return {"version": "2.0", "metadata": meta, "operations": ops, "shapes": shapes}

    def files(self, svc: int, version: int) -> Iterator[tuple[str, bytes]]:
        """The files of ``svc`` at ``version``: (relative path, bytes)."""
        rev = self.revision(svc, version)
        dates = self.api_dates(svc, version)
        name = f"{self.nouns[svc % len(self.nouns)].lower()}{svc}"
        for i, date in enumerate(dates):
            srev = rev if i == len(dates) - 1 else min(rev, i * 2)
            base = f"data/{name}/{date}"
            model = self.service_model(svc, srev, date)
            yield f"{base}/service-2.json", _dump(model, indent=2)
            ops = sorted(model["operations"])
            pag = {
                "pagination": {
                    o: {"input_token": "NextToken", "output_token": "NextToken", "limit_key": "Max"}
                    for o in ops
                    if o.startswith(("List", "Describe"))
                }
            }
            yield f"{base}/paginators-1.json", _dump(pag, indent=1)
            if svc % 2 == 0:
                waiters = {
                    "version": 2,
                    "waiters": {
                        f"{o}Done": {"operation": o, "delay": 15, "maxAttempts": 40}
                        for o in ops[::5]
                    },
                }
                yield f"{base}/waiters-2.json", _dump(waiters, indent=2)
            if svc % 3 == 0:
                yield (
                    f"{base}/examples-1.json",
                    _dump({"version": "1.0", "examples": {o: [] for o in ops[::3]}}, indent=2),
                )
            if svc % 2 == 1:
                rules = self.rule_set(svc, srev)
                yield (
                    f"{base}/endpoint-rule-set-1.json.gz",
                    gzip.compress(_dump(rules, indent=None), compresslevel=6, mtime=0),
                )

    def rule_set(self, svc: int, rev: int) -> dict[str, Any]:
        n = 20 + self._size(svc) // 2
        rules = []
        for j in range(n):
            r = self._element(svc, rev, j, "rule")
            rules.append(
                {
                    "conditions": [
                        {
                            "fn": "booleanEquals",
                            "argv": [{"ref": f"Use{self.nouns[r.randrange(600)]}"}, True],
                        }
                        for _ in range(r.randint(1, 4))
                    ],
                    "endpoint": {
                        "url": f"https://{r.choice(self.words)}.{{Region}}.example.com",
                        "properties": {},
                        "headers": {},
                    },
                    "type": "endpoint",
                }
            )
        return {"version": "1.0", "parameters": {"Region": {"type": "String"}}, "rules": rules}

    def tree(self, version: int) -> Iterator[tuple[str, bytes]]:
        """Every file of ``version``."""
        yield (
            "setup.py",
            f"import setuptools\nsetuptools.setup(name='api', version='{version}')\n".encode(),
        )
        yield "apimodels/__init__.py", f"__version__ = '1.{version}.0'\n".encode()
        for svc in self.services(version):
            yield from self.files(svc, version)


def _dump(obj: Any, indent: int | None) -> bytes:
    return json.dumps(obj, indent=indent, sort_keys=False).encode() + b"\n"


def write_version(corpus: Corpus, dest: Path, version: int) -> tuple[int, int]:
    """Write ``version`` into an empty ``dest``: (files, bytes)."""
    n = size = 0
    for rel, data in corpus.tree(version):
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        n += 1
        size += len(data)
    return n, size


def update_in_place(corpus: Corpus, dest: Path, version: int) -> tuple[int, int]:
    """Turn ``dest`` (holding the version in its marker, or nothing) into ``version``.

    Only services whose revision or folders changed are regenerated; files that vanished are
    removed.  Returns (files written, bytes written).
    """
    marker = dest.parent / (dest.name + MARKER)
    have = int(marker.read_text()) if marker.exists() and dest.exists() else 0
    if have == 0 or have > version:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        out = write_version(corpus, dest, version)
        marker.write_text(str(version))
        return out
    n = size = 0
    for rel, data in _changed(corpus, have, version):
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        n += 1
        size += len(data)
    marker.write_text(str(version))
    return n, size


def _changed(corpus: Corpus, old: int, new: int) -> Iterator[tuple[str, bytes]]:
    it = corpus.tree(new)
    yield next(it)
    yield next(it)
    for svc in corpus.services(new):
        if svc not in corpus.services(old) or (
            corpus.revision(svc, old) != corpus.revision(svc, new)
            or corpus.api_dates(svc, old) != corpus.api_dates(svc, new)
        ):
            yield from corpus.files(svc, new)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dest", type=Path)
    p.add_argument("--versions", type=int, default=20, help="write DEST/01..NN")
    p.add_argument("--version", type=int, help="with --in-place: the version to hold")
    p.add_argument("--in-place", action="store_true")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of the ~470 services")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    corpus = Corpus(a.seed, a.scale)
    if a.in_place:
        n, size = update_in_place(corpus, a.dest, a.version or 1)
        print(f"{a.dest}: version {a.version}: wrote {n} files, {size:,} bytes", file=sys.stderr)
        return 0
    for v in range(1, a.versions + 1):
        d = a.dest / f"{v:02d}"
        if d.exists():
            continue
        tmp = a.dest / f"{v:02d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        n, size = write_version(corpus, tmp, v)
        tmp.rename(d)
        print(f"{d}: {n} files, {size:,} bytes", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
