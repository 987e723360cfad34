"""Golden vectors for the chunker: the cut points of fixed inputs, written down once.

A store records its chunker identity in its config and deduplicates across pushes only while
the same bytes are cut at the same places.  These literals catch a silent change of the
chunker (a pyfastcdc upgrade, a changed default) that no round-trip test would notice.  If one
fails, the chunker changed: that needs a new chunker identity, not new literals.
"""

from __future__ import annotations

import random

import blake3

from flowpack.cas.chunker import Chunker, ChunkerParams

DEFAULT_IDENTITY = "fastcdc2020:min=16384,avg=65536,max=262144,norm=2"
#: The parameters the 16 KiB vectors below were taken with (the default before 64 KiB).
P16 = ChunkerParams(avg_size=16384, min_size=4096, max_size=65536)

RANDOM_1MIB_HASH = "7de55f911468aaa9d41ac62ab094b916893c111781686e5748a8c0d52825121c"
RANDOM_1MIB_CUTS = [
    17431, 21718, 17560, 18620, 8833, 22881, 20097, 22143, 18008, 13182, 21013, 20495, 16856,
    21913, 19469, 23039, 16595, 17401, 36642, 16808, 16348, 20227, 16549, 16391, 6880, 31640,
    38974, 19731, 19142, 16434, 5588, 16890, 22234, 16960, 15631, 18147, 17768, 20683, 23730,
    11804, 15973, 17361, 35486, 14493, 9905, 21786, 21550, 13047, 18551, 20074, 20088, 17517,
    16503, 16255, 12825, 14707,
]  # fmt: skip

TEXT_HASH = "10c77afec8fc362b8b165ad79aac7a0de5e54e6cb7ecb0a49599c1c7685d6595"
TEXT_CUTS = [
    16498, 17014, 17840, 19533, 22512, 17904, 20079, 17934, 18945, 28604, 22943, 15402, 5003,
    22857, 31155, 23773, 21328, 30829, 14016, 19959, 16842, 20088, 17128, 18960, 6066, 16589,
    21937, 19707, 15441, 23284, 16705, 17865, 17256, 16914, 26314, 9592,
]  # fmt: skip

DEFAULT_RANDOM_CUTS = [
    67266,
    82017,
    66565,
    71171,
    65785,
    68551,
    45744,
    73930,
    74469,
    74898,
    72059,
    86983,
    73087,
    65761,
    60290,
]
DEFAULT_TEXT_CUTS = [85384, 68222, 66200, 20405, 104988, 75771, 100768, 35148, 75726, 52204]

SMALL = ChunkerParams(avg_size=1024, min_size=256, max_size=4096, normalization=1)
SMALL_CUTS = [
    863, 1214, 1025, 1134, 482, 1426, 555, 1064, 329, 1045, 1833, 916, 1602, 288, 338, 2098,
    1043, 1511, 374, 1226, 2117, 1151, 1886, 1506, 709, 810, 1466, 371, 854, 1442, 580, 499,
    655, 1250, 327, 1257, 537, 1052, 1165,
]  # fmt: skip


def random_input() -> bytes:
    return random.Random(0).randbytes(1 << 20)


def text_input() -> bytes:
    """About 670 KiB of Python-like source text."""
    return "".join(
        f"def step_{i}(x):\n    return x * {i} + {i * i % 97}  # step {i}\n\n" for i in range(12000)
    ).encode()


def lengths(chunker: Chunker, data: bytes) -> list[int]:
    return [n for _, n in chunker.cut(data)]


def test_default_identity_is_pinned() -> None:
    assert ChunkerParams().identity == DEFAULT_IDENTITY


def test_random_mebibyte_cut_points() -> None:
    data = random_input()
    assert blake3.blake3(data).hexdigest() == RANDOM_1MIB_HASH, "the input itself changed"
    assert lengths(Chunker(P16), data) == RANDOM_1MIB_CUTS
    assert lengths(Chunker(), data) == DEFAULT_RANDOM_CUTS


def test_text_cut_points() -> None:
    data = text_input()
    assert blake3.blake3(data).hexdigest() == TEXT_HASH, "the input itself changed"
    assert lengths(Chunker(P16), data) == TEXT_CUTS
    assert lengths(Chunker(), data) == DEFAULT_TEXT_CUTS


def test_small_parameter_cut_points() -> None:
    assert lengths(Chunker(SMALL), random.Random(1).randbytes(40000)) == SMALL_CUTS


def test_constant_input_is_cut_at_max_size() -> None:
    p = ChunkerParams()
    assert lengths(Chunker(), bytes(5 * p.max_size + 1000)) == [p.max_size] * 5 + [1000]
