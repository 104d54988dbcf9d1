//! AVX-512F kernels: 16 f32 lanes in 512-bit registers, AVX-512F conversions for f16,
//! and for bf16 either integer AVX-512F or, for `Backend::Avx512Bf16` (the `with_bf16`
//! instantiation), `vcvtneps2bf16`: it rounds to nearest even and quiets NaNs
//! exactly as `half` does, but reads subnormal inputs as zero, so a vector holding one
//! takes the integer path (`tests/backends.rs` compares both with `half` over a sweep of
//! f32 bit patterns).
//!
//! No FMA anywhere (the bits need unfused multiply and add); f16 conversions take their
//! memory operand (no `{sae}` form, which would cost the widening a shuffle on the
//! multiplies' port). `docs/design.md` has the disassembly checks and the measurements;
//! run `cargo bench -p rope-simd-benches --bench rope -- decode` to see.

use core::arch::x86_64::*;

use crate::backend::vector::{Masked, Unroll, Vector};

/// 16 f32 lanes; `BF16` selects the AVX512_BF16 narrowing.
#[derive(Clone, Copy)]
pub(crate) struct Avx512<const BF16: bool>(__m512);

/// `_MM_FROUND_TO_NEAREST_INT`: round to nearest even, whatever MXCSR says. Without
/// `_MM_FROUND_NO_EXC`: suppressing exceptions is the EVEX `{sae}` form, which takes no
/// memory operand, so LLVM had to narrow into a register and store it with an instruction
/// of its own (the flags it leaves in MXCSR are not read by anything here).
const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT;

// SAFETY (every unsafe block below): these methods run only inside the
// `#[target_feature(enable = "avx512f,avx,avx2,f16c")]` function `run` that `isa_entry!`
// generates at the bottom (with `avx512bf16`, `avx512bw` and `avx512dq` added for
// `Avx512<true>`), which `dispatch` calls only with a `cpu::HasAvx512`
// (`cpu::HasAvx512Bf16`) token: the CPU and OS support those features; the callers of the pointer methods guarantee 16
// (or 8 for `load_dup`, 32 for the pair methods, the mask's lanes for the masked ones:
// AVX-512 masked loads and stores touch no other element, and fault on none) elements,
// and a 16-byte aligned `p` for the `_stream` stores (`plan.rs` streams only where every
// vector store is aligned).
impl<const BF16: bool> Vector for Avx512<BF16> {
    const N: usize = 16;
    const KEEP: usize = 8;
    /// Head_dim 64, 128 and 256 in both layouts (16 lanes: 2, 4, 8 vectors half-split,
    /// 4, 8, 16 interleaved; `docs/design.md`, "Unrolled rows").
    const UNROLLED: &'static [Unroll] = &[
        Unroll::split(2),
        Unroll::split(4),
        Unroll::split(8),
        Unroll::interleaved(4),
        Unroll::interleaved(8),
        Unroll::interleaved(16),
    ];
    /// Head_dim 64, 128 and 256 (chunks of 32 bf16: 1, 2, 4 half-split, 2, 4, 8
    /// interleaved).
    const BF16_UNROLLED: &'static [Unroll] = &[
        Unroll::split(1),
        Unroll::split(2),
        Unroll::split(4),
        Unroll::interleaved(2),
        Unroll::interleaved(4),
        Unroll::interleaved(8),
    ];
    type Tail = super::avx2::Avx2;
    #[inline(always)]
    unsafe fn run_tail<S: crate::Element, D: crate::Element, const INTO: bool>(
        job: crate::backend::span::SpanJob<'_, S, D, INTO>,
    ) {
        // SAFETY: AVX2's features are part of this ISA's (see above).
        unsafe { super::avx2::run(job) }
    }
    type Masks = Masks512;
    const MASKS: Option<Masks512> = Some(Masks512);
    #[inline(always)]
    unsafe fn call<J: crate::backend::dispatch::Job>(job: J) -> J::Out {
        // SAFETY: forwarded from the caller; jobs without bf16 run the plain AVX-512
        // instantiation on either AVX-512 backend (as `dispatch` does).
        unsafe { run(job) }
    }
    const PREFETCH: bool = true;
    // Every interleaved and bf16-pair row tests for the hints at run time: with 32
    // registers the test cost those rows little, where the copies cost bytes (`python3
    // scripts/ab_probe.py REV avx512`; `docs/design.md`, "Prefetch").
    const HINTS_AT_RUN_TIME_FROM: usize = 0;
    #[inline(always)]
    unsafe fn prefetch(p: *const u8) {
        // `prefetcht0`: SSE, part of every x86_64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        unsafe { Self(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        // Not `_mm512_cvtph_ps`: core::arch gives it `{sae}` (see `NEAREST`), so LLVM
        // loaded into a register first, and the register form costs a shuffle uop more.
        unsafe {
            Self(_mm512_cvt_roundph_ps::<_MM_FROUND_CUR_DIRECTION>(
                _mm256_loadu_si256(p.cast()),
            ))
        }
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16) {
        unsafe { _mm256_storeu_si256(p.cast(), _mm512_cvtps_ph::<NEAREST>(self.0)) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        unsafe {
            let w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast()));
            Self(_mm512_castsi512_ps(_mm512_slli_epi32::<16>(w)))
        }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        unsafe { _mm256_storeu_si256(p.cast(), self.bf16_bits()) }
    }
    const STREAM: bool = true;
    #[inline(always)]
    unsafe fn store_f16_stream(self, p: *mut u16) {
        unsafe { stream32(p, _mm512_cvtps_ph::<NEAREST>(self.0)) }
    }
    #[inline(always)]
    unsafe fn store_bf16_stream(self, p: *mut u16) {
        unsafe { stream32(p, self.bf16_bits()) }
    }
    #[inline(always)]
    unsafe fn load_dup(p: *const f32) -> Self {
        unsafe {
            let idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
            Self(_mm512_permutexvar_ps(
                idx,
                _mm512_castps256_ps512(_mm256_loadu_ps(p)),
            ))
        }
    }
    #[inline(always)]
    unsafe fn swap_pairs(self) -> Self {
        unsafe { Self(_mm512_permute_ps::<0b10_11_00_01>(self.0)) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        unsafe { Self(_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn alternating_sign(odd: bool) -> Self {
        let (e, o) = if odd { (0.0, -0.0) } else { (-0.0, 0.0) };
        unsafe {
            Self(_mm512_setr_ps(
                e, o, e, o, e, o, e, o, e, o, e, o, e, o, e, o,
            ))
        }
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        unsafe { Self(_mm512_mul_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        unsafe { Self(_mm512_add_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        unsafe { Self(_mm512_sub_ps(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn load_f32_pairs(p: *const f32) -> (Self, Self) {
        unsafe {
            let (a, b) = (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)));
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            (
                Self(_mm512_permutex2var_ps(a, even, b)),
                Self(_mm512_permutex2var_ps(a, odd, b)),
            )
        }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u16) -> (Self, Self) {
        unsafe {
            let x = _mm512_loadu_si512(p.cast());
            let odd = _mm512_and_si512(x, _mm512_set1_epi32(0xFFFF_0000_u32 as i32));
            (
                Self(_mm512_castsi512_ps(_mm512_slli_epi32::<16>(x))),
                Self(_mm512_castsi512_ps(odd)),
            )
        }
    }
    #[inline(always)]
    unsafe fn store_bf16_pairs(even: Self, odd: Self, p: *mut u16) {
        if !BF16 {
            // SAFETY: AVX-512F is supported; `p` is valid for 64 bytes (caller).
            return unsafe { _mm512_storeu_si512(p.cast(), integer_pairs(even.0, odd.0)) };
        }
        // SAFETY: as for `store_bf16_chunks` below.
        unsafe {
            let rounded = Self::rounded_pairs(even, odd);
            let bits = if Self::zero_words(rounded) == 0 {
                rounded
            } else {
                Self::exact_pairs(even, odd, rounded)
            };
            _mm512_storeu_si512(p.cast(), bits);
        }
    }
    #[inline(always)]
    unsafe fn store_bf16_chunks<const M: usize>(chunks: [(Self, Self, *mut u16); M]) {
        if !BF16 {
            for (even, odd, p) in chunks {
                // SAFETY: forwarded from the caller.
                unsafe { Self::store_bf16_pairs(even, odd, p) }
            }
            return;
        }
        // SAFETY: `BF16` is true only in the `with_bf16` entries, whose functions enable
        // avx512bf16, avx512bw and avx512dq and run only with a `cpu::HasAvx512Bf16` token;
        // each `p` is valid for 64 bytes (caller).
        unsafe {
            let mut rounded = [_mm512_setzero_si512(); M];
            // One mask test and branch for all the screens, not one per chunk (faster:
            // `docs/design.md`, "bf16 pairs").
            let mut zero = 0;
            for (r, &(even, odd, _)) in rounded.iter_mut().zip(&chunks) {
                *r = Self::rounded_pairs(even, odd);
                zero |= Self::zero_words(*r);
            }
            for (i, &(even, odd, p)) in chunks.iter().enumerate() {
                let bits = if zero == 0 {
                    rounded[i]
                } else {
                    Self::exact_pairs(even, odd, rounded[i])
                };
                _mm512_storeu_si512(p.cast(), bits);
            }
        }
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // AVX-512F has no float xor (that is AVX-512DQ): xor the bits.
        unsafe {
            let x = _mm512_xor_si512(_mm512_castps_si512(self.0), _mm512_castps_si512(o.0));
            Self(_mm512_castsi512_ps(x))
        }
    }
}

impl<const BF16: bool> Avx512<BF16> {
    /// `even` and `odd` rounded by `vcvtne2ps2bf16` and interleaved: `even[i]` in word
    /// `2i`, `odd[i]` in word `2i + 1`. Right unless a lane is subnormal: the instruction
    /// reads those as zero (see `zero_words`).
    ///
    /// # Safety
    /// AVX512_BF16 and AVX-512BW are supported (the `with_bf16` entries).
    #[inline(always)]
    unsafe fn rounded_pairs(even: Self, odd: Self) -> __m512i {
        debug_assert!(BF16, "bf16 pairs need AVX512_BF16");
        // SAFETY: forwarded from the caller.
        unsafe {
            // Words 0-15 are `even` rounded, 16-31 `odd`: interleave them.
            let w: __m512i = core::mem::transmute(_mm512_cvtne2ps_pbh(odd.0, even.0));
            let idx = _mm512_set_epi16(
                31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
                20, 4, 19, 3, 18, 2, 17, 1, 16, 0,
            );
            _mm512_permutexvar_epi16(idx, w)
        }
    }

    /// The screen for `rounded_pairs`: a bit per word that is ±0. A subnormal lane gives a
    /// ±0 word, and a normal f32 never rounds to a bf16 zero, so where this is 0 the
    /// rounding was exact; otherwise `exact_pairs` looks closer. A compare into a mask
    /// register runs on the ports the rotation's multiplies use, so one word test per 32
    /// results instead of two VFPCLASSPS frees them (`docs/design.md`, "bf16 pairs"). It
    /// reads the shuffled words: on the
    /// conversion's own result LLVM rewrites the test into a bf16 compare with zero,
    /// which it has no instruction for and does one lane at a time.
    ///
    /// # Safety
    /// AVX-512BW is supported.
    #[inline(always)]
    unsafe fn zero_words(rounded: __m512i) -> u32 {
        // SAFETY: forwarded from the caller.
        unsafe { _mm512_testn_epi16_mask(rounded, _mm512_set1_epi16(0x7FFF)) }
    }

    /// `rounded` (from `rounded_pairs(even, odd)`) if no lane is subnormal (VFPCLASSPS
    /// category 5, AVX-512DQ: a ±0 word may come from a zero), else the same words by the
    /// exact integer rounding of `store_bf16`.
    ///
    /// # Safety
    /// AVX-512F and AVX-512DQ are supported.
    #[inline(always)]
    unsafe fn exact_pairs(even: Self, odd: Self, rounded: __m512i) -> __m512i {
        // SAFETY: forwarded from the caller.
        unsafe {
            let subnormal =
                _mm512_fpclass_ps_mask::<0x20>(even.0) | _mm512_fpclass_ps_mask::<0x20>(odd.0);
            if subnormal == 0 {
                return rounded;
            }
            integer_pairs(even.0, odd.0)
        }
    }

    /// The 16 lanes rounded to bf16 (nearest even, as `half` does).
    ///
    /// # Safety
    /// As for the `Vector` methods above.
    #[inline(always)]
    unsafe fn bf16_bits(self) -> __m256i {
        if BF16 {
            // SAFETY: `BF16` is true only in the `with_bf16` entries, whose functions
            // enable avx512bf16, avx512bw and avx512dq and run only where
            // a `cpu::HasAvx512Bf16` token says so.
            unsafe {
                // Lanes with a subnormal input (VFPCLASSPS category 5, AVX-512DQ).
                let subnormal = _mm512_fpclass_ps_mask::<0x20>(self.0);
                if subnormal == 0 {
                    return core::mem::transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(self.0));
                }
            }
        }
        // SAFETY: AVX-512F is supported (the caller).
        unsafe { _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(round_bf16_bits(self.0))) }
    }
}

/// Store 32 bytes at `p` (16-byte aligned) with two non-temporal 16-byte stores.
///
/// # Safety
/// AVX-512F is supported; `p` is 16-byte aligned and valid for 32 bytes of writes.
#[inline(always)]
unsafe fn stream32(p: *mut u16, v: __m256i) {
    // SAFETY: forwarded from the caller.
    unsafe {
        _mm_stream_si128(p.cast(), _mm256_castsi256_si128(v));
        _mm_stream_si128(p.add(8).cast(), _mm256_extracti128_si256::<1>(v));
    }
}

/// `v` rounded to bf16 in the top half of each lane's bits (nearest even; a NaN keeps its
/// top half with the quiet bit set, as `half` does); the low half is left over.
///
/// # Safety
/// AVX-512F is supported (see the impl above).
#[inline(always)]
unsafe fn round_bf16_bits(v: __m512) -> __m512i {
    // SAFETY: forwarded from the caller.
    unsafe {
        let x = _mm512_castps_si512(v);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(x), _mm512_set1_epi32(1));
        let biased = _mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7FFF)), odd);
        let is_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        _mm512_mask_or_epi32(biased, is_nan, x, _mm512_set1_epi32(0x0040_0000))
    }
}

/// `even` and `odd` rounded to bf16 in integers (exact for every input) and interleaved:
/// `even[i]` in word `2i`, `odd[i]` in word `2i + 1`, each result left in its half of the
/// 32-bit lane (no shuffle).
///
/// # Safety
/// AVX-512F is supported (see the impl above).
#[inline(always)]
unsafe fn integer_pairs(even: __m512, odd: __m512) -> __m512i {
    // SAFETY: forwarded from the caller.
    unsafe {
        // Even results to the low half, odd ones kept in the high half:
        // low | (high & 0xFFFF0000) is truth table a | (b & c) = 0xF8.
        let low = _mm512_srli_epi32::<16>(round_bf16_bits(even));
        _mm512_ternarylogic_epi32::<0xF8>(
            low,
            round_bf16_bits(odd),
            _mm512_set1_epi32(0xFFFF_0000_u32 as i32),
        )
    }
}

/// AVX-512's masked loads and stores (for `strategy/aligned_run.rs`): they touch only
/// the lanes of the mask, and fault on none.
#[derive(Clone, Copy)]
pub(crate) struct Masks512;

// SAFETY (every unsafe block below): as for the `Vector` methods above.
impl<const B: bool> Masked<Avx512<B>> for Masks512 {
    #[inline(always)]
    unsafe fn load(self, p: *const f32, mask: u32) -> Avx512<B> {
        unsafe { Avx512(_mm512_maskz_loadu_ps(mask as __mmask16, p)) }
    }
    #[inline(always)]
    unsafe fn blend(self, mask: u32, a: Avx512<B>, b: Avx512<B>) -> Avx512<B> {
        unsafe { Avx512(_mm512_mask_blend_ps(mask as __mmask16, a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn store(self, v: Avx512<B>, p: *mut f32, mask: u32) {
        unsafe { _mm512_mask_storeu_ps(p, mask as __mmask16, v.0) }
    }
}

isa_entry!(Avx512<false>, "avx512f,avx,avx2,f16c");

/// The same kernels with AVX512_BF16 narrowing, for `Backend::Avx512Bf16`'s jobs that
/// touch bf16 (the bits are the same); its other jobs run the plain instantiation.
pub(crate) mod with_bf16 {
    use super::Avx512;
    isa_entry!(
        Avx512<true>,
        "avx512f,avx512bw,avx512dq,avx512bf16,avx,avx2,f16c"
    );
}
