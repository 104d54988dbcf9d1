//! The bare 16-bit pass, shared by `rope.rs` (as `memory16`) and `limits.rs` (as
//! `roof16`). It does `x *= c` in place over a buffer of f16 or bf16 bits. Each value is
//! widened to f32, multiplied and rounded back to nearest even, with the least work the
//! instruction set allows:
//!
//! - AVX-512 f16: `vcvtph2ps` / `vcvtps2ph`, 16 values at a time, memory operands folded.
//! - AVX-512 bf16 (AVX512_BF16 + BW): 32 values at a time. Even and odd lanes are widened
//!   with a shift and a mask, both rounded by one `vcvtne2ps2bf16`, and put back in order
//!   by `vpermw`, as the crate's bf16 kernels do there. On the crate's Zen 4 test machine
//!   that was faster than widening 16 with `vpmovzxwd` and rounding with
//!   `vcvtneps2bf16`. No subnormal fix-up, so results that are bf16 subnormals flush to
//!   zero.
//! - AVX2 f16 (F16C): `vcvtph2ps` / `vcvtps2ph`, 8 values at a time.
//! - AVX2 bf16: 16 values at a time, widened as above. Each f32 is rounded with integer
//!   operations (`x + 0x7FFF + ((x >> 16) & 1)`, then the top half), and the two vectors
//!   are merged with one `vpblendw`. No NaN check, so a NaN can come out as an infinity.
//!
//! The two shortcuts are wrong only for inputs the benches never pass (the buffers hold
//! values in [-0.5, 0.5]). They make these passes cheaper than any correct one, which is
//! what a roof should be. The crate's kernels keep both checks.
#![allow(dead_code)] // each bench uses part of this file

use std::arch::x86_64::*;

/// The factor of every pass.
pub const C: f32 = 1.000_001;

/// Which instruction set a pass uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
}

/// The pass over f16 (`is_f16`) or bf16 bits with `isa`, or `None` where this CPU lacks
/// the instructions. It covers whole blocks of 32 values and leaves the rest of the
/// slice (`len % 32` values at its end) to the caller.
pub fn roof(isa: Isa, is_f16: bool) -> Option<fn(&mut [u16])> {
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("f16c");
    let avx512 = avx2 && is_x86_feature_detected!("avx512f");
    let bf16 =
        avx512 && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512bf16");
    match (isa, is_f16) {
        (Isa::Avx512, true) if avx512 => Some(avx512_f16),
        (Isa::Avx512, false) if bf16 => Some(avx512_bf16),
        (Isa::Avx2, true) if avx2 => Some(avx2_f16),
        (Isa::Avx2, false) if avx2 => Some(avx2_bf16),
        _ => None,
    }
}

/// The widest pass this CPU has for f16 or bf16 bits.
pub fn widest(is_f16: bool) -> Option<fn(&mut [u16])> {
    roof(Isa::Avx512, is_f16).or_else(|| roof(Isa::Avx2, is_f16))
}

// The four passes below are reached only through `roof`, which checked their features.

fn avx512_f16(x: &mut [u16]) {
    #[target_feature(enable = "avx512f,avx2,f16c")]
    unsafe fn body(p: *mut u16, n: usize) {
        let c = _mm512_set1_ps(C);
        for i in (0..n).step_by(16) {
            // SAFETY: `i + 16 <= n` (whole blocks of 32).
            unsafe {
                let v = _mm512_cvt_roundph_ps::<_MM_FROUND_CUR_DIRECTION>(_mm256_loadu_si256(
                    p.add(i).cast(),
                ));
                let r = _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm512_mul_ps(v, c));
                _mm256_storeu_si256(p.add(i).cast(), r);
            }
        }
    }
    // SAFETY: `roof` checked the features; `x.len() / 32 * 32` values are in bounds.
    unsafe { body(x.as_mut_ptr(), x.len() / 32 * 32) }
}

fn avx512_bf16(x: &mut [u16]) {
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16,avx2")]
    unsafe fn body(p: *mut u16, n: usize) {
        let c = _mm512_set1_ps(C);
        let high = _mm512_set1_epi32(0xFFFF_0000_u32 as i32);
        let idx = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20,
            4, 19, 3, 18, 2, 17, 1, 16, 0,
        );
        for i in (0..n).step_by(32) {
            // SAFETY: `i + 32 <= n`; `__m512bh` and `__m512i` are both 512 bits.
            unsafe {
                let x = _mm512_loadu_si512(p.add(i).cast());
                let even = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(x));
                let odd = _mm512_castsi512_ps(_mm512_and_si512(x, high));
                let r = _mm512_cvtne2ps_pbh(_mm512_mul_ps(odd, c), _mm512_mul_ps(even, c));
                let r: __m512i = std::mem::transmute(r);
                _mm512_storeu_si512(p.add(i).cast(), _mm512_permutexvar_epi16(idx, r));
            }
        }
    }
    // SAFETY: as in `avx512_f16`.
    unsafe { body(x.as_mut_ptr(), x.len() / 32 * 32) }
}

fn avx2_f16(x: &mut [u16]) {
    #[target_feature(enable = "avx2,f16c")]
    unsafe fn body(p: *mut u16, n: usize) {
        let c = _mm256_set1_ps(C);
        for i in (0..n).step_by(8) {
            // SAFETY: `i + 8 <= n`.
            unsafe {
                let v = _mm256_cvtph_ps(_mm_loadu_si128(p.add(i).cast()));
                let r = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_mul_ps(v, c));
                _mm_storeu_si128(p.add(i).cast(), r);
            }
        }
    }
    // SAFETY: as in `avx512_f16`.
    unsafe { body(x.as_mut_ptr(), x.len() / 32 * 32) }
}

/// bf16 rounding to nearest even of 8 f32 (no NaN among them), in the top half of each
/// 32-bit lane.
///
/// # Safety
/// AVX2 is supported.
#[inline(always)]
pub unsafe fn avx2_round_bf16(v: __m256) -> __m256i {
    // SAFETY: forwarded from the caller.
    unsafe {
        let x = _mm256_castps_si256(v);
        let odd = _mm256_and_si256(_mm256_srli_epi32::<16>(x), _mm256_set1_epi32(1));
        _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7FFF)), odd)
    }
}

fn avx2_bf16(x: &mut [u16]) {
    #[target_feature(enable = "avx2")]
    unsafe fn body(p: *mut u16, n: usize) {
        let c = _mm256_set1_ps(C);
        let high = _mm256_set1_epi32(0xFFFF_0000_u32 as i32);
        for i in (0..n).step_by(16) {
            // SAFETY: `i + 16 <= n`.
            unsafe {
                let x = _mm256_loadu_si256(p.add(i).cast());
                let even = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32::<16>(x)), c);
                let odd = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_and_si256(x, high)), c);
                let low = _mm256_srli_epi32::<16>(avx2_round_bf16(even));
                let r = _mm256_blend_epi16::<0b1010_1010>(low, avx2_round_bf16(odd));
                _mm256_storeu_si256(p.add(i).cast(), r);
            }
        }
    }
    // SAFETY: as in `avx512_f16`.
    unsafe { body(x.as_mut_ptr(), x.len() / 32 * 32) }
}
