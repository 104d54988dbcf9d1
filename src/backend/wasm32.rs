//! f16 conversions on wasm32 with simd128, for the portable lanes, written on wasm's own
//! 128-bit vectors for what the engines make of them. A mask is an add that carries into
//! the sign bit and an arithmetic shift (an unsigned compare, which LLVM also makes of a
//! signed one on values it knows are positive, is four x86_64 instructions in V8); a
//! choice is an unsigned minimum or an or (a `v128.bitselect` is three); the masks of the
//! widening are made eight at a time on the 16-bit values; no shuffle (V8 builds the
//! byte-shuffle's pattern in registers every time).
//!
//! They give `half`'s bits for every input, and need no particular floating-point mode:
//! every float result below is a normal number or zero, and the one float operand that
//! can be subnormal (a value being rounded, in `rounded`) is far below f16's least
//! subnormal, so an engine that flushed it to zero would still give the same bits. The
//! tests in `lanes.rs` check every f16 pattern and every rounding case through `Lanes` (on
//! wasm32-wasip1 under Node.js in CI).
//!
//! Decided over the portable lane formulas for speed: the f16 rows of
//! `node tests/js/run_bench.mjs` and the loop counts of `python3 scripts/wasm_loops.py`.

use core::arch::wasm32::{
    f32x4_add, f32x4_convert_i32x4, f32x4_mul, f32x4_splat, i16x8_add, i16x8_shr, i16x8_splat,
    i32x4_add, i32x4_shl, i32x4_shr, i32x4_splat, i32x4_sub, u16x8_narrow_i32x4,
    u32x4_extend_high_u16x8, u32x4_extend_low_u16x8, u32x4_min, u32x4_shr, v128, v128_and,
    v128_load, v128_or, v128_store,
};
use wide::f32x8;

/// Load 8 f16 (bits) at `p` and widen them exactly as `half::f16::to_f32` does (a NaN
/// keeps its payload and is made quiet).
///
/// # Safety
/// `p` is valid for reading 8 u16 (any alignment).
#[inline(always)]
pub(crate) unsafe fn load_f16(p: *const u16) -> f32x8 {
    // SAFETY: the caller guarantees 8 readable u16; wasm loads take any alignment.
    let h = unsafe { v128_load(p.cast::<v128>()) };
    let em = v128_and(h, i16x8_splat(0x7FFF));
    // The f32's top 16 bits that the magnitude leaves to be set: the sign, the all-ones
    // exponent of an infinity or NaN (`em` from 0x7C00), the quiet bit of a NaN (from
    // 0x7C01).
    let special = i16x8_shr(i16x8_add(em, i16x8_splat(0x0400)), 15);
    let nan = i16x8_shr(i16x8_add(em, i16x8_splat(0x03FF)), 15);
    let top = v128_or(
        v128_and(h, i16x8_splat(0x8000_u16 as i16)),
        v128_or(
            v128_and(special, i16x8_splat(0x7F80)),
            v128_and(nan, i16x8_splat(0x0040)),
        ),
    );
    let lo = widened(u32x4_extend_low_u16x8(em), u32x4_extend_low_u16x8(top));
    let hi = widened(u32x4_extend_high_u16x8(em), u32x4_extend_high_u16x8(top));
    // SAFETY: two v128 are the 32 bytes of an f32x8 (plain data, any bits valid).
    unsafe { core::mem::transmute::<[v128; 2], f32x8>([lo, hi]) }
}

/// The f32 bits of four f16 given as magnitudes `em` (exponent and mantissa) and the top
/// 16 bits to set, in 32-bit lanes. A normal f16 moves to f32 by rebiasing its exponent
/// (which keeps the payload of an infinity or NaN, whose exponent `top` completes); a
/// subnormal one is `em * 2^-24`, exact in f32 and below the rebiased bits. So the
/// product, made all ones where the exponent is not zero, and the smaller of the two.
#[inline(always)]
fn widened(em: v128, top: v128) -> v128 {
    let rebiased = i32x4_add(i32x4_shl(em, 13), i32x4_splat(0x3800_0000));
    let two_pow_minus_24 = f32x4_splat(f32::from_bits(0x3380_0000));
    let scaled = f32x4_mul(f32x4_convert_i32x4(em), two_pow_minus_24);
    let not_subnormal = i32x4_shr(i32x4_add(em, i32x4_splat(0x7FFF_FC00)), 31);
    let magnitude = u32x4_min(v128_or(scaled, not_subnormal), rebiased);
    v128_or(magnitude, i32x4_shl(top, 16))
}

/// Round the 8 f32 of `v` to f16 (nearest even) exactly as `half::f16::from_f32` does (a
/// NaN keeps the top of its payload and is made quiet) and store them at `p`.
///
/// # Safety
/// `p` is valid for writing 8 u16 (any alignment).
#[inline(always)]
pub(crate) unsafe fn store_f16(v: f32x8, p: *mut u16) {
    // SAFETY: an f32x8 is 32 bytes of plain data, two v128.
    let [lo, hi] = unsafe { core::mem::transmute::<f32x8, [v128; 2]>(v) };
    // SAFETY: the caller guarantees 8 writable u16; wasm stores take any alignment.
    unsafe {
        v128_store(
            p.cast::<v128>(),
            u16x8_narrow_i32x4(rounded(lo), rounded(hi)),
        )
    }
}

/// The f16 bits of four f32 `x`, in 32-bit lanes (at most 0xFFFF, so that the unsigned
/// saturating narrowing packs them exactly).
#[inline(always)]
fn rounded(x: v128) -> v128 {
    let a = v128_and(x, i32x4_splat(0x7FFF_FFFF));
    let t = u32x4_shr(a, 13);
    // Normal: rebias, add half an ulp less one plus the lowest kept bit, shift. Below the
    // least normal f16 (2^-14) the subtraction wraps and the result is huge, so the
    // minimum takes the subnormal rounding there; from 65520 up the carry reaches the
    // exponent and the clamp gives infinity (0x7C00).
    let odd = v128_and(t, i32x4_splat(1));
    let shifted = u32x4_shr(
        i32x4_add(i32x4_add(a, i32x4_splat(0x0FFF - 0x3880_0000)), odd),
        13,
    );
    let normal = i32x4_add(shifted, i32x4_splat(0x0400));
    // Subnormal: adding 0.5 makes the float unit round at the f16 subnormal ulp (2^-24).
    // For a normal f16 this is at least the rounding above (bits of a larger number, or
    // equal at the lowest exponent); from 0.5 up, and for an infinity or NaN, it is far
    // above 0x7C00.
    let half = f32x4_splat(0.5);
    let sub = i32x4_sub(f32x4_add(a, half), half);
    let finite = u32x4_min(u32x4_min(sub, normal), i32x4_splat(0x7C00));
    // NaN (`a` from 0x7F80_0001): the 0x7C00 that `finite` holds there, made quiet, with
    // the top of the payload.
    let nan = i32x4_shr(i32x4_add(a, i32x4_splat(0x007F_FFFF)), 31);
    let payload = v128_or(v128_and(t, i32x4_splat(0x03FF)), i32x4_splat(0x0200));
    let sign = v128_and(u32x4_shr(x, 16), i32x4_splat(0x8000));
    v128_or(v128_or(finite, v128_and(nan, payload)), sign)
}
