//! AVX-512F kernels: 16 f32 lanes in 512-bit registers, AVX-512F conversions for f16,
//! integer AVX-512F for bf16 (`vcvtneps2bf16` of AVX512_BF16 flushes subnormals, so it
//! would not give `half`'s bits).
//!
//! Disassembly checked (objdump -d of the release test binary, rustc 1.95, functions
//! `rotate_*_avx512`): `vmulps`/`vaddps`/`vsubps`/`vmovups` on zmm registers, `vcvtph2ps`
//! and `vcvtps2ph` zmm for f16, `vpmovzxwd`/`vpslld`/`vpcmpgtd`/`vpmovdw` for bf16; no
//! `vfmadd` anywhere.

use core::arch::x86_64::*;

use crate::backend::generic::{self, Vector};
use crate::kernel::Span;
use half::{bf16, f16};

#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m512);

/// `_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC`: round to nearest even.
const NEAREST: i32 = 0x08;

// SAFETY (every unsafe block below): these methods run only inside the
// `#[target_feature(enable = "avx512f,avx,avx2,f16c")]` functions at the bottom, which
// are called only when `has_avx512()` said the CPU and OS support those features; the
// callers of the pointer methods guarantee 16 (or 8 for `load_dup`) elements.
impl Vector for Avx512 {
    const N: usize = 16;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        unsafe { Avx512(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        unsafe { Avx512(_mm512_cvtph_ps(_mm256_loadu_si256(p.cast()))) }
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16) {
        unsafe { _mm256_storeu_si256(p.cast(), _mm512_cvtps_ph::<NEAREST>(self.0)) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        unsafe {
            let w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast()));
            Avx512(_mm512_castsi512_ps(_mm512_slli_epi32::<16>(w)))
        }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        unsafe {
            let x = _mm512_castps_si512(self.0);
            let is_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(self.0, self.0);
            let hi = _mm512_srli_epi32::<16>(x);
            let odd = _mm512_and_si512(hi, _mm512_set1_epi32(1));
            let biased = _mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7FFF)), odd);
            let rounded = _mm512_srli_epi32::<16>(biased);
            // NaN: the top half with the quiet bit set, instead of the rounded value.
            let r = _mm512_mask_or_epi32(rounded, is_nan, hi, _mm512_set1_epi32(0x0040));
            _mm256_storeu_si256(p.cast(), _mm512_cvtepi32_epi16(r));
        }
    }
    #[inline(always)]
    unsafe fn load_dup(p: *const f32) -> Self {
        unsafe {
            let idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
            Avx512(_mm512_permutexvar_ps(
                idx,
                _mm512_castps256_ps512(_mm256_loadu_ps(p)),
            ))
        }
    }
    #[inline(always)]
    unsafe fn swap_pairs(self) -> Self {
        unsafe { Avx512(_mm512_permute_ps::<0b10_11_00_01>(self.0)) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        unsafe { Avx512(_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn alternating_sign(odd: bool) -> Self {
        let (e, o) = if odd { (0.0, -0.0) } else { (-0.0, 0.0) };
        unsafe {
            Avx512(_mm512_setr_ps(
                e, o, e, o, e, o, e, o, e, o, e, o, e, o, e, o,
            ))
        }
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        unsafe { Avx512(_mm512_mul_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        unsafe { Avx512(_mm512_add_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        unsafe { Avx512(_mm512_sub_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // AVX-512F has no float xor (that is AVX-512DQ): xor the bits.
        unsafe {
            let x = _mm512_xor_si512(_mm512_castps_si512(self.0), _mm512_castps_si512(o.0));
            Avx512(_mm512_castsi512_ps(x))
        }
    }
}

macro_rules! entry {
    ($name:ident, $inner:ident, $t:ty) => {
        #[target_feature(enable = "avx512f,avx,avx2,f16c")]
        unsafe fn $inner(x: &mut [$t], span: &Span, cos: &[f32], sin: &[f32]) {
            // SAFETY: this function's features are the ones `Avx512` needs.
            unsafe { generic::rotate::<Avx512, $t>(x, span, cos, sin) }
        }

        pub(crate) fn $name(x: &mut [$t], span: &Span, cos: &[f32], sin: &[f32]) {
            if super::has_avx512() {
                // SAFETY: the CPU and OS support AVX-512F, AVX2 and F16C (checked just
                // above; one cached atomic load).
                unsafe { $inner(x, span, cos, sin) }
            } else {
                crate::kernel::scalar(x, span, cos, sin) // unreachable: backends are checked
            }
        }
    };
}
entry!(rotate_f32, rotate_f32_avx512, f32);
entry!(rotate_f16, rotate_f16_avx512, f16);
entry!(rotate_bf16, rotate_bf16_avx512, bf16);

macro_rules! convert {
    ($widen:ident, $narrow:ident, $widen_tf:ident, $narrow_tf:ident, $t:ty) => {
        #[target_feature(enable = "avx512f,avx,avx2,f16c")]
        unsafe fn $widen_tf(src: &[$t], dst: &mut [f32]) {
            // SAFETY: this function's features are the ones `Avx512` needs.
            unsafe { generic::widen::<Avx512, $t>(src, dst) }
        }
        #[target_feature(enable = "avx512f,avx,avx2,f16c")]
        unsafe fn $narrow_tf(src: &[f32], dst: &mut [$t]) {
            // SAFETY: this function's features are the ones `Avx512` needs.
            unsafe { generic::narrow::<Avx512, $t>(src, dst) }
        }
        pub(crate) fn $widen(src: &[$t], dst: &mut [f32]) {
            if super::has_avx512() {
                // SAFETY: the CPU and OS support the features (checked just above).
                unsafe { $widen_tf(src, dst) }
            } else {
                unreachable_backend()
            }
        }
        pub(crate) fn $narrow(src: &[f32], dst: &mut [$t]) {
            if super::has_avx512() {
                // SAFETY: the CPU and OS support the features (checked just above).
                unsafe { $narrow_tf(src, dst) }
            } else {
                unreachable_backend()
            }
        }
    };
}
convert!(
    widen_f16,
    narrow_f16,
    widen_f16_avx512,
    narrow_f16_avx512,
    f16
);
convert!(
    widen_bf16,
    narrow_bf16,
    widen_bf16_avx512,
    narrow_bf16_avx512,
    bf16
);

/// Backends are checked when a `Rope` is built, so a kernel of a backend this CPU lacks is
/// never reached.
#[cold]
fn unreachable_backend() -> ! {
    panic!("rope-simd internal error: avx512 kernel reached on a CPU without it")
}

/// Out-of-place rotation with `Avx512`.
///
/// # Safety
/// The CPU and OS must support "avx512f,avx,avx2,f16c".
#[target_feature(enable = "avx512f,avx,avx2,f16c")]
pub(crate) unsafe fn rotate_into<S: crate::Element, D: crate::Element>(
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    cos: &[f32],
    sin: &[f32],
) {
    // SAFETY: this function's features are the ones `Avx512` needs.
    unsafe { generic::rotate_into::<Avx512, S, D>(src, dst, span, dst_stride, cos, sin) }
}

/// The per-token cos/sin loop compiled with these features (it vectorizes; no FMA is
/// used, so the bits are those of the scalar build).
///
/// # Safety
/// The CPU and OS must support "avx512f,avx,avx2,f16c".
#[target_feature(enable = "avx512f,avx,avx2,f16c")]
pub(crate) unsafe fn cos_sin_batch(
    position: u64,
    hi: &[f64],
    lo: &[f64],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    crate::trig::cos_sin_batch(position, hi, lo, scale, cos, sin)
}

/// The compact table's angle addition compiled with these features (no FMA).
///
/// # Safety
/// The CPU and OS must support "avx512f,avx,avx2,f16c".
#[target_feature(enable = "avx512f,avx,avx2,f16c")]
pub(crate) unsafe fn angle_sum(
    coarse: [&[f64]; 2],
    fine: [&[f64]; 2],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    crate::trig::angle_sum(coarse, fine, scale, cos, sin)
}
