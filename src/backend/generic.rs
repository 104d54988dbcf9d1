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
pub trait Vector: Copy {
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

/// Loads and stores of one element type through a [`Vector`] (a supertrait of every
/// [`Element`](crate::Element)).
pub trait SimdElement: Copy {
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
/// Row by row (head by head), each row front to back, so memory is walked in address
/// order, which the hardware prefetcher streams best; cos/sin are reloaded per row from
/// L1. (The other order, each vector of cos/sin applied to every row before the next,
/// keeps cos/sin in registers but measured 3x slower on a 64 MiB prefill.) Pairs after
/// the last full vector of a row go to the scalar kernel. Loads need no alignment.
///
/// # Safety
/// The CPU must support `V`'s ISA (see [`Vector`]). Bounds are checked here.
#[inline(always)]
pub(crate) unsafe fn rotate<V: Vector, E: crate::Element>(
    x: &mut [E],
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    span.assert_fits(x.len(), cos, sin);
    let width = if span.interleaved { V::N / 2 } else { V::N }; // pairs per vector
    let body = span.n / width * width;
    for r in 0..span.rows {
        let row_x = &mut x[r * span.stride..];
        // SAFETY: the ISA is supported (caller); pairs `0..body` of this row lie within
        // `row_x` (`assert_fits`), and `cos`/`sin` hold at least `n` values.
        unsafe { vector_pairs::<V, E>(row_x, span, 0, body, cos, sin) };
        if body < span.n {
            kernel::scalar(row_x, &span.row_tail(body), &cos[body..], &sin[body..]);
        }
    }
}

/// Pairs `from..to` (a whole number of vectors) of the row at the start of `row_x`.
///
/// # Safety
/// The CPU must support `V`'s ISA; the pairs must lie within `row_x` and `cos`/`sin`.
#[inline(always)]
unsafe fn vector_pairs<V: Vector, E: crate::Element>(
    row_x: &mut [E],
    span: &Span,
    from: usize,
    to: usize,
    cos: &[f32],
    sin: &[f32],
) {
    let xp = row_x.as_mut_ptr();
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): forwarded from the caller; `k < to` and each access is
    // one vector of channels (or N/2 cos/sin values) starting at pair `k`.
    if span.interleaved {
        let flip = unsafe { V::alternating_sign(span.inverse) };
        let mut k = from;
        while k < to {
            unsafe {
                let (c, s) = (V::load_dup(cp.add(k)), V::load_dup(sp.add(k)).xor(flip));
                let p = xp.add(span.first + 2 * k);
                let v: V = E::load(p);
                // lane 2i: a*c + b*(-s); lane 2i+1: b*c + a*s
                E::store(v.mul(c).add(v.swap_pairs().mul(s)), p);
            }
            k += V::N / 2;
        }
    } else {
        let flip = unsafe { V::splat(if span.inverse { -0.0 } else { 0.0 }) };
        let mut k = from;
        while k < to {
            unsafe {
                let (c, s) = (V::load(cp.add(k)), V::load(sp.add(k)).xor(flip));
                let (pa, pb) = (xp.add(span.first + k), xp.add(span.second + k));
                let (a, b): (V, V) = (E::load(pa), E::load(pb));
                E::store(a.mul(c).sub(b.mul(s)), pa);
                E::store(b.mul(c).add(a.mul(s)), pb);
            }
            k += V::N;
        }
    }
}

/// Widen `src` into `dst` (same length), `V::N` elements at a time, exactly.
///
/// # Safety
/// The CPU must support `V`'s ISA. Lengths are checked here.
#[inline(always)]
pub(crate) unsafe fn widen<V: Vector, E: crate::Element>(src: &[E], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "rope-simd internal error: widen lengths"
    );
    let body = src.len() / V::N * V::N;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both slices; the ISA is supported (caller).
        unsafe { E::load::<V>(sp.add(i)).store(dp.add(i)) };
        i += V::N;
    }
    for (d, s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = s.to_f32();
    }
}

/// Round `src` into `dst` (same length) to nearest even, `V::N` elements at a time.
///
/// # Safety
/// The CPU must support `V`'s ISA. Lengths are checked here.
#[inline(always)]
pub(crate) unsafe fn narrow<V: Vector, E: crate::Element>(src: &[f32], dst: &mut [E]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "rope-simd internal error: narrow lengths"
    );
    let body = src.len() / V::N * V::N;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both slices; the ISA is supported (caller).
        unsafe { E::store(V::load(sp.add(i)), dp.add(i)) };
        i += V::N;
    }
    for (d, s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = E::from_f32(*s);
    }
}

/// Rotate `span` reading from `src` and writing `dst`, out of place: row `r` of the span
/// is at `r * span.stride` in `src` and at `r * dst_stride` in `dst`, its channels at the
/// same offsets in both. Each value is widened, rotated in f32 exactly as the in-place
/// kernels do, and rounded once to `D`.
///
/// # Safety
/// The CPU must support `V`'s ISA. Bounds are checked here.
#[inline(always)]
pub(crate) unsafe fn rotate_into<V: Vector, S: crate::Element, D: crate::Element>(
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    cos: &[f32],
    sin: &[f32],
) {
    span.assert_fits(src.len(), cos, sin);
    let dst_span = Span {
        stride: dst_stride,
        ..*span
    };
    dst_span.assert_fits(dst.len(), cos, sin);
    let width = if span.interleaved { V::N / 2 } else { V::N };
    let body = span.n / width * width;
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    for r in 0..span.rows {
        let src_row = &src[r * span.stride..];
        let dst_row = &mut dst[r * dst_stride..];
        let (xp, yp) = (src_row.as_ptr(), dst_row.as_mut_ptr());
        // SAFETY (every block in this loop): the ISA is supported (caller); pairs
        // `0..body` of this row lie within both rows (`assert_fits` on both spans), and
        // `cos`/`sin` hold at least `n` values.
        if span.interleaved {
            let flip = unsafe { V::alternating_sign(span.inverse) };
            let mut k = 0;
            while k < body {
                unsafe {
                    let (c, s) = (V::load_dup(cp.add(k)), V::load_dup(sp.add(k)).xor(flip));
                    let o = span.first + 2 * k;
                    let v: V = S::load(xp.add(o));
                    D::store(v.mul(c).add(v.swap_pairs().mul(s)), yp.add(o));
                }
                k += V::N / 2;
            }
        } else {
            let flip = unsafe { V::splat(if span.inverse { -0.0 } else { 0.0 }) };
            let mut k = 0;
            while k < body {
                unsafe {
                    let (c, s) = (V::load(cp.add(k)), V::load(sp.add(k)).xor(flip));
                    let (oa, ob) = (span.first + k, span.second + k);
                    let (a, b): (V, V) = (S::load(xp.add(oa)), S::load(xp.add(ob)));
                    D::store(a.mul(c).sub(b.mul(s)), yp.add(oa));
                    D::store(b.mul(c).add(a.mul(s)), yp.add(ob));
                }
                k += V::N;
            }
        }
        if body < span.n {
            let tail = span.row_tail(body);
            kernel::scalar_into(src_row, dst_row, &tail, 0, &cos[body..], &sin[body..]);
        }
    }
}
