//! NEON kernels: 4 f32 lanes in 128-bit registers, 32 of them; f16 with `fcvtl`/`fcvtn`
//! (`f16.rs`); bf16 widened with a shift and rounded either in integer lanes (NaNs
//! selected without a branch) or, for `Backend::NeonBf16` (the `with_bf16`
//! instantiation), with FEAT_BF16's `bfcvtn`, which rounds to nearest even, keeps
//! subnormals and quiets NaNs keeping their top payload bits, as `half` does (under the
//! default FPCR, which Rust code runs with).
//!
//! No fused multiply-add (the bits need unfused multiply and add: LLVM fuses only with
//! fast-math flags, which Rust never sets). Interleaved pairs are split and joined by
//! `ld2`/`st2` (`Vector::DEINTERLEAVE`).
//! Run `bash scripts/arm_cycles.sh` for the model's cycles per element.

use core::arch::aarch64::*;
use core::arch::asm;

use super::f16::{narrow4, widen4};
use crate::backend::vector::{NoMasks, Unroll, Vector, BLOCK};

/// 4 f32 lanes; `BF16` selects FEAT_BF16's narrowing.
#[derive(Clone, Copy)]
pub(crate) struct Neon<const BF16: bool>(float32x4_t);

// Every listed shape is whole blocks of the column order (`strategy::unrolled::columns`),
// which does not prefetch.
const _: () = {
    assert!(!<Neon<false> as Vector>::PREFETCH);
    let list = <Neon<false> as Vector>::UNROLLED;
    let mut i = 0;
    while i < list.len() {
        assert!(list[i].vectors.is_multiple_of(BLOCK));
        i += 1;
    }
};

// SAFETY (every unsafe block below): NEON is part of the build target (this module is
// compiled only with `target_feature = "neon"`), so its intrinsics run wherever the code
// does; `bfcvtn` runs only in `Neon<true>`, instantiated only by `with_bf16::run`, which
// `dispatch` calls only with a `cpu::HasBf16` token. The callers of the pointer methods
// guarantee 4 (2 for `load_dup`, 8 for the pair methods) readable or writable elements.
impl<const BF16: bool> Vector for Neon<BF16> {
    const N: usize = 4;
    const KEEP: usize = 8;
    /// Head_dim 64, 128 and 256 in both layouts (4 lanes: 8, 16, 32 vectors half-split,
    /// 8, 16, 32 steps of `ld2`/`st2` interleaved). The rows go a block at a time
    /// (`COLUMNS`), so only a block's cos/sin are held, whatever the head size. Run
    /// `bash scripts/arm_cycles.sh` to see (`docs/design.md`, "aarch64").
    const UNROLLED: &'static [Unroll] = &[
        Unroll::split(8),
        Unroll::split(16),
        Unroll::split(32),
        Unroll::interleaved(8),
        Unroll::interleaved(16),
        Unroll::interleaved(32),
    ];
    /// Head_dim 64 (chunks of 8 pairs: 4 half-split, 8 interleaved), as far as `KEEP`
    /// goes.
    const BF16_UNROLLED: &'static [Unroll] = &[Unroll::split(4), Unroll::interleaved(8)];
    type Tail = Self;
    type Masks = NoMasks;
    const MASKS: Option<NoMasks> = None;
    #[inline(always)]
    unsafe fn call<J: crate::backend::dispatch::Job>(job: J) -> J::Out {
        // SAFETY: forwarded from the caller; jobs without bf16 run the plain NEON
        // instantiation on either NEON backend (as `dispatch` does).
        unsafe { run(job) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        unsafe { Neon(vld1q_f32(p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { vst1q_f32(p, self.0) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        unsafe { Neon(widen4(vld1_u16(p))) }
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16) {
        unsafe { vst1_u16(p, narrow4(self.0)) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        unsafe { Neon(vreinterpretq_f32_u32(vshll_n_u16::<16>(vld1_u16(p)))) }
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        unsafe {
            let h = if BF16 {
                bfcvtn(self.0)
            } else {
                vshrn_n_u32::<16>(round_bf16(self.0))
            };
            vst1_u16(p, h)
        }
    }
    /// `ld2`/`st2` split and join interleaved pairs on the way in and out: fewer
    /// instructions than duplicated cos/sin and a `rev64` per vector (run `bash
    /// scripts/arm_cycles.sh` to see).
    const DEINTERLEAVE: bool = true;
    const COLUMNS: bool = true;
    #[inline(always)]
    unsafe fn load_dup(p: *const f32) -> Self {
        unsafe {
            let d = vld1_f32(p);
            let q = vcombine_f32(d, d);
            Neon(vzip1q_f32(q, q))
        }
    }
    #[inline(always)]
    unsafe fn swap_pairs(self) -> Self {
        unsafe { Neon(vrev64q_f32(self.0)) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        unsafe { Neon(vdupq_n_f32(v)) }
    }
    #[inline(always)]
    unsafe fn alternating_sign(odd: bool) -> Self {
        let (e, o) = if odd { (0.0, -0.0) } else { (-0.0, 0.0) };
        let v: [f32; 4] = [e, o, e, o];
        unsafe { Neon(vld1q_f32(v.as_ptr())) }
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        unsafe { Neon(vmulq_f32(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        unsafe { Neon(vaddq_f32(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        unsafe { Neon(vsubq_f32(self.0, o.0)) }
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        unsafe {
            let x = veorq_u32(vreinterpretq_u32_f32(self.0), vreinterpretq_u32_f32(o.0));
            Neon(vreinterpretq_f32_u32(x))
        }
    }
    #[inline(always)]
    unsafe fn load_f32_pairs(p: *const f32) -> (Self, Self) {
        unsafe {
            let v = vld2q_f32(p);
            (Neon(v.0), Neon(v.1))
        }
    }
    #[inline(always)]
    unsafe fn store_f32_pairs(even: Self, odd: Self, p: *mut f32) {
        unsafe { vst2q_f32(p, float32x4x2_t(even.0, odd.0)) }
    }
    #[inline(always)]
    unsafe fn load_f16_pairs(p: *const u16) -> (Self, Self) {
        unsafe {
            let h = vld2_u16(p);
            (Neon(widen4(h.0)), Neon(widen4(h.1)))
        }
    }
    #[inline(always)]
    unsafe fn store_f16_pairs(even: Self, odd: Self, p: *mut u16) {
        unsafe { vst2_u16(p, uint16x4x2_t(narrow4(even.0), narrow4(odd.0))) }
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u16) -> (Self, Self) {
        unsafe {
            // 8 bf16 as 4 little-endian 32-bit words: even elements in the low halves.
            let x = vld1q_u32(p.cast());
            let odd = vandq_u32(x, vdupq_n_u32(0xFFFF_0000));
            (
                Neon(vreinterpretq_f32_u32(vshlq_n_u32::<16>(x))),
                Neon(vreinterpretq_f32_u32(odd)),
            )
        }
    }
    #[inline(always)]
    unsafe fn store_bf16_pairs(even: Self, odd: Self, p: *mut u16) {
        unsafe {
            if BF16 {
                // Two roundings, and `st2` interleaves them on the way out.
                vst2_u16(p, uint16x4x2_t(bfcvtn(even.0), bfcvtn(odd.0)));
            } else {
                // The odd results keep their high halves and `sri` shifts the even ones
                // into the low halves.
                let (e, o) = (round_bf16(even.0), round_bf16(odd.0));
                vst1q_u32(p.cast(), vsriq_n_u32::<16>(o, e));
            }
        }
    }
}

/// `v` rounded to bf16 (nearest even; a NaN keeps its top half with the quiet bit set, as
/// `half` does) in the high half of each 32-bit lane; the low half is left over: four
/// integer operations and a NaN select (a compare, an or, a bit select), no branch.
/// Decided over a NaN check and a branch: the in-order Cortex-A55 of the cycle model ran
/// that check's compare, reduction and move to a general register in sequence, while the
/// out-of-order cores came within a few percent either way (run `bash
/// scripts/arm_cycles.sh` to see).
///
/// # Safety
/// NEON is enabled (see the impl above).
#[inline(always)]
unsafe fn round_bf16(v: float32x4_t) -> uint32x4_t {
    // SAFETY: NEON is part of the build target.
    unsafe {
        let nan = vorrq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x0040_0000));
        vbslq_u32(vceqq_f32(v, v), round_bf16_no_nan(v), nan)
    }
}

/// [`round_bf16`]'s rounding, right for lanes that hold no NaN (infinities and values that round
/// past the largest bf16 come out as infinities, as in `half`).
///
/// # Safety
/// NEON is enabled (see the impl above).
#[inline(always)]
unsafe fn round_bf16_no_nan(v: float32x4_t) -> uint32x4_t {
    // SAFETY: NEON is part of the build target.
    unsafe {
        let x = vreinterpretq_u32_f32(v);
        let odd = vandq_u32(vshrq_n_u32::<16>(x), vdupq_n_u32(1));
        vaddq_u32(vaddq_u32(x, vdupq_n_u32(0x7FFF)), odd)
    }
}

/// FEAT_BF16's `bfcvtn`: 4 f32 rounded to bf16 bits.
///
/// # Safety
/// The CPU has FEAT_BF16 (only `Neon<true>` calls it: see the impl above), and the
/// calling function enables the `bf16` target feature (`with_bf16::run` does).
#[inline(always)]
unsafe fn bfcvtn(v: float32x4_t) -> uint16x4_t {
    let h: uint16x4_t;
    // SAFETY: a register-only instruction the caller guarantees the CPU has.
    unsafe {
        asm!(
            "bfcvtn {h:v}.4h, {v:v}.4s",
            v = in(vreg) v,
            h = out(vreg) h,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    h
}

isa_entry!(Neon<false>, "neon");

/// The same kernels with FEAT_BF16 narrowing, for `Backend::NeonBf16`'s jobs that touch
/// bf16 (the bits are the same); its other jobs run the plain instantiation.
pub(crate) mod with_bf16 {
    use super::Neon;
    isa_entry!(Neon<true>, "neon,bf16");
}
