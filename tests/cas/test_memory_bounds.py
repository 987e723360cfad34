"""Memory: large files stream through ``cat`` and ``verify --read-data``; an import never holds
the whole export decoded; a manifest with too many entries is refused before it is decoded.

Each command runs as a subprocess whose peak RSS (``wait4``) is asserted.
"""

from __future__ import annotations

import os
from pathlib import Path

import blake3
import pytest
from hostile import craft_export, raw_manifest, store_bundle
from peakrss import run_measured

from flowpack.cas.digest import Digest
from flowpack.cas.opening import open_store
from flowpack.cas.pack import DATA, encode_frame

BIG = 200 << 20  # stands in for the 1 GiB file of the report, to keep the test quick
EMPTY_DIGEST = bytes.fromhex("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPACK_STORE": (tmp_path / "store").as_uri(),
        "FLOWPACK_CACHE": str(tmp_path / "cache"),
    }


def digest_of(path: Path) -> str:
    h = blake3.blake3()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def baseline(env: dict[str, str]) -> float:
    return run_measured(env, "--help").peak_mib


def test_cat_and_verify_read_data_of_a_large_file_stream(
    env: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "big.bin"
    with open(src, "wb") as fh:
        for _ in range(BIG >> 20):
            fh.write(os.urandom(1 << 20))
    pushed = run_measured(env, "push", src, "--ref", "data/big")
    assert pushed.code == 0, pushed.stderr
    limit = baseline(env) + 100  # well below the 200 MiB file
    out = tmp_path / "out.bin"
    cat = run_measured(env, "cat", "data/big:big.bin", stdout=out)
    assert cat.code == 0, cat.stderr
    assert out.stat().st_size == BIG and digest_of(out) == digest_of(src)
    assert cat.peak_mib < limit, f"cat took {cat.peak_mib:.0f} MiB"
    checked = run_measured(env, "verify", "--read-data")
    assert checked.code == 0, checked.stderr
    assert checked.peak_mib < limit, f"verify --read-data took {checked.peak_mib:.0f} MiB"


def many_entries(n: int) -> bytes:
    rows = [[f"d/{i:07d}", 0o644, 0, EMPTY_DIGEST, []] for i in range(n)]
    return raw_manifest(rows)


def test_a_manifest_with_too_many_entries_is_refused_on_pull_and_import(
    env: dict[str, str], tmp_path: Path
) -> None:
    """300,000 entries (the report had 2 million): one line, and no GBs."""
    manifest = many_entries(300_000)
    store = open_store(env["FLOWPACK_STORE"], cache_dir=tmp_path / "core-cache")
    try:
        digest = store_bundle(store, manifest)
        store.set_ref("flows/wide", digest)
    finally:
        store.close()
    limit = baseline(env) + 60
    pulled = run_measured(env, "pull", "flows/wide", tmp_path / "dest")
    assert pulled.code != 0 and len(pulled.stderr.splitlines()) == 1, pulled.stderr
    assert "entries" in pulled.stderr and "Traceback" not in pulled.stderr
    assert pulled.peak_mib < limit, f"pull took {pulled.peak_mib:.0f} MiB"
    assert not (tmp_path / "dest").exists()

    export = tmp_path / "wide.fpk"
    export.write_bytes(craft_export(manifest))
    env2 = {**env, "FLOWPACK_STORE": (tmp_path / "other").as_uri()}
    imported = run_measured(env2, "import", export)
    assert imported.code != 0 and len(imported.stderr.splitlines()) == 1, imported.stderr
    assert "entries" in imported.stderr
    assert imported.peak_mib < limit, f"import took {imported.peak_mib:.0f} MiB"


def test_importing_a_small_export_of_much_content_does_not_hold_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A few hundred KB of export that decodes to 400 MiB of distinct, compressible chunks:
    in frames of 1 MiB it imports within bounded memory; in one frame it is refused at once."""
    chunk = 256 << 10
    chunks = [i.to_bytes(8, "big") + bytes(chunk - 8) for i in range(1600)]
    rows = [
        [f"f/{i:05d}", 0o644, chunk, blake3.blake3(c).digest(), []] for i, c in enumerate(chunks)
    ]
    manifest = raw_manifest(rows)
    frames = [
        encode_frame(DATA, [(Digest.of(c), c) for c in chunks[i : i + 4]])
        for i in range(0, len(chunks), 4)
    ]
    export = tmp_path / "dense.fpk"
    export.write_bytes(craft_export(manifest, extra_frames=frames))
    bomb = tmp_path / "one-frame.fpk"
    bomb.write_bytes(craft_export(manifest, chunks=chunks))
    del chunks, frames
    assert export.stat().st_size < 2 << 20 and bomb.stat().st_size < 2 << 20
    limit = baseline(env) + 120
    imported = run_measured(env, "import", export)
    assert imported.code == 0, imported.stderr
    assert imported.peak_mib < limit, f"import took {imported.peak_mib:.0f} MiB"
    verified = run_measured(env, "verify", "--read-data")
    assert verified.code == 0, verified.stderr
    refused = run_measured({**env, "FLOWPACK_STORE": (tmp_path / "s2").as_uri()}, "import", bomb)
    assert refused.code != 0 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert refused.peak_mib < limit, f"import took {refused.peak_mib:.0f} MiB"


#: The goal for every command that moves data, at any size (MiB, as GNU time counts them).
GOAL_MIB = 64


def test_push_pull_copy_verify_and_gc_of_100_mib_stay_within_the_budget(
    env: dict[str, str], tmp_path: Path
) -> None:
    """100 MiB that does not compress (so it is quick): before the process had one memory
    budget, its push peaked at 154 MB and its copy at 240 MB (packs of 16 MiB held whole, up to
    eight uploading at once, and 16 MiB of frames queued for compression)."""
    src = tmp_path / "data" / "big.bin"
    src.parent.mkdir()
    with open(src, "wb") as fh:
        for _ in range(100):
            fh.write(os.urandom(1 << 20))
    peaks: dict[str, float] = {}

    def run(what: str, *args: str | Path, store: Path | None = None) -> None:
        e = {**env, "FLOWPACK_STORE": store.as_uri()} if store else env
        done = run_measured(e, *args)
        assert done.code == 0, f"{what}: {done.stderr}"
        peaks[what] = done.peak_mib

    run("push", "push", src.parent, "--ref", "data/big")
    src.write_bytes(src.read_bytes()[: 60 << 20] + os.urandom(1 << 20))  # a second version
    run("push again", "push", src.parent, "--ref", "data/big")
    run("pull", "pull", "data/big", tmp_path / "out")
    assert digest_of(tmp_path / "out" / "big.bin") == digest_of(src)
    run("copy", "copy", env["FLOWPACK_STORE"], (tmp_path / "copy").as_uri())
    run("verify", "verify", "--read-data", store=tmp_path / "copy")
    run("gc", "gc", "--grace", "0", "--force", store=tmp_path / "copy")
    over = {k: round(v) for k, v in peaks.items() if v > GOAL_MIB}
    assert not over, f"peak RSS over {GOAL_MIB} MiB: {over} (all: {peaks})"
