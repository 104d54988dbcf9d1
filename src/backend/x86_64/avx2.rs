//! AVX2 kernels: 8 f32 lanes in 256-bit registers, F16C for f16, integer AVX2 for bf16.
//!
//! No FMA anywhere (the bits need unfused multiply and add). bf16 is rounded in integer
//! lanes, with a NaN-free fast path (a compare, a test and a branch per store; the blend
//! only on the NaN path). The masked methods serve `strategy/aligned_run.rs`.
//! `docs/design.md` has the disassembly checks and the measurements; run `cargo bench -p
//! rope-simd-benches --bench rope -- decode` to see.

use core::arch::x86_64::*;

use crate::backend::vector::{Masked, Unroll, Vector};

#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256);

// SAFETY (every unsafe block below): these methods run only inside the
// `#[target_feature(enable = "avx,avx2,f16c")]` function `run` that `isa_entry!` generates
// at the bottom, which `dispatch` calls only with a `cpu::HasAvx2` token (the CPU and OS
// support those features), or inside the AVX-512 ones (for row tails: `Avx512::Tail`),
// which enable the same features and need a token that implies them; the callers of the
// pointer methods guarantee 8 (or 4 for `load_dup`) readable
// or writable elements, and a 16-byte aligned `p` for the `_stream` stores
// (`plan.rs` streams only where every vector store is aligned).
impl Vector for Avx2 {
    const N: usize = 8;
    const KEEP: usize = 4;
    /// Head_dim 64, 128 and 256 in both layouts (8 lanes: 4, 8, 16 vectors half-split,
    /// 8, 16, 32 interleaved); half-split 16-bit rows of 16 vectors are faster in the row
    /// loop (`docs/design.md`, "Unrolled rows").
    const UNROLLED: &'static [Unroll] = &[
        Unroll::split(4),
        Unroll::split(8),
        Unroll::split_f32(16),
        Unroll::interleaved(8),
        Unroll::interleaved(16),
        Unroll::interleaved(32),
    ];
    /// Head_dim 64 (chunks of 16 pairs: 2 half-split, 4 interleaved); wider rows' cos/sin
    /// do not fit in `KEEP`.
    const BF16_UNROLLED: &'static [Unroll] = &[Unroll::split(2), Unroll::interleaved(4)];
    type Tail = Self;
    type Masks = Masks256;
    const MASKS: Option<Masks256> = Some(Masks256);
    #[inline(always)]
    unsafe fn call<J: crate::backend::dispatch::Job>(job: J) -> J::Out {
        // SAFETY: forwarded from the caller.
        unsafe { run(job) }
    }
    const PREFETCH: bool = true;
    #[inline(always)]
    unsafe fn prefetch(p: *const u8) {
        // `prefetcht0`: SSE, part of every x86_64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
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
    // On-the-fly cos/sin multiplies by a scale of 1 too: half the angle loops' code, for
    // a multiply a value; no goal row is AVX2's (`docs/design.md`, "Code size").
    const SKIP_SCALE_ONE: bool = false;
    // f32 into bf16 takes the row loop: its unrolled rows measured no faster into a
    // cache (`docs/design.md`, "Unrolled rows").
    const UNROLL_INTO_BF16: bool = false;
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
    #[inline(always)]
    unsafe fn load_f32_pairs(p: *const f32) -> (Self, Self) {
        unsafe {
            let (a, b) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
            // Within each 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6; then put the quarters
            // in order.
            // (No closure for the repeated step: closures are not inlined into
            // `#[target_feature]` functions, and the call is far slower.)
            let even = _mm256_castps_pd(_mm256_shuffle_ps::<0b10_00_10_00>(a, b));
            let odd = _mm256_castps_pd(_mm256_shuffle_ps::<0b11_01_11_01>(a, b));
            (
                Avx2(_mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
                    even,
                ))),
                Avx2(_mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(
                    odd,
                ))),
            )
        }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u16) -> (Self, Self) {
        unsafe {
            let x = _mm256_loadu_si256(p.cast());
            let odd = _mm256_and_si256(x, _mm256_set1_epi32(0xFFFF_0000_u32 as i32));
            (
                Avx2(_mm256_castsi256_ps(_mm256_slli_epi32::<16>(x))),
                Avx2(_mm256_castsi256_ps(odd)),
            )
        }
    }
    #[inline(always)]
    unsafe fn store_bf16_pairs(even: Self, odd: Self, p: *mut u16) {
        unsafe {
            // One NaN check for both vectors; without NaNs the rounding is four integer
            // operations a vector (see `round_bf16_bits`).
            let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(even.0, odd.0);
            let (even, odd) = if _mm256_movemask_ps(nan) == 0 {
                (even.round_bf16_bits_no_nan(), odd.round_bf16_bits_no_nan())
            } else {
                (even.round_bf16_bits(), odd.round_bf16_bits())
            };
            // Even results to the low half of each 32-bit lane, odd ones kept in the high
            // half: one word blend, no shuffle (the one-vector store needs a pack and a
            // permute).
            let low = _mm256_srli_epi32::<16>(even);
            _mm256_storeu_si256(p.cast(), _mm256_blend_epi16::<0b1010_1010>(low, odd));
        }
    }
}

/// Bit `i` of `mask` as all ones (set) or zeros in 32-bit lane `i`: the form of lane mask
/// `vmaskmovps` and `vblendvps` read (the top bit of each lane). The callers' masks are
/// the same for a whole call: in objdump of a release build LLVM makes them (`vpand`,
/// `vpcmpeqd`) before the loops, not in them.
///
/// # Safety
/// AVX2 is supported.
#[inline(always)]
unsafe fn lane_mask(mask: u32) -> __m256i {
    // SAFETY: forwarded from the caller.
    unsafe {
        let bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        let set = _mm256_and_si256(_mm256_set1_epi32(mask as i32), bits);
        _mm256_cmpeq_epi32(set, bits)
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
            let r = _mm256_srli_epi32::<16>(self.round_bf16_bits());
            // Pack 8 x u32 (each <= 0xFFFF) to u16; packus works per 128-bit half.
            let packed = _mm256_permute4x64_epi64::<0b10_00_10_00>(_mm256_packus_epi32(r, r));
            _mm256_castsi256_si128(packed)
        }
    }

    /// The 8 lanes rounded to bf16 (nearest even; a NaN keeps its top half with the quiet
    /// bit set, as `half` does) in the high half of each 32-bit lane; the low half is
    /// left over. Without NaNs (one compare and a branch: they are rare), four integer
    /// operations; with any, a blend more.
    ///
    /// # Safety
    /// As for the `Vector` methods above.
    #[inline(always)]
    unsafe fn round_bf16_bits(self) -> __m256i {
        // SAFETY: AVX2 is supported (the caller).
        unsafe {
            let is_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(self.0, self.0);
            if _mm256_movemask_ps(is_nan) == 0 {
                return self.round_bf16_bits_no_nan();
            }
            let x = _mm256_castps_si256(self.0);
            let nan = _mm256_or_si256(x, _mm256_set1_epi32(0x0040_0000));
            let is_nan = _mm256_castps_si256(is_nan);
            _mm256_blendv_epi8(self.round_bf16_bits_no_nan(), nan, is_nan)
        }
    }

    /// As `round_bf16_bits`, for lanes known to hold no NaN (infinities and values that
    /// round past the largest bf16 come out as infinities, as in `half`).
    ///
    /// # Safety
    /// As for the `Vector` methods above.
    #[inline(always)]
    unsafe fn round_bf16_bits_no_nan(self) -> __m256i {
        // SAFETY: AVX2 is supported (the caller).
        unsafe {
            let x = _mm256_castps_si256(self.0);
            let odd = _mm256_and_si256(_mm256_srli_epi32::<16>(x), _mm256_set1_epi32(1));
            _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7FFF)), odd)
        }
    }
}

/// AVX2's masked loads and stores (for `strategy/aligned_run.rs`).
// `vmaskmovps` reads and writes only the lanes whose mask is set, and raises no fault
// for the others (Intel SDM, VMASKMOV); the one caller (`strategy::aligned_run`) masks
// only data vectors on 32-byte boundaries, whose masked-off lanes lie in the same
// aligned 32 bytes as lanes it owns, so in a mapped page either way.
#[derive(Clone, Copy)]
pub(crate) struct Masks256;

// SAFETY (every unsafe block below): as for the `Vector` methods above.
impl Masked<Avx2> for Masks256 {
    #[inline(always)]
    unsafe fn load(self, p: *const f32, mask: u32) -> Avx2 {
        unsafe { Avx2(_mm256_maskload_ps(p, lane_mask(mask))) }
    }
    #[inline(always)]
    unsafe fn blend(self, mask: u32, a: Avx2, b: Avx2) -> Avx2 {
        unsafe {
            Avx2(_mm256_blendv_ps(
                a.0,
                b.0,
                _mm256_castsi256_ps(lane_mask(mask)),
            ))
        }
    }
    #[inline(always)]
    unsafe fn store(self, v: Avx2, p: *mut f32, mask: u32) {
        unsafe { _mm256_maskstore_ps(p, lane_mask(mask), v.0) }
    }
}

isa_entry!(Avx2, "avx,avx2,f16c");
