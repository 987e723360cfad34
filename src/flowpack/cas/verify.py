"""``verify``: find every damaged object in a store and say what depends on it.

Without ``targets`` everything is checked (``all_refs`` changes nothing then: a flag never
checks less than no flag): the config decodes; every index file hashes to its name and
decodes; every pack an index lists exists with the
recorded size and holds its frames; every ref value verifies; every manifest a ref reaches
exists, decodes, and has all its chunks and links indexed (records link to bundles and parent
records).  ``targets`` restricts the manifest walk to those manifests (``all_refs`` adds every
ref's target) and the pack checks to the packs they use; damage no ref reaches (an
unreferenced pack, a loose index entry) is found only without ``targets``.

With ``read_data`` every pack in scope is also read whole: it must hash to its name, its
trailer must agree with the index files, and every frame must decode (against its bases) to
records that re-hash to their digests; then every file of every reached manifest must
reassemble to its file digest.  ``subset=(n, t)`` reads only the packs whose name, as a number
from its first 8 hex digits, is ``n - 1`` modulo ``t`` (files are then checked only when all
their chunks lie in those packs), so ``t`` runs with ``n = 1..t`` read everything once.

On a location that cannot list its blobs (``listable`` False) the packs in scope are checked
by ``stat`` instead of a listing of ``packs/`` and unindexed packs are not counted (see
:mod:`flowpack.cas.guards`).

Damage is collected, never raised; only a backend failure that prevents checking raises.  Each
:class:`Problem` names the damaged object (``config``, ``index blake3:…``, ``pack blake3:…``,
``ref NAME``, ``object blake3:…``, ``file blake3:<manifest>:<path>``, ``gc/condemned-…``) and
lists what depends on it: refs (``ref NAME``), manifests (``blake3:…``) and files
(``blake3:<manifest>:<path>``), found by walking the reverse of ref → manifest → file →
chunk → pack (and delta record → base) edges.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import blake3

from flowpack.cas.condemned import load_notices
from flowpack.cas.config import load_config
from flowpack.cas.content import Content, Progress
from flowpack.cas.digest import Digest
from flowpack.cas.errors import (
    FlowpackError,
    IncompatibleStore,
    IntegrityError,
    NotFound,
    UnsafePath,
    UsageError,
)
from flowpack.cas.frameheads import delta_bases
from flowpack.cas.index import Index, IndexFile, PackEntry
from flowpack.cas.manifest import decode_manifest
from flowpack.cas.meter import Meter
from flowpack.cas.pack import MANIFEST
from flowpack.cas.packcheck import check_bytes, check_layout
from flowpack.cas.reach import scan_refs
from flowpack.cas.reader import ChunkReader, pack_key
from flowpack.cas.spill import FrameSpill
from flowpack.cas.streaming import iter_chunks

#: A node of the dependency graph: ("ref", name), ("manifest", hex), ("file", hex, path),
#: ("object", hex), ("pack", hex), or a label for things nothing depends on.
Node = tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """One damaged object, what is wrong with it, and what depends on it."""

    object: str
    message: str
    referenced_by: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "message": self.message,
            "referenced_by": list(self.referenced_by),
        }


@dataclass(frozen=True)
class VerifyReport:
    """Every problem found, and how many things of each sort were checked."""

    problems: list[Problem]
    checked: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
            "checked": dict(self.checked),
        }


def verify(
    store: Content,
    targets: Sequence[Digest] | None = None,
    *,
    all_refs: bool = False,
    read_data: bool = False,
    subset: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check ``store`` as the module docstring describes; never raises for damage."""
    if subset is not None:
        n, t = subset
        if t < 1 or not 1 <= n <= t:
            raise UsageError(f"subset {n}/{t}: need 1 <= N <= T")
    v = _Verifier(store, progress)
    everything = not targets  # all_refs adds to the whole-store check, never narrows it
    v.check_config()
    v.load_index(notices=everything)
    roots: list[tuple[Node, Digest]] = [(("target", str(d)), d) for d in targets or ()]
    if everything or all_refs:
        roots += v.check_refs()
    v.walk(roots)
    packs = v.index.packs() if everything else v.used_packs()
    v.check_layouts(packs, orphans=everything)
    if read_data:
        selected = [p for p in packs if _in_subset(p.pack.hex, subset)]
        try:
            v.read_packs(selected)
            v.check_files({p.pack.hex for p in selected}, whole=subset is None)
        finally:
            v.reader.clear()  # give the process's budget back what the check held
    return v.report()


def _in_subset(hex_: str, subset: tuple[int, int] | None) -> bool:
    return subset is None or int(hex_[:8], 16) % subset[1] == subset[0] - 1


class _Verifier:
    def __init__(self, store: Content, progress: Progress | None) -> None:
        self.store = store
        self.blobs = store.blobs
        self.listable = store.blobs.capabilities.listable
        self.progress = progress
        self.index = Index()
        self.reader = ChunkReader(store.blobs, self.index)
        self.problems: dict[Node, list[str]] = {}
        self.labels: dict[Node, str] = {}
        self.needed_by: dict[Node, set[Node]] = {}
        self.checked: dict[str, int] = {}
        self.manifests: dict[Digest, list[tuple[str, Digest, tuple[Digest, ...]]]] = {}
        self.bad_records: set[Digest] = set()
        self.broken_packs: set[str] = set()

    # -- bookkeeping ---------------------------------------------------------------------

    def problem(self, node: Node, label: str, message: str) -> None:
        self.labels.setdefault(node, label)
        msgs = self.problems.setdefault(node, [])
        if message not in msgs:
            msgs.append(message)

    def edge(self, needed: Node, by: Node) -> None:
        self.needed_by.setdefault(needed, set()).add(by)

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    def tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    # -- config, index files, refs -------------------------------------------------------

    def check_config(self) -> None:
        try:
            cfg = load_config(self.blobs)
        except (IntegrityError, IncompatibleStore) as exc:
            self.problem(("config",), "config", str(exc))
            return
        if cfg is None and self.listable and next(iter(self.blobs.iter_keys("packs/")), None):
            self.problem(("config",), "config", "is missing but the store holds packs")

    def load_index(self, *, notices: bool) -> None:
        names = [i.key for i in self.blobs.iter_keys("index/")]
        good: dict[str, IndexFile] = {}
        for i, key in enumerate(names):
            self.tick("index", i, len(names))
            name = key[len("index/") :]
            node: Node = ("index", name)
            label = f"index blake3:{name}"
            try:
                data = self.blobs.get(key)
            except NotFound:
                continue  # removed by a concurrent gc after the listing
            if Digest.of(data).hex != name:
                self.problem(node, label, "its bytes do not match its name")
                continue
            try:
                good[name] = IndexFile.decode(data, label)
            except IntegrityError as exc:
                self.problem(node, label, str(exc))
                continue
            self.count("indexes")
        if names:
            self.tick("index", len(names), len(names))
        found = load_notices(self.blobs)
        if notices:
            for key, msg in found.damaged.items():
                self.problem(("notice", key), key, msg)
        self.index.replace(good, found.condemned())

    def check_refs(self) -> list[tuple[Node, Digest]]:
        scan = scan_refs(self.store.refs)
        for name, msg in sorted(scan.damaged.items()):
            self.problem(("ref", name), f"ref {name}", msg)
        self.count("refs", len(scan.good) + len(scan.damaged))
        return [(("ref", name), d) for name, d in sorted(scan.good.items())]

    # -- the manifest walk ---------------------------------------------------------------

    def walk(self, roots: list[tuple[Node, Digest]]) -> None:
        todo = list(reversed(roots))
        seen: set[Digest] = set()
        while todo:
            parent, d = todo.pop()
            self.edge(("manifest", d.hex), parent)
            if d in seen:
                continue
            seen.add(d)
            self.tick("manifests", len(seen), 0)
            if not self.locate(d, ("manifest", d.hex)):
                continue
            loc = self.index.get(d)
            if loc is None or loc.kind != MANIFEST:
                continue  # a linked data object: indexed, and read with its pack
            try:
                manifest = decode_manifest(self.reader.get(d), d)
            except (IntegrityError, UnsafePath) as exc:
                self.problem(("object", d.hex), f"object {d}", str(exc))
                continue
            self.count("manifests")
            files = []
            for f in manifest.files:
                fnode: Node = ("file", d.hex, f.path)
                self.edge(fnode, ("manifest", d.hex))
                for c in f.chunks:
                    self.locate(c, fnode)
                files.append((f.path, f.digest, f.chunks))
                self.count("files")
            self.manifests[d] = files
            todo.extend((("manifest", d.hex), link) for link in reversed(manifest.links))
        self.checked["objects"] = sum(1 for n in self.needed_by if n[0] == "object")

    def locate(self, d: Digest, user: Node) -> bool:
        """Record that ``user`` needs object ``d``; report it if no index lists it."""
        onode: Node = ("object", d.hex)
        self.edge(onode, user)
        if d.size == 0:
            return True
        loc = self.index.get(d)
        if loc is None:
            self.problem(onode, f"object {d}", "is missing: no index lists it")
            return False
        self.edge(("pack", loc.pack.hex), onode)
        return True

    def used_packs(self) -> list[PackEntry]:
        used = {n[1] for n in self.needed_by if n[0] == "pack"}
        return sorted(
            (p for p in self.index.packs() if p.pack.hex in used), key=lambda p: p.pack.hex
        )

    # -- packs ---------------------------------------------------------------------------

    def check_layouts(self, packs: list[PackEntry], *, orphans: bool) -> None:
        sizes = self.pack_sizes(packs)
        for entry in packs:
            for msg in check_layout(entry, sizes.get(entry.pack.hex)):
                self.problem(("pack", entry.pack.hex), f"pack {entry.pack}", msg)
                self.broken_packs.add(entry.pack.hex)
            self.count("packs")
        if orphans and self.listable:
            listed = {p.pack.hex for p in self.index.packs()}
            self.checked["unindexed_packs"] = sum(1 for h in sizes if h not in listed)

    def pack_sizes(self, packs: list[PackEntry]) -> dict[str, int]:
        """Stored sizes by pack hex: from one listing, else (not listable) one stat per pack."""
        if self.listable:
            return {i.key[len("packs/") :]: i.size for i in self.blobs.iter_keys("packs/")}
        sizes: dict[str, int] = {}
        for entry in packs:
            try:
                sizes[entry.pack.hex] = self.blobs.stat(pack_key(entry.pack)).size
            except NotFound:
                pass  # reported by the layout check as missing
        return sizes

    def read_packs(self, packs: list[PackEntry]) -> None:
        """Read and check every frame of ``packs``; the bases their deltas need are planned
        reads (each base frame decoded once, see :meth:`ChunkReader.plan`)."""
        with FrameSpill() as spill:
            plan = self.reader.plan(self._base_reads(packs), spill, self.progress)
            try:
                self._read_packs(packs)
            finally:
                self.reader.unplan(plan)

    def _base_reads(self, packs: list[PackEntry]) -> Iterator[Digest]:
        """Every base of every delta frame of ``packs``, once per frame that names it (a
        pack whose headers cannot be read is left to its check, which reports it)."""
        for entry in packs:
            try:
                bases = delta_bases(self.blobs, entry)
            except (IntegrityError, NotFound):
                continue
            for frame_bases in bases:
                yield from frame_bases

    def _read_packs(self, packs: list[PackEntry]) -> None:
        meter = Meter(self.progress, "read", sum(p.pack.size for p in packs))  # pack bytes
        for entry in packs:
            try:
                data = self.blobs.get(pack_key(entry.pack))
            except NotFound:
                self.broken_packs.add(entry.pack.hex)
                meter.add(entry.pack.size)
                continue  # reported by the layout check
            self.count("read_packs")
            self.count("read_bytes", len(data))
            self.reader.budget.hold(len(data))  # the caches give way while the pack is held
            try:
                result = check_bytes(data, entry, self.base)
            finally:
                self.reader.budget.release(len(data))
            del data
            node: Node = ("pack", entry.pack.hex)
            for msg in result.problems:
                self.problem(node, f"pack {entry.pack}", msg)
            if result.problems:
                self.broken_packs.add(entry.pack.hex)
            self.bad_records |= result.bad_records
            for rec, bases in result.bases.items():
                for b in bases:
                    self.edge(("object", b.hex), ("object", rec.hex))
            meter.add(entry.pack.size)

    def base(self, d: Digest) -> bytes:
        return self.reader.get(d)

    def check_files(self, read: set[str], *, whole: bool) -> None:
        total = sum(digest.size for fs in self.manifests.values() for _, digest, _ in fs)
        reads = [
            c
            for fs in self.manifests.values()
            for f in fs
            if self._reassembles(f[2], read, whole=whole)
            for c in f[2]
        ]
        with FrameSpill() as spill:
            plan = self.reader.plan(reads, spill, self.progress)  # each frame decoded once
            try:
                meter = Meter(self.progress, "files", total)  # bytes of the files checked
                for m, files in self.manifests.items():
                    for path, digest, chunks in files:
                        self.check_file(m, (path, digest, chunks), read, whole=whole)
                        meter.add(digest.size)
            finally:
                self.reader.unplan(plan)

    def _reassembles(self, chunks: tuple[Digest, ...], read: set[str], *, whole: bool) -> bool:
        """Whether :meth:`check_file` reads the file's chunks (those of a one-chunk file in a
        pack read whole re-hashed with it; a file in a pack outside a subset is not read)."""
        locs = [self.index.get(c) for c in chunks]
        if any(loc is None for loc in locs) or any(c in self.bad_records for c in chunks):
            return False
        packs = {loc.pack.hex for loc in locs if loc is not None}
        if not whole and not packs <= read:
            return False
        return not (len(chunks) == 1 and packs <= read)

    def check_file(
        self,
        m: Digest,
        file: tuple[str, Digest, tuple[Digest, ...]],
        read: set[str],
        *,
        whole: bool,
    ) -> None:
        path, digest, chunks = file
        if self._reassembles(chunks, read, whole=whole):
            self.reassemble(m, path, digest, chunks)
        elif len(chunks) == 1 and {self._pack_of(chunks[0])} <= read:
            self.count("read_files")  # the chunk is the file, and it re-hashed with its pack

    def _pack_of(self, d: Digest) -> str | None:
        loc = self.index.get(d)
        return None if loc is None or d in self.bad_records else loc.pack.hex

    def reassemble(self, m: Digest, path: str, digest: Digest, chunks: tuple[Digest, ...]) -> None:
        """Hash file ``path`` of manifest ``m`` chunk by chunk (one window in memory)."""
        node: Node = ("file", m.hex, path)
        label = f"file blake3:{m.hex}:{path}"
        whole, size = blake3.blake3(), 0
        try:
            for piece in iter_chunks(chunks, self.reader.prefetch, self.reader.get):
                whole.update(piece)
                size += len(piece)
        except FlowpackError as exc:
            if not isinstance(exc, (IntegrityError, NotFound)):
                raise
            self.problem(node, label, f"cannot be reassembled: {exc}")
            return
        self.count("read_files")
        if size != digest.size or whole.digest() != digest.raw:
            self.problem(node, label, f"does not match its digest {digest}")

    # -- the report ----------------------------------------------------------------------

    def referenced_by(self, node: Node) -> list[str]:
        seen = {node}
        todo = [node]
        out: set[Node] = set()
        while todo:
            for up in self.needed_by.get(todo.pop(), ()):
                if up not in seen:
                    seen.add(up)
                    todo.append(up)
                    if up[0] in ("ref", "manifest", "file") and up[1:] != node[1:]:
                        out.add(up)  # (a manifest is not listed as using its own bytes)
        order = {"ref": 0, "manifest": 1, "file": 2}
        return [_label(n) for n in sorted(out, key=lambda n: (order[n[0]], n[1:]))]

    def report(self) -> VerifyReport:
        problems = [
            Problem(self.labels[node], "; ".join(msgs), self.referenced_by(node))
            for node, msgs in self.problems.items()
        ]
        return VerifyReport(problems, dict(self.checked))


def _label(node: Node) -> str:
    if node[0] == "ref":
        return f"ref {node[1]}"
    if node[0] == "manifest":
        return f"blake3:{node[1]}"
    return f"blake3:{node[1]}:{node[2]}"
