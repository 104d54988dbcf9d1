//! The SIMD kernel, written once over a small vector trait and instantiated per ISA.
//!
//! It reproduces [`kernel::scalar`](crate::kernel::scalar) bit for bit: the same f32
//! multiplies and adds per element, in the same order up to IEEE-exact rewrites
//! (`a*c - b*s == a*c + b*(-s)`, `x + y == y + x`), no fused multiply-add, the same
//! conversions. Pairs left over after the last full vector go to the scalar kernel.

use crate::kernel::{self, Span};
use half::{bf16, f16};

/// A vector of `N` f32 lanes on one ISA.
///
/// # Safety
/// Every method may use instructions of the implementing ISA: call them only from code
/// that runs after the CPU was found to support it (a `#[target_feature]` function reached
/// through [`Backend`](crate::Backend) dispatch, or a build where the feature is always on).
/// Pointer arguments must be valid for the reads or writes of `N` (or `N/2`) elements.
pub(crate) trait Vector: Copy {
    /// Lanes.
    const N: usize;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// Load `N` f16 (as bits) and widen exactly.
    unsafe fn load_f16(p: *const u16) -> Self;
    /// Round to f16 (nearest even, as `half` does) and store `N` of them.
    unsafe fn store_f16(self, p: *mut u16);
    /// Load `N` bf16 (as bits) and widen exactly.
    unsafe fn load_bf16(p: *const u16) -> Self;
    /// Round to bf16 (nearest even, as `half` does) and store `N` of them.
    unsafe fn store_bf16(self, p: *mut u16);
    /// Load `N/2` values `v0, v1, ...` as `v0, v0, v1, v1, ...`.
    unsafe fn load_dup(p: *const f32) -> Self;
    /// `x1, x0, x3, x2, ...`
    unsafe fn swap_pairs(self) -> Self;
    unsafe fn splat(v: f32) -> Self;
    /// `-0.0` in even lanes (`odd == false`) or odd lanes, `0.0` elsewhere.
    unsafe fn alternating_sign(odd: bool) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn xor(self, o: Self) -> Self;
}

/// Loads and stores of one element type through a [`Vector`].
pub(crate) trait SimdElement: crate::Element {
    unsafe fn load<V: Vector>(p: *const Self) -> V;
    unsafe fn store<V: Vector>(v: V, p: *mut Self);
}

impl SimdElement for f32 {
    #[inline(always)]
    unsafe fn load<V: Vector>(p: *const Self) -> V {
        // SAFETY: forwarded from the caller.
        unsafe { V::load(p) }
    }
    #[inline(always)]
    unsafe fn store<V: Vector>(v: V, p: *mut Self) {
        // SAFETY: forwarded from the caller.
        unsafe { v.store(p) }
    }
}

impl SimdElement for f16 {
    #[inline(always)]
    unsafe fn load<V: Vector>(p: *const Self) -> V {
        // SAFETY: forwarded from the caller; f16 is a transparent u16.
        unsafe { V::load_f16(p.cast()) }
    }
    #[inline(always)]
    unsafe fn store<V: Vector>(v: V, p: *mut Self) {
        // SAFETY: forwarded from the caller; f16 is a transparent u16.
        unsafe { v.store_f16(p.cast()) }
    }
}

impl SimdElement for bf16 {
    #[inline(always)]
    unsafe fn load<V: Vector>(p: *const Self) -> V {
        // SAFETY: forwarded from the caller; bf16 is a transparent u16.
        unsafe { V::load_bf16(p.cast()) }
    }
    #[inline(always)]
    unsafe fn store<V: Vector>(v: V, p: *mut Self) {
        // SAFETY: forwarded from the caller; bf16 is a transparent u16.
        unsafe { v.store_bf16(p.cast()) }
    }
}

/// Rotate `span` of `x` with vectors `V`.
///
/// Loop order: for each vector's worth of pairs, cos/sin are loaded once and applied to
/// every row (head), so a token's cos/sin stay in registers across its heads.
///
/// # Safety
/// The CPU must support `V`'s ISA (see [`Vector`]). Bounds are checked here.
#[inline(always)]
pub(crate) unsafe fn rotate<V: Vector, E: SimdElement>(
    x: &mut [E],
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    span.assert_fits(x.len(), cos, sin);
    let xp = x.as_mut_ptr();
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    let mut j = 0;
    if span.interleaved {
        let per = V::N / 2;
        // SAFETY (all blocks in this branch): the ISA is supported (caller); `j + per <= n`
        // and `cos`, `sin` hold at least `n` values; `assert_fits` guarantees row `r`'s
        // elements `first + 2j .. first + 2j + N` lie within `x`.
        let flip = unsafe { V::alternating_sign(span.inverse) };
        while j + per <= span.n {
            let (c, s) = unsafe { (V::load_dup(cp.add(j)), V::load_dup(sp.add(j)).xor(flip)) };
            for r in 0..span.rows {
                unsafe {
                    let p = xp.add(r * span.stride + span.first + 2 * j);
                    let v: V = E::load(p);
                    // lane 2i: a*c + b*(-s); lane 2i+1: b*c + a*s
                    E::store(v.mul(c).add(v.swap_pairs().mul(s)), p);
                }
            }
            j += per;
        }
    } else {
        // SAFETY (all blocks in this branch): as above, with row `r`'s elements
        // `first + j .. + N` and `second + j .. + N` within `x` and not overlapping.
        let flip = unsafe { V::splat(if span.inverse { -0.0 } else { 0.0 }) };
        while j + V::N <= span.n {
            let (c, s) = unsafe { (V::load(cp.add(j)), V::load(sp.add(j)).xor(flip)) };
            for r in 0..span.rows {
                unsafe {
                    let row = xp.add(r * span.stride);
                    let (pa, pb) = (row.add(span.first + j), row.add(span.second + j));
                    let (a, b): (V, V) = (E::load(pa), E::load(pb));
                    E::store(a.mul(c).sub(b.mul(s)), pa);
                    E::store(b.mul(c).add(a.mul(s)), pb);
                }
            }
            j += V::N;
        }
    }
    if j < span.n {
        let step = if span.interleaved { 2 * j } else { j };
        let tail = Span {
            first: span.first + step,
            second: span.second + j,
            n: span.n - j,
            ..*span
        };
        kernel::scalar(x, &tail, &cos[j..], &sin[j..]);
    }
}
