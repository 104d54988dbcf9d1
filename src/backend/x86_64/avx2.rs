//! AVX2 kernels: 8 f32 lanes in 256-bit registers, F16C for f16, integer AVX2 for bf16.
//!
//! Disassembly checked (objdump -d of the release test binary, rustc 1.95, the three
//! instantiations of `avx2::rotate_tf`, after this file's entry points moved into
//! `isa_entries!`): `vmulps`/`vaddps`/`vsubps`/`vmovups` on ymm registers, `vcvtph2ps` and
//! `vcvtps2ph` for f16, `vpmovzxwd`/`vpslld`/`vpaddd`/`vpblendvb`/`vpackusdw` on ymm for
//! bf16; no `vfmadd` anywhere (bit-identical results need unfused multiply and add).

use core::arch::x86_64::*;

use crate::backend::generic::Vector;

#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256);

// SAFETY (every unsafe block below): these methods run only inside the
// `#[target_feature(enable = "avx,avx2,f16c")]` functions that `isa_entries!` generates at
// the bottom, which are called only when `has_avx2()` said the CPU and OS support those
// features; the callers of the pointer methods guarantee 8 (or 4 for `load_dup`) readable
// or writable elements, and a 16-byte aligned `p` for the `_stream` stores
// (`generic::rotate_into` streams only where every vector store is aligned).
impl Vector for Avx2 {
    const N: usize = 8;
    const KEEP: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        unsafe { Avx2(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        unsafe { Avx2(_mm256_cvtph_ps(_mm_loadu_si128(p.cast()))) }
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16) {
        unsafe {
            _mm_storeu_si128(
                p.cast(),
                _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(self.0),
            )
        }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        unsafe {
            let w = _mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast()));
            Avx2(_mm256_castsi256_ps(_mm256_slli_epi32::<16>(w)))
        }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        unsafe { _mm_storeu_si128(p.cast(), self.bf16_bits()) }
    }
    const STREAM: bool = true;
    #[inline(always)]
    unsafe fn store_f16_stream(self, p: *mut u16) {
        unsafe {
            _mm_stream_si128(
                p.cast(),
                _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(self.0),
            )
        }
    }
    #[inline(always)]
    unsafe fn store_bf16_stream(self, p: *mut u16) {
        unsafe { _mm_stream_si128(p.cast(), self.bf16_bits()) }
    }
    #[inline(always)]
    unsafe fn load_dup(p: *const f32) -> Self {
        unsafe {
            let c = _mm_loadu_ps(p);
            Avx2(_mm256_set_m128(
                _mm_unpackhi_ps(c, c),
                _mm_unpacklo_ps(c, c),
            ))
        }
    }
    #[inline(always)]
    unsafe fn swap_pairs(self) -> Self {
        unsafe { Avx2(_mm256_permute_ps::<0b10_11_00_01>(self.0)) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        unsafe { Avx2(_mm256_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn alternating_sign(odd: bool) -> Self {
        let (e, o) = if odd { (0.0, -0.0) } else { (-0.0, 0.0) };
        unsafe { Avx2(_mm256_setr_ps(e, o, e, o, e, o, e, o)) }
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        unsafe { Avx2(_mm256_mul_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        unsafe { Avx2(_mm256_add_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        unsafe { Avx2(_mm256_sub_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        unsafe { Avx2(_mm256_xor_ps(self.0, o.0)) }
    }
}

impl Avx2 {
    /// The 8 lanes rounded to bf16 (nearest even, as `half` does), in the low 128 bits.
    ///
    /// # Safety
    /// As for the `Vector` methods above.
    #[inline(always)]
    unsafe fn bf16_bits(self) -> __m128i {
        // SAFETY: AVX2 is supported (the caller).
        unsafe {
            let x = _mm256_castps_si256(self.0);
            let is_nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0));
            let hi = _mm256_srli_epi32::<16>(x);
            let odd = _mm256_and_si256(hi, _mm256_set1_epi32(1));
            let biased = _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7FFF)), odd);
            let rounded = _mm256_srli_epi32::<16>(biased);
            let nan = _mm256_or_si256(hi, _mm256_set1_epi32(0x0040));
            let r = _mm256_blendv_epi8(rounded, nan, is_nan);
            // Pack 8 x u32 (each <= 0xFFFF) to u16; packus works per 128-bit half.
            let packed = _mm256_permute4x64_epi64::<0b10_00_10_00>(_mm256_packus_epi32(r, r));
            _mm256_castsi256_si128(packed)
        }
    }
}

isa_entries!(Avx2, "avx,avx2,f16c", super::has_avx2);
