#!/usr/bin/env python3
"""Writes the hand-made fuzz seeds that reach what random bytes rarely do; the bytes follow
the order the cases (`fuzz/src/*_case.rs`) read them in.

- fuzz/seeds/rotate/stream-*: calls whose out-of-place writes are at least 16 KiB of
  16-bit values to 16-byte aligned rows, so that fuzzing builds (which stream from 16 KiB)
  run the streaming stores: 5 tokens x 5 heads of 336 channels into a cache of 11 tokens,
  for each x86 ISA that streams (AVX2, AVX-512, AVX512_BF16), both pair layouts, and f16
  into f16, bf16 into bf16, f32 into f16 and f32 into bf16.
- fuzz/seeds/capi/gguf-*: `rope_create_gguf` over Llama metadata, and Qwen2's with YaRN,
  then `rope_apply` of a token of two heads compared with the Rust API.

    python3 scripts/fuzz_seeds.py
"""
import pathlib
import random
import struct

SEEDS = pathlib.Path(__file__).resolve().parent.parent / "fuzz/seeds"
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
            (SEEDS / "rotate" / f"stream-{bn}-{ln}-{src}-{dst}").write_bytes(seed(be, lay, dt, tail))


def gguf(arch, entries, call):
    # the other constructors' bytes all zero (37), then the architecture, no integer
    # arrays, the entries, no failing lookup, and the call on the built handle
    b = bytes(37) + bytes([arch, 0, 0, len(entries)]) + b"".join(entries)
    return b + bytes([1]) + call


def u32(suffix, v):  # a UINT32 value (even) of the suffix at that index
    return bytes([suffix]) + struct.pack("<H", v // 2) + bytes([0])


def f32(suffix, k=0):  # a FLOAT32 value: the k-th ordinary value (0: 1e4, 4: 4.0)
    return bytes([suffix]) + struct.pack("<H", 0) + bytes([4, k])


def kind(t):  # rope.scaling.type, the t-th name (2: "yarn")
    return bytes([6]) + struct.pack("<H", 0) + bytes([6, t])


# rope_apply of one token, two heads of f32 in place from position 37
CALL = bytes([1, 0, 0]) + b"".join(struct.pack("<f", (i % 17) / 8 - 1) for i in range(512))
CALL += bytes([1, 0]) + bytes([2, 0, 0, 0, 0, 0, 1, 0]) + bytes([0]) + bytes(9)
CALL += bytes([0, 0]) + struct.pack("<Q", 37) + bytes([0, 0, 0, 0, 1, 0])
(SEEDS / "capi" / "gguf-llama").write_bytes(gguf(0, [u32(0, 128), f32(4)], CALL))
(SEEDS / "capi" / "gguf-qwen2-yarn").write_bytes(
    gguf(1, [u32(0, 128), f32(4), kind(2), f32(7, 4), u32(8, 32768)], CALL))
