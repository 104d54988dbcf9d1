//! f16 conversions on aarch64, through `asm!`: 8 lanes for the portable lanes, 4 for NEON.
//!
//! The AdvSIMD conversions every ARMv8-A CPU has (`fcvtl`, `fcvtn`; not
//! the optional FP16 arithmetic), through `asm!` because Rust's intrinsics for them take
//! the still unstable `float16x4_t`. Under the default FPCR (round to nearest even, no
//! flush to zero, no default NaN, IEEE half: what Rust code runs with) they give
//! `half`'s bits for every input, NaN payloads included: `fcvtl` quiets a NaN and keeps
//! its payload, `fcvtn` rounds to nearest even, keeps subnormals, and quiets a NaN
//! keeping the top payload bits. The tests in `lanes.rs` check every f16 pattern and every
//! rounding case through `Lanes` and `Neon`, under qemu in CI.
//!
//! Decided over the lane formulas because each conversion is two instructions for eight
//! values (`docs/design.md`, "aarch64", has the instruction counts).

use core::arch::aarch64::{float32x4_t, uint16x4_t, uint16x8_t};
use core::arch::asm;
use wide::f32x8;

/// Load 8 f16 (bits) at `p` and widen them exactly.
///
/// # Safety
/// `p` is valid for reading 8 u16 (any alignment).
#[inline(always)]
pub(crate) unsafe fn load_f16(p: *const u16) -> f32x8 {
    // SAFETY: the caller guarantees 8 readable u16.
    let h: uint16x8_t = unsafe { p.cast::<uint16x8_t>().read_unaligned() };
    let (lo, hi): (float32x4_t, float32x4_t);
    // SAFETY: register-only AdvSIMD instructions (NEON is enabled for this build).
    unsafe {
        asm!(
            "fcvtl {lo:v}.4s, {h:v}.4h",
            "fcvtl2 {hi:v}.4s, {h:v}.8h",
            h = in(vreg) h,
            lo = out(vreg) lo,
            hi = out(vreg) hi,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    // SAFETY: two float32x4_t are eight f32, the layout of `[f32; 8]`.
    f32x8::new(unsafe { core::mem::transmute::<[float32x4_t; 2], [f32; 8]>([lo, hi]) })
}

/// Round 8 f32 to f16 (nearest even) and store them at `p`.
///
/// # Safety
/// `p` is valid for writing 8 u16 (any alignment).
#[inline(always)]
pub(crate) unsafe fn store_f16(v: f32x8, p: *mut u16) {
    // SAFETY: eight f32 are two float32x4_t.
    let [lo, hi] = unsafe { core::mem::transmute::<[f32; 8], [float32x4_t; 2]>(v.to_array()) };
    let h: uint16x8_t;
    // SAFETY: register-only AdvSIMD instructions (NEON is enabled for this build).
    unsafe {
        asm!(
            "fcvtn {h:v}.4h, {lo:v}.4s",
            "fcvtn2 {h:v}.8h, {hi:v}.4s",
            lo = in(vreg) lo,
            hi = in(vreg) hi,
            h = out(vreg) h,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    // SAFETY: the caller guarantees 8 writable u16.
    unsafe { p.cast::<uint16x8_t>().write_unaligned(h) }
}

/// Widen 4 f16 (bits) exactly.
#[inline(always)]
pub(crate) fn widen4(h: uint16x4_t) -> float32x4_t {
    let v: float32x4_t;
    // SAFETY: a register-only AdvSIMD instruction (NEON is enabled for this build).
    unsafe {
        asm!(
            "fcvtl {v:v}.4s, {h:v}.4h",
            h = in(vreg) h,
            v = out(vreg) v,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    v
}

/// Round 4 f32 to f16 (nearest even).
#[inline(always)]
pub(crate) fn narrow4(v: float32x4_t) -> uint16x4_t {
    let h: uint16x4_t;
    // SAFETY: a register-only AdvSIMD instruction (NEON is enabled for this build).
    unsafe {
        asm!(
            "fcvtn {h:v}.4h, {v:v}.4s",
            v = in(vreg) v,
            h = out(vreg) h,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    h
}
