#!/usr/bin/env python3
"""Writes fuzz/seeds/rotate/stream-*: `rotate` inputs whose out-of-place calls write at
least 16 KiB of 16-bit values to 16-byte aligned rows, so that fuzzing builds (which
stream from 16 KiB) run the streaming stores: 5 tokens x 5 heads of 336 channels into a
cache of 11 tokens, for each x86 ISA that streams (AVX2, AVX-512, AVX512_BF16), both
pair layouts, and f16 into f16, bf16 into bf16, f32 into f16 and f32 into bf16. The
bytes follow the order `fuzz/src/rotate_case.rs` reads them in.

    python3 scripts/fuzz_stream_seeds.py
"""
import pathlib
import random
import struct

OUT = pathlib.Path(__file__).resolve().parent.parent / "fuzz/seeds/rotate"
random.seed(1)
# A 64-byte pattern of values (odd, so none is read as raw float bits), repeated.
PATTERN = b"".join(struct.pack("<I", random.getrandbits(32) | 1) for _ in range(16))


def seed(backend, layout, dtype, tail, head_dim=336):
    b = bytearray(struct.pack("<H", head_dim))
    # every channel rotated, the layout, base and scale 1st ordinary values, no own
    # frequencies, the backend, one frequency factor a pair (all zero bytes)
    b += bytes([0, layout, 0, 0, 1, backend, 1]) + bytes(head_dim // 2)
    b += bytes([0, 0, 0, dtype])  # factor, no scaling, one position axis, element type
    # 5 heads, 5 tokens, tokens-heads order, forward; the three position lists
    b += bytes([5, 5, 1, 1, 1]) + bytes(45 + 45) + bytes([1]) + bytes(45)
    b += bytes([0, 0]) + struct.pack("<Q", 7) + bytes([1])  # positions from 7, whole rows
    b += PATTERN * (25 * head_dim * 4 // len(PATTERN))
    # no table (cos/sin on the fly), a dense slot at token 0 of 11, no padding; `tail`
    # picks the other-type cache
    b += bytes([0, 0, 0, 0, 0, 11, 0]) + bytes(tail)
    return bytes(b)


for be, bn in ((2, "avx2"), (3, "avx512"), (4, "avx512bf16")):
    for lay, ln in ((0, "halfsplit"), (1, "interleaved")):
        for dt, src, dst, tail in ((1, "f16", "f16", []), (2, "bf16", "bf16", []),
                                   (0, "f32", "f16", []), (0, "f32", "bf16", [0, 1])):
            (OUT / f"stream-{bn}-{ln}-{src}-{dst}").write_bytes(seed(be, lay, dt, tail))
