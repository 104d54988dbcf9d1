//! The general row loop: each row's vector body with cos/sin loaded per vector (from a
//! duplicated copy for interleaved pairs; half-split pairs in blocks), then its scalar
//! tail. Every shape the other strategies do not take comes here: one row, rows longer
//! than the ISA unrolls (`Vector::UNROLLED`), and bodies followed by tails.

use core::mem::MaybeUninit;

use super::split_block;
use crate::backend::io::Io;
use crate::backend::prefetch::prefetch;
use crate::backend::vector::{array, interleaved, pair, put, SimdElement, Vector};
use crate::config::MAX_PAIRS;
use crate::kernel::Span;

/// Every row of `span`: pairs `0..body` (a whole number of vectors) with cos/sin loaded
/// per vector, half-split pairs in blocks of `B`, then the row's scalar tail; with
/// `prefetch`, each row's bytes ahead are asked for first (see `prefetch.rs`); with
/// `NT`, the vector stores stream.
///
/// # Safety
/// The CPU must support `V`'s ISA; the span fits `io` and `cos`/`sin`
/// (`Io::assert_fits`); with `NT`, every vector store is 16-byte aligned.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn rows<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
    const INTO: bool,
>(
    io: &mut Io<'_, S, D, INTO>,
    span: &Span,
    body: usize,
    prefetching: bool,
    cos: &[f32],
    sin: &[f32],
) {
    let (src, dst, dst_stride) = io.parts(span);
    // An inverse span turns by -sin: negated once here, every row then runs the forward
    // rotation (the same bits: `a*c - b*(-s)` is `a*c + b*s` exactly), so the row loop
    // flips no sign (on wasm32 two xors and their operands a turn: `python3
    // scripts/wasm_loops.py`); the functions below rotate forward only.
    assert!(
        span.n <= MAX_PAIRS,
        "rope-simd internal error: more pairs than a head"
    );
    let mut negated = [MaybeUninit::<f32>::uninit(); MAX_PAIRS];
    let sin = match span.inverse {
        true => negate(&sin[..span.n], &mut negated),
        false => sin,
    };
    let forward = Span {
        inverse: false,
        ..*span
    };
    let span = &forward;
    let mut dup = Dup::new();
    // SAFETY: the ISA is supported (caller); `cos`/`sin` hold `n >= body` values.
    let dup = unsafe { dup.fill::<V>(span, body, cos, sin) };
    for r in 0..span.rows {
        let (x, y) = (
            src.wrapping_add(r * span.stride),
            dst.wrapping_add(r * dst_stride),
        );
        // SAFETY: the ISA is supported (caller); pairs `0..body` of this row lie within
        // both buffers (`assert_fits`), which are the same rows or do not overlap;
        // `cos`/`sin` hold at least `n` values, and `dup` (if any) was filled for this
        // span up to `body`; a prefetch hint reads nothing.
        unsafe {
            if prefetching {
                prefetch::<V>(span, x.cast(), span.row_bytes::<S>());
            }
            vector_pairs::<V, S, D, B, NT>(x, y, span, body, (cos, sin), dup);
        }
        if body < span.n {
            let (tail, cos, sin) = (span.row_tail(body), &cos[body..], &sin[body..]);
            io.scalar(r, &tail, cos, sin);
        }
    }
}

/// `sin` negated into `out`, returned as a slice of it. Out of line: one copy for every
/// instantiation of the row loop, which inlined it each (run `bash scripts/sizes.sh` to
/// see the C library's size either way).
#[inline(never)]
fn negate<'a>(sin: &[f32], out: &'a mut [MaybeUninit<f32>; MAX_PAIRS]) -> &'a [f32] {
    for (o, s) in out.iter_mut().zip(sin) {
        o.write(-s);
    }
    // SAFETY: the first `sin.len() <= MAX_PAIRS` values were written just above.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<f32>(), sin.len()) }
}

/// An interleaved span's cos and sign-flipped sin for pairs `0..to`, each value twice
/// (`c0 c0 c1 c1 ...`; sin with the alternating sign the kernel xors in), written once
/// per span for rows that load cos/sin per vector: then each row takes plain loads
/// instead of two duplicating shuffles per vector.
pub(crate) struct Dup {
    cos: [MaybeUninit<f32>; 2 * MAX_PAIRS],
    sin: [MaybeUninit<f32>; 2 * MAX_PAIRS],
}

impl Dup {
    /// Room for a span's duplicated cos/sin, not yet written.
    #[inline(always)]
    fn new() -> Self {
        Dup {
            cos: [MaybeUninit::uninit(); 2 * MAX_PAIRS],
            sin: [MaybeUninit::uninit(); 2 * MAX_PAIRS],
        }
    }

    /// Fill pairs `0..to` for `span` (interleaved, `to` a whole number of vectors) and
    /// return `self`, or `None` (nothing written) where there is no point: one row, or
    /// nothing to do per vector.
    ///
    /// # Safety
    /// The CPU must support `V`'s ISA; `cos`/`sin` hold at least `to` values.
    #[inline(always)]
    unsafe fn fill<V: Vector>(
        &mut self,
        span: &Span,
        to: usize,
        cos: &[f32],
        sin: &[f32],
    ) -> Option<&Self> {
        if !span.interleaved || V::DEINTERLEAVE || span.rows < 2 || to == 0 || to > MAX_PAIRS {
            return None;
        }
        let (cd, sd) = (
            self.cos.as_mut_ptr().cast::<f32>(),
            self.sin.as_mut_ptr().cast::<f32>(),
        );
        // SAFETY: forwarded from the caller; pairs `k..k + N/2` of `cos`/`sin` in, values
        // `2k..2k + N` of `2 * MAX_PAIRS` out.
        unsafe {
            let flip = V::alternating_sign(false);
            let mut k = 0;
            while k < to {
                V::load_dup(cos.as_ptr().add(k)).store(cd.add(2 * k));
                V::load_dup(sin.as_ptr().add(k))
                    .xor(flip)
                    .store(sd.add(2 * k));
                k += V::N / 2;
            }
        }
        Some(self)
    }
}

/// Pairs `0..to` (a whole number of vectors) of one row, read from the row at `src` and
/// written to the row at `dst` (the same row for an in-place rotation; channels at the
/// same offsets in both), cos/sin loaded per vector, half-split pairs in blocks of `B`;
/// interleaved pairs from `dup` when given (see [`Dup`]).
///
/// The rotation is forward: [`rows`] negated sin for an inverse span.
///
/// # Safety
/// The CPU must support `V`'s ISA; the pairs must lie within both rows and `cos`/`sin`;
/// `src` and `dst` are either the same row or do not overlap; `dup`, if given, holds
/// pairs `0..to` of this span.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn vector_pairs<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
>(
    src: *const S,
    dst: *mut D,
    span: &Span,
    to: usize,
    (cos, sin): (&[f32], &[f32]),
    dup: Option<&Dup>,
) {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): forwarded from the caller; `k < to` and each access is
    // one vector of channels (or N/2 cos/sin values, N from `dup`) starting at pair `k`
    // (`B` of them for a block).
    if span.interleaved && V::DEINTERLEAVE {
        // `N` pairs a step, split into (even, odd) vectors: half-split arithmetic with
        // plain cos/sin (no duplicated copy, no swap).
        let mut k = 0;
        while k < to {
            unsafe {
                let (c, s) = (V::load(cp.add(k)), V::load(sp.add(k)));
                let o = span.first + 2 * k;
                let (a, b) = S::load_pairs::<V>(src.add(o));
                let (a, b) = pair(a, b, c, s);
                D::store_pairs(a, b, dst.add(o));
            }
            k += V::N;
        }
    } else if let (true, Some(dup)) = (span.interleaved, dup) {
        let (cd, sd) = (
            dup.cos.as_ptr().cast::<f32>(),
            dup.sin.as_ptr().cast::<f32>(),
        );
        let mut k = 0;
        while k < to {
            unsafe {
                let (c, s) = (V::load(cd.add(2 * k)), V::load(sd.add(2 * k)));
                let o = span.first + 2 * k;
                put::<V, D, NT>(interleaved::<V>(S::load(src.add(o)), c, s), dst.add(o));
            }
            k += V::N / 2;
        }
    } else if span.interleaved {
        let flip = unsafe { V::alternating_sign(false) };
        let mut k = 0;
        while k < to {
            unsafe {
                let (c, s) = (V::load_dup(cp.add(k)), V::load_dup(sp.add(k)).xor(flip));
                let o = span.first + 2 * k;
                put::<V, D, NT>(interleaved::<V>(S::load(src.add(o)), c, s), dst.add(o));
            }
            k += V::N / 2;
        }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe {
            let k = if B > 1 {
                split_run::<V, S, D, B, NT>(src, dst, span, 0, to, cos, sin)
            } else {
                0
            };
            split_run::<V, S, D, 1, NT>(src, dst, span, k, to, cos, sin);
        }
    }
}

/// Half-split pairs from `from` in blocks of `B` vectors while a whole block fits before
/// `to`, cos/sin loaded per block; returns the pair where it stopped.
///
/// # Safety
/// As for [`vector_pairs`], with `from` a whole number of vectors.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_run<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
>(
    src: *const S,
    dst: *mut D,
    span: &Span,
    from: usize,
    to: usize,
    cos: &[f32],
    sin: &[f32],
) -> usize {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): forwarded from the caller; pairs `k..k + B * N` lie
    // within both rows and `cos`/`sin`.
    let mut k = from;
    while k + B * V::N <= to {
        unsafe {
            let c: [V; B] = array!(B, |i| V::load(cp.add(k + i * V::N)));
            let s: [V; B] = array!(B, |i| V::load(sp.add(k + i * V::N)));
            let (oa, ob) = (span.first + k, span.second + k);
            let (a, d) = ((src.add(oa), src.add(ob)), (dst.add(oa), dst.add(ob)));
            split_block::<V, S, D, B, NT>(a, d, V::N, c, s);
        }
        k += B * V::N;
    }
    k
}
