//! The portable backend: `wide`'s `f32x8`, compiled for the build target's own SIMD
//! (SSE2 on x86_64, NEON on aarch64, simd128 on wasm32 built with `+simd128`, plain
//! arrays elsewhere). f16 and bf16 are converted with exact integer bit manipulation in
//! lanes, giving `half`'s bits for every input (tested over every 16-bit pattern), except
//! f16 on aarch64, where every CPU converts in hardware (see `aarch64/f16.rs`), and on
//! wasm32 with simd128, where it is written on wasm's own vectors (see `wasm32.rs`).

use super::vector::{NoMasks, Unroll, Vector};
use wide::{bytemuck::cast, f32x8, i16x8, i32x8, u16x8, u32x8};

/// Whether `wide` compiles to SIMD instructions on this target (SSE2 on x86_64, NEON on
/// aarch64, simd128 on wasm32 built with it). Elsewhere its vectors are plain arrays, and
/// `Backend::Lanes` runs the scalar kernels instead: the same bits, without a second
/// copy of every kernel in the program.
pub(crate) const HAS_SIMD: bool = cfg!(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon"),
    all(target_arch = "wasm32", target_feature = "simd128")
));

#[derive(Clone, Copy)]
pub(crate) struct Lanes(f32x8);

#[inline(always)]
fn bits(v: f32x8) -> u32x8 {
    cast(v)
}

#[inline(always)]
fn float(v: u32x8) -> f32x8 {
    cast(v)
}

#[inline(always)]
fn splat(v: u32) -> u32x8 {
    u32x8::splat(v)
}

/// f16 bits (one per u32 lane) to f32, exactly as `half::f16::to_f32`.
// Unused on aarch64 (NEON converts f16 itself) and on wasm32 with simd128 (`wasm32.rs`)
// but for the tests, which keep it exact.
#[cfg_attr(
    any(
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "wasm32", target_feature = "simd128")
    ),
    allow(dead_code)
)]
#[inline(always)]
pub(crate) fn f16_to_f32(h: u32x8) -> f32x8 {
    let sign = (h & splat(0x8000)).unbounded_shl_scalar(16);
    let em = h & splat(0x7FFF);
    // Normal: rebias the exponent (15 -> 127).
    let normal = em.unbounded_shl_scalar(13) + splat(0x3800_0000);
    // Subnormal (and zero): em * 2^-24, exact in f32 (a small integer times a power of two).
    let two_pow_minus_24 = f32x8::splat(f32::from_bits(0x3380_0000));
    let sub = bits(cast::<u32x8, i32x8>(em).round_float() * two_pow_minus_24);
    // Inf and NaN: all-ones exponent, payload kept, NaN made quiet (as `half` does).
    let quiet = em.simd_gt(splat(0x7C00)) & splat(0x0040_0000);
    let special = em.unbounded_shl_scalar(13) | splat(0x7F80_0000) | quiet;
    let is_sub = splat(0x0400).simd_gt(em);
    let is_special = em.simd_gt(splat(0x7BFF));
    let mag = is_special.select(special, is_sub.select(sub, normal));
    float(sign | mag)
}

/// f32 to f16 bits, rounding to nearest even exactly as `half::f16::from_f32`: the 16 bits
/// sign-extended in each i32 lane (so that [`store_u16`] packs them with one saturating
/// narrowing, which cannot saturate).
// Unused on aarch64 (NEON converts f16 itself) and on wasm32 with simd128 (`wasm32.rs`)
// but for the tests, which keep it exact.
#[cfg_attr(
    any(
        all(target_arch = "aarch64", target_feature = "neon"),
        all(target_arch = "wasm32", target_feature = "simd128")
    ),
    allow(dead_code)
)]
#[inline(always)]
pub(crate) fn f32_to_f16(v: f32x8) -> i32x8 {
    let x = bits(v);
    // 0xFFFF_8000 for a negative value, 0 otherwise.
    let sign = cast::<i32x8, u32x8>(cast::<u32x8, i32x8>(x) >> 16_i32) & splat(0xFFFF_8000);
    let a = x & splat(0x7FFF_FFFF);
    // NaN: quiet, top payload bits kept.
    let nan = splat(0x7E00) | (a & splat(0x007F_FFFF)).unbounded_shr_scalar(13);
    // Normal: rebias, add half an ulp minus one plus the lowest kept bit, shift.
    // Values from 65520 up carry into the exponent and give infinity (0x7C00).
    let odd = a.unbounded_shr_scalar(13) & splat(1);
    let normal = (a - splat(0x3800_0000) + splat(0x0FFF) + odd).unbounded_shr_scalar(13);
    // Subnormal and zero: adding 0.5 makes the FPU round at the f16 subnormal ulp (2^-24).
    let magic = splat(0x3F00_0000);
    let sub = bits(float(a) + float(magic)) - magic;
    let is_nan = a.simd_gt(splat(0x7F80_0000));
    let is_inf = a.simd_gt(splat(0x477F_FFFF)); // >= 65536: infinity
    let is_sub = splat(0x3880_0000).simd_gt(a); // < 2^-14
    let mag = is_nan.select(
        nan,
        is_inf.select(splat(0x7C00), is_sub.select(sub, normal)),
    );
    cast(sign | mag)
}

/// bf16 bits to f32: exact, a shift. (`half` also sets the quiet bit of a NaN; the kernels
/// do not need to, since arithmetic on a NaN gives a NaN either way.)
#[inline(always)]
pub(crate) fn bf16_to_f32(h: u32x8) -> f32x8 {
    float(h.unbounded_shl_scalar(16))
}

/// f32 rounded to bf16 (nearest even; a NaN keeps its top half with the quiet bit set, as
/// `half` does) in the high half of each 32-bit lane; the low half is left over.
#[inline(always)]
fn round_bf16_bits(v: f32x8) -> u32x8 {
    let x = bits(v);
    let is_nan: u32x8 = cast(v.is_nan());
    let odd = x.unbounded_shr_scalar(16) & splat(1);
    is_nan.select(x | splat(0x0040_0000), x + splat(0x7FFF) + odd)
}

/// f32 to bf16 bits, rounding to nearest even exactly as `half::bf16::from_f32`: the 16
/// bits sign-extended in each i32 lane (see [`f32_to_f16`]).
#[inline(always)]
pub(crate) fn f32_to_bf16(v: f32x8) -> i32x8 {
    // The top 16 bits, shifted down arithmetically: sign-extended.
    cast::<u32x8, i32x8>(round_bf16_bits(v)) >> 16_i32
}

#[inline(always)]
unsafe fn load_u16(p: *const u16) -> u32x8 {
    // `wide` widens u16x8 lane by lane on wasm32 (8 extracts and 8 inserts per load,
    // most of a 16-bit kernel's time there): two extending moves instead.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::{
            u32x4_extend_high_u16x8, u32x4_extend_low_u16x8, v128, v128_load,
        };
        // SAFETY: the caller guarantees 8 readable u16 at `p`; wasm loads take any
        // alignment.
        let v = unsafe { v128_load(p.cast::<v128>()) };
        let halves = [u32x4_extend_low_u16x8(v), u32x4_extend_high_u16x8(v)];
        // SAFETY: two v128 are the 32 bytes of a u32x8 (plain data, any bits valid).
        return unsafe { core::mem::transmute::<[v128; 2], u32x8>(halves) };
    }
    #[allow(unreachable_code)]
    {
        // SAFETY: the caller guarantees 8 readable u16 at `p` (any alignment).
        let h: [u16; 8] = unsafe { p.cast::<[u16; 8]>().read_unaligned() };
        u32x8::from(u16x8::new(h))
    }
}

/// Store 8 u16 given sign-extended in i32 lanes: one saturating narrowing (`packssdw`,
/// `i16x8.narrow_i32x4_s`, `sqxtn`), exact since every lane is in i16 range. (Truncating
/// lane by lane instead compiled to eight 16-bit lane stores on wasm32.)
#[inline(always)]
unsafe fn store_u16(v: i32x8, p: *mut u16) {
    let h: [u16; 8] = cast(i16x8::from_i32x8_saturate(v));
    // SAFETY: the caller guarantees 8 writable u16 at `p` (any alignment).
    unsafe { p.cast::<[u16; 8]>().write_unaligned(h) }
}

// SAFETY (the unsafe fns below): `wide` chose this target's SIMD at compile time, so
// every operation is supported wherever the crate runs; the callers guarantee the
// pointer ranges (8 elements, 4 for `load_dup`, 16 for the bf16-pair methods).
impl Vector for Lanes {
    const N: usize = 8;
    const KEEP: usize = 2;
    // What fits in its registers is head_dim 32 at most, and unrolling further was
    // faster at decode on x86_64 but made the wasm32 module much larger
    // (`docs/design.md`, "Unrolled rows").
    const UNROLLED: &'static [Unroll] = &[];
    // Two chunks is as far as `KEEP` goes: head_dim 32 at most.
    const BF16_UNROLLED: &'static [Unroll] = &[];
    type Tail = Self;
    type Masks = NoMasks;
    const MASKS: Option<NoMasks> = None;
    // On x86_64 the portable lanes serve only CPUs without AVX2, whose speed no goal
    // names: f32 into 16-bit goes through f32 rows there, one kernel fewer per type
    // (`sizes.txt`; `docs/design.md`, "Code size"). Elsewhere (wasm32) they are the
    // fast path.
    const FUSED_INTO_16: bool = cfg!(not(target_arch = "x86_64"));
    // On x86_64 and wasm32, f16 in place goes through f32 rows: one kernel fewer, at
    // the same speed or faster (`docs/design.md`, "Out of place").
    const FUSED_F16: bool = cfg!(not(any(target_arch = "x86_64", target_arch = "wasm32")));
    // On-the-fly cos/sin multiplies by the scale even when it is 1: half the angle
    // loops' code, for a multiply a value (`docs/design.md`, "Code size").
    const SKIP_SCALE_ONE: bool = false;
    #[inline(always)]
    unsafe fn call<J: super::dispatch::Job>(job: J) -> J::Out {
        // SAFETY: forwarded from the caller.
        unsafe { run(job) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: see the impl comment.
        Lanes(f32x8::new(unsafe { p.cast::<[f32; 8]>().read_unaligned() }))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: see the impl comment.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(self.0.to_array()) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> Self {
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        // SAFETY: see the impl comment.
        return Lanes(unsafe { super::aarch64::f16::load_f16(p) });
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: see the impl comment.
        return Lanes(unsafe { super::wasm32::load_f16(p) });
        #[cfg(not(any(
            all(target_arch = "aarch64", target_feature = "neon"),
            all(target_arch = "wasm32", target_feature = "simd128")
        )))]
        // SAFETY: see the impl comment.
        Lanes(f16_to_f32(unsafe { load_u16(p) }))
    }
    #[inline(always)]
    unsafe fn store_f16(self, p: *mut u16) {
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        // SAFETY: see the impl comment.
        return unsafe { super::aarch64::f16::store_f16(self.0, p) };
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: see the impl comment.
        return unsafe { super::wasm32::store_f16(self.0, p) };
        #[cfg(not(any(
            all(target_arch = "aarch64", target_feature = "neon"),
            all(target_arch = "wasm32", target_feature = "simd128")
        )))]
        // SAFETY: see the impl comment.
        unsafe {
            store_u16(f32_to_f16(self.0), p)
        }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> Self {
        // SAFETY: see the impl comment.
        Lanes(bf16_to_f32(unsafe { load_u16(p) }))
    }
    #[inline(always)]
    unsafe fn store_bf16(self, p: *mut u16) {
        // SAFETY: see the impl comment.
        unsafe { store_u16(f32_to_bf16(self.0), p) }
    }
    #[inline(always)]
    unsafe fn load_dup(p: *const f32) -> Self {
        // SAFETY: see the impl comment.
        let v = unsafe { p.cast::<[f32; 4]>().read_unaligned() };
        Lanes(f32x8::new([v[0], v[0], v[1], v[1], v[2], v[2], v[3], v[3]]))
    }
    #[inline(always)]
    unsafe fn swap_pairs(self) -> Self {
        let v = self.0.to_array();
        Lanes(f32x8::new([v[1], v[0], v[3], v[2], v[5], v[4], v[7], v[6]]))
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Lanes(f32x8::splat(v))
    }
    #[inline(always)]
    unsafe fn alternating_sign(odd: bool) -> Self {
        let (e, o) = if odd { (0.0, -0.0) } else { (-0.0, 0.0) };
        Lanes(f32x8::new([e, o, e, o, e, o, e, o]))
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        Lanes(self.0 * o.0)
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Lanes(self.0 + o.0)
    }
    #[inline(always)]
    unsafe fn sub(self, o: Self) -> Self {
        Lanes(self.0 - o.0)
    }
    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        Lanes(self.0 ^ o.0)
    }
    #[inline(always)]
    unsafe fn load_f32_pairs(p: *const f32) -> (Self, Self) {
        // SAFETY: see the impl comment (16 f32).
        let v = unsafe { p.cast::<[f32; 16]>().read_unaligned() };
        let (even, odd) = (
            core::array::from_fn(|i| v[2 * i]),
            core::array::from_fn(|i| v[2 * i + 1]),
        );
        (Lanes(f32x8::new(even)), Lanes(f32x8::new(odd)))
    }
    #[inline(always)]
    unsafe fn load_bf16_pairs(p: *const u16) -> (Self, Self) {
        // SAFETY: see the impl comment (16 bf16, as 8 little-endian 32-bit words: even
        // elements in the low halves).
        let x = u32x8::new(unsafe { p.cast::<[u32; 8]>().read_unaligned() }.map(u32::from_le));
        (
            Lanes(float(x.unbounded_shl_scalar(16))),
            Lanes(float(x & splat(0xFFFF_0000))),
        )
    }
    #[inline(always)]
    unsafe fn store_bf16_pairs(even: Self, odd: Self, p: *mut u16) {
        // Even results to the low half of each 32-bit word, odd ones kept in the high
        // half: no narrowing or shuffle.
        let low = round_bf16_bits(even.0).unbounded_shr_scalar(16);
        let words = low | (round_bf16_bits(odd.0) & splat(0xFFFF_0000));
        // SAFETY: see the impl comment (16 bf16).
        unsafe {
            p.cast::<[u32; 8]>()
                .write_unaligned(words.to_array().map(u32::to_le))
        }
    }
}

/// Run `job` with the portable lanes: the lanes' entry point, as each x86_64 ISA has one
/// (out of line, so that the dispatch inlined into its callers stays small).
///
/// # Safety
/// None beyond the job's own: `wide` compiled for this target's SIMD.
#[inline(never)]
#[cfg_attr(
    all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    ),
    allow(dead_code)
)]
pub(crate) unsafe fn run<J: super::dispatch::Job>(job: J) -> J::Out {
    // SAFETY: `Lanes` needs no runtime feature (see the impl above).
    unsafe { job.simd::<Lanes>() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::soft::rounding_cases;
    use half::{bf16, f16};

    /// Every 16-bit pattern, eight at a time (every `step`-th group).
    fn every_pattern(step: usize) -> impl Iterator<Item = [u16; 8]> {
        (0..=u16::MAX / 8)
            .step_by(step)
            .map(|hi| core::array::from_fn(|i| hi * 8 + i as u16))
    }

    /// Widened f16 and bf16 against `half`: exact bits, a bf16 NaN only as NaN (the lane
    /// formula does not force the quiet bit; arithmetic on a NaN gives a NaN either way).
    fn check_widening(h: [u16; 8], f: [f32; 8], b: [f32; 8]) {
        for i in 0..8 {
            let want = f16::from_bits(h[i]).to_f32();
            assert_eq!(f[i].to_bits(), want.to_bits(), "f16 {:#06x}", h[i]);
            let want = bf16::from_bits(h[i]).to_f32();
            if want.is_nan() {
                assert!(b[i].is_nan(), "bf16 {:#06x}", h[i]);
            } else {
                assert_eq!(b[i].to_bits(), want.to_bits(), "bf16 {:#06x}", h[i]);
            }
        }
    }

    /// Narrowed f16 and bf16 bits of `x` against `half`'s.
    fn check_narrowing(x: [u32; 8], h: [u16; 8], b: [u16; 8]) {
        for i in 0..8 {
            let f = f32::from_bits(x[i]);
            assert_eq!(h[i], f16::from_f32(f).to_bits(), "f16 of {:#010x}", x[i]);
            assert_eq!(b[i], bf16::from_f32(f).to_bits(), "bf16 of {:#010x}", x[i]);
        }
    }

    /// The lane formulas widen every 16-bit pattern and round every rounding case to
    /// `half`'s bits (on aarch64 too, where `Lanes` converts f16 with NEON instead).
    #[test]
    fn lane_formulas_match_half() {
        for h in every_pattern(if cfg!(miri) { 97 } else { 1 }) {
            let v = u32x8::new(h.map(u32::from));
            check_widening(h, f16_to_f32(v).to_array(), bf16_to_f32(v).to_array());
        }
        for x in rounding_cases(if cfg!(miri) { 997 } else { 1 }) {
            let v = f32x8::new(x.map(f32::from_bits));
            let narrow = |w: i32x8| w.to_array().map(|b| b as u16);
            check_narrowing(x, narrow(f32_to_f16(v)), narrow(f32_to_bf16(v)));
        }
    }

    /// `Lanes`' own loads and stores (what the kernels call) widen every 16-bit pattern
    /// and round every rounding case to `half`'s bits.
    #[test]
    fn vector_loads_and_stores_match_half() {
        for h in every_pattern(if cfg!(miri) { 97 } else { 1 }) {
            // SAFETY: `Lanes` needs no runtime feature; 8 readable u16.
            let (f, b) = unsafe { (Lanes::load_f16(h.as_ptr()), Lanes::load_bf16(h.as_ptr())) };
            check_widening(h, f.0.to_array(), b.0.to_array());
        }
        for x in rounding_cases(if cfg!(miri) { 997 } else { 1 }) {
            let v = Lanes(f32x8::new(x.map(f32::from_bits)));
            let (mut h, mut b) = ([0u16; 8], [0u16; 8]);
            // SAFETY: `Lanes` needs no runtime feature; 8 writable u16 each.
            unsafe { (v.store_f16(h.as_mut_ptr()), v.store_bf16(b.as_mut_ptr())) };
            check_narrowing(x, h, b);
        }
    }

    /// The trait's default pair methods (through a stack buffer, for ISAs without
    /// `DEINTERLEAVE`) split and join pairs as `ld2`/`st2` do.
    #[test]
    fn default_pair_methods_split_and_join() {
        let x: [f32; 16] = core::array::from_fn(|i| i as f32 + 0.5);
        let h: [u16; 16] = core::array::from_fn(|i| f16::from_f32(i as f32 - 3.25).to_bits());
        let (mut y, mut g) = ([0f32; 16], [0u16; 16]);
        let (mut even, mut odd) = ([0f32; 8], [0f32; 8]);
        // SAFETY: 16 elements each, as the pair methods of 8 lanes need.
        unsafe {
            let (e, o) = Lanes::load_f32_pairs(x.as_ptr());
            Lanes::store_f32_pairs(e, o, y.as_mut_ptr());
            let (e, o) = Lanes::load_f16_pairs(h.as_ptr());
            e.store(even.as_mut_ptr());
            o.store(odd.as_mut_ptr());
            Lanes::store_f16_pairs(e, o, g.as_mut_ptr());
        }
        assert_eq!(x, y);
        assert_eq!(h, g);
        for i in 0..8 {
            assert_eq!(even[i], (2 * i) as f32 - 3.25);
            assert_eq!(odd[i], (2 * i + 1) as f32 - 3.25);
        }
    }
}
