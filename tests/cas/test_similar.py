"""The bottom-k sketch of a tree's paths: the same sample a sorted set would give, in memory
bounded by its size however many paths a tree has."""

from __future__ import annotations

import random
import tracemalloc

import blake3

from flowpack.cas.similar import SKETCH, share, sketch


def reference(paths: list[str]) -> list[int]:
    return sorted({int.from_bytes(blake3.blake3(p.encode()).digest(8), "little") for p in paths})[
        :SKETCH
    ]


def test_the_sketch_is_the_smallest_distinct_hashes() -> None:
    rng = random.Random(5)
    for n in (0, 1, SKETCH - 1, SKETCH, SKETCH + 1, 5000):
        paths = [f"d{rng.randrange(50)}/f{rng.randrange(n * 2 + 1)}.py" for _ in range(n)]
        paths += paths[: n // 3]  # repeated paths count once
        assert sketch(paths) == reference(paths), n
    a = [f"pkg/m{i}.py" for i in range(3000)]
    assert share(sketch(a), sketch(a)) == 1.0
    half = a[:1500] + [f"new/{i}" for i in range(1500)]  # 1,500 shared of 4,500: a third
    assert 0.25 < share(sketch(a), sketch(half)) < 0.42


def test_the_sketch_of_a_large_tree_holds_no_hash_per_path() -> None:
    paths = (f"folder{i % 100}/file{i}.json" for i in range(200_000))
    tracemalloc.start()
    try:
        out = sketch(paths)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(out) == SKETCH and out == sorted(out)
    assert peak < 256 << 10, f"the sketch of 200,000 paths held {peak} bytes"
