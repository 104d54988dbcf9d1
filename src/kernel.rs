//! The per-row rotation: the seam every backend implements.
//!
//! A [`Span`] names `n` pairs in each of `rows` rows (heads) that share one position, and
//! so one run of `cos`/`sin` values. Each backend provides one function per element type
//! that rotates a span; everything above (validation, positions, sources, Q and K) is
//! shared. The scalar version here defines the arithmetic every backend must reproduce
//! bit for bit:
//!
//! ```text
//! a' = a*c - b*s        b' = b*c + a*s        (s negated for the inverse rotation)
//! ```
//!
//! as separate f32 multiplies and adds (no fused multiply-add), in f32 for every dtype.

use crate::any_slice::{AnySlice, AnySliceMut};
use crate::element::{Element, Kind};

/// `n` pairs in each of `rows` rows, the rows `stride` elements apart.
///
/// In row `r` (starting at element `r * stride`), pair `j` is the elements
/// `(first + 2j, first + 2j + 1)` when `interleaved`, else `(first + j, second + j)`.
/// The rotation uses `cos[j]` and `sin[j]` (negated when `inverse`).
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub rows: usize,
    pub stride: usize,
    pub first: usize,
    pub second: usize,
    pub n: usize,
    pub interleaved: bool,
    pub inverse: bool,
    /// Out of place only: the whole call writes so much that the output cannot stay in
    /// cache, so the kernels may write it with non-temporal (streaming) stores.
    pub stream: bool,
    /// In place only: the call covers at least [`PREFETCH_BYTES`], past what L2 holds,
    /// so the SIMD kernels ask for each row's bytes [`PREFETCH_AHEAD`] ahead of it (a
    /// hint; it changes no value).
    pub prefetch: bool,
}

/// From this many bytes of data in one in-place call, the kernels prefetch ahead of the
/// rows they rotate (see `backend/prefetch.rs`; `docs/design.md` has the measurements).
#[cfg(not(fuzzing))]
pub const PREFETCH_BYTES: usize = 4 << 20;
/// In fuzzing builds (`--cfg fuzzing`, which cargo-fuzz sets) from 4 KiB, so that inputs
/// of fuzzing size reach the prefetching kernels; no value depends on it.
#[cfg(fuzzing)]
pub const PREFETCH_BYTES: usize = 4 << 10;

/// How far ahead of a row the kernels prefetch, in bytes.
pub const PREFETCH_AHEAD: usize = 4096;

impl Span {
    /// One past the last element the span touches (the slice must be at least this long).
    pub fn extent(&self) -> usize {
        if self.rows == 0 || self.n == 0 {
            return 0;
        }
        let row_end = if self.interleaved {
            self.first + 2 * self.n
        } else {
            (self.first + self.n).max(self.second + self.n)
        };
        (self.rows - 1) * self.stride + row_end
    }

    /// Checks the invariants every kernel relies on: the slices are long enough and the
    /// two halves of a split pair do not overlap. Callers validate all user input first,
    /// so this only fails on a bug in this crate.
    #[inline]
    pub fn assert_fits(&self, len: usize, cos: &[f32], sin: &[f32]) {
        assert!(
            self.extent() <= len
                && cos.len() >= self.n
                && sin.len() >= self.n
                && (self.interleaved || self.first + self.n <= self.second)
                && (self.rows <= 1 || self.stride >= self.extent_of_row()),
            "rope-simd internal error: span out of bounds"
        );
    }

    /// The channels of pair `j` within a row.
    #[inline(always)]
    pub fn pair(&self, j: usize) -> (usize, usize) {
        if self.interleaved {
            (self.first + 2 * j, self.first + 2 * j + 1)
        } else {
            (self.first + j, self.second + j)
        }
    }

    /// Every row's pairs `0..to` (the same rows, fewer pairs).
    #[inline(always)]
    pub fn head(&self, to: usize) -> Span {
        Span { n: to, ..*self }
    }

    /// Every row's pairs `from..n` as a span of their own, with `cos`/`sin` to be sliced
    /// from `from` too.
    #[inline(always)]
    pub fn tails(&self, from: usize) -> Span {
        Span {
            rows: self.rows,
            ..self.row_tail(from)
        }
    }

    /// One row's pairs `from..n` as a span of their own (for the scalar tail after the
    /// vector body), with `cos`/`sin` to be sliced from `from` too.
    #[inline(always)]
    pub fn row_tail(&self, from: usize) -> Span {
        let (first, _) = self.pair(from);
        Span {
            rows: 1,
            first,
            second: self.second + from,
            n: self.n - from,
            ..*self
        }
    }

    /// Bytes from a row's first element to one past the last one the span touches.
    #[inline(always)]
    pub fn row_bytes<E>(&self) -> usize {
        self.extent_of_row() * core::mem::size_of::<E>()
    }

    #[inline(always)]
    fn extent_of_row(&self) -> usize {
        if self.interleaved {
            self.first + 2 * self.n
        } else {
            self.second + self.n
        }
    }
}

/// Rotate one pair: the arithmetic every backend reproduces exactly.
#[inline(always)]
pub(crate) fn rotate_pair(a: f32, b: f32, c: f32, s: f32) -> (f32, f32) {
    (a * c - b * s, b * c + a * s)
}

/// The scalar kernel, generic over the element type: the definition of the result.
pub(crate) fn scalar<E: Element>(x: &mut [E], span: &Span, cos: &[f32], sin: &[f32]) {
    span.assert_fits(x.len(), cos, sin);
    let (cos, sin) = (&cos[..span.n], &sin[..span.n]);
    for r in 0..span.rows {
        let row = &mut x[r * span.stride..];
        // Whole slices per row, so that the loops below index nothing (no bounds checks
        // per pair) and test the layout and direction once per row, not per pair.
        if span.interleaved {
            let pairs = row[span.first..span.first + 2 * span.n].chunks_exact_mut(2);
            if span.inverse {
                for (p, (&c, &s)) in pairs.zip(cos.iter().zip(sin)) {
                    rotate_in_place(p, c, -s);
                }
            } else {
                for (p, (&c, &s)) in pairs.zip(cos.iter().zip(sin)) {
                    rotate_in_place(p, c, s);
                }
            }
        } else {
            let (lo, hi) = row.split_at_mut(span.second);
            let (a, b) = (&mut lo[span.first..span.first + span.n], &mut hi[..span.n]);
            rotate_halves(a, b, cos, sin, span.inverse);
        }
    }
}

/// Half-split pairs `(a[j], b[j])`, all slices of one length. A function of its own so
/// that the compiler knows `a` and `b` do not overlap (and may vectorize it).
#[inline(never)]
fn rotate_halves<E: Element>(a: &mut [E], b: &mut [E], cos: &[f32], sin: &[f32], inverse: bool) {
    if inverse {
        for (((a, b), &c), &s) in a.iter_mut().zip(b.iter_mut()).zip(cos).zip(sin) {
            rotate_refs(a, b, c, -s);
        }
    } else {
        for (((a, b), &c), &s) in a.iter_mut().zip(b.iter_mut()).zip(cos).zip(sin) {
            rotate_refs(a, b, c, s);
        }
    }
}

/// [`rotate_pair`] on two elements in place, widened and rounded as the kernels do.
#[inline(always)]
fn rotate_refs<E: Element>(a: &mut E, b: &mut E, c: f32, s: f32) {
    let (x, y) = rotate_pair(a.to_f32(), b.to_f32(), c, s);
    (*a, *b) = (E::from_f32(x), E::from_f32(y));
}

/// [`rotate_refs`] on a chunk of two elements.
#[inline(always)]
fn rotate_in_place<E: Element>(p: &mut [E], c: f32, s: f32) {
    if let [a, b] = p {
        rotate_refs(a, b, c, s);
    }
}

/// The scalar kernels out of place: from f32 (activations into a cache, the runtimes'
/// path) by [`scalar_into`], from f16 and bf16 through f32 by [`through_f32`]. The bits
/// are the same either way: each value is rotated in f32 and rounded once.
pub(crate) fn out_of_place<S: Element, D: Element>(
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    cos: &[f32],
    sin: &[f32],
) {
    if S::KIND == Kind::F32 {
        return scalar_into(src, dst, span, dst_stride, cos, sin);
    }
    let convert: Convert = (widen::<S>, rotate_into::<D>);
    through_f32(
        S::any(src),
        D::any_mut(dst),
        span,
        dst_stride,
        (cos, sin),
        convert,
    );
}

/// Values of [`through_f32`]'s scratch: half as many pairs a turn (a head_dim-128 row's
/// in one; 512 bytes of stack, which a microcontroller counts).
const CHUNK: usize = 128;

/// A pair's conversions: `widen(src, from, out)` reads `src[from..from + out.len()]` as
/// f32; `rotate_into(buf, dst, runs, span, cos, sin)` rotates a chunk of widened pairs
/// into the destination's runs, rounding once ([`rotate_into`]).
type Convert = (
    fn(&AnySlice<'_>, usize, &mut [f32]),
    fn(&[f32], &mut AnySliceMut<'_>, Runs, &Span, &[f32], &[f32]),
);

/// A chunk's runs of pairs in a row: (channel in the row, offset in the chunk, length);
/// the second is empty for interleaved pairs.
type Runs = [(usize, usize, usize); 2];

/// [`scalar_into`] through f32, for the six pairs from a 16-bit source: each row's
/// pairs widened into f32, into the destination's own rows when it is f32 (and rotated
/// there by the in-place f32 kernel), else into a scratch a chunk at a time (and rotated
/// from there into the destination by the loops of the f32-source kernel, rounding
/// once). One body for the six pairs (their element types are values here, the
/// conversions pointers), instead of a kernel for each: the vector ISAs do the same
/// (`backend/through_f32.rs`), for code size (`sizes.txt`: the C and wasm libraries and
/// the firmware link every pair). From f32 the direct kernel stays: through f32, f32 into
/// f32 took half as long again (`docs/design.md`, "Out of place").
#[inline(never)]
fn through_f32(
    src: AnySlice<'_>,
    mut dst: AnySliceMut<'_>,
    span: &Span,
    dst_stride: usize,
    (cos, sin): (&[f32], &[f32]),
    (widen, rotate_into): Convert,
) {
    span.assert_fits(src.len(), cos, sin);
    let to = Span {
        stride: dst_stride,
        ..*span
    };
    to.assert_fits(dst.len(), cos, sin);
    // The chunk's runs: (channel in the row, offset in a chunk of `m` pairs, length).
    let runs = |j: usize, m: usize| {
        if span.interleaved {
            [(span.first + 2 * j, 0, 2 * m), (0, 0, 0)]
        } else {
            [(span.first + j, 0, m), (span.second + j, m, m)]
        }
    };
    if let AnySliceMut::F32(d) = &mut dst {
        // Into f32: widened into the destination's rows, and rotated there.
        for r in 0..span.rows {
            for (at, _, len) in runs(0, span.n) {
                let k = r * dst_stride + at;
                widen(&src, r * span.stride + at, &mut d[k..k + len]);
            }
        }
        return scalar::<f32>(d, &to, cos, sin);
    }
    let mut buf = [0.0f32; CHUNK];
    for r in 0..span.rows {
        let (s0, d0) = (r * span.stride, r * dst_stride);
        let mut j = 0;
        while j < span.n {
            let m = (CHUNK / 2).min(span.n - j);
            for (at, b, len) in runs(j, m) {
                widen(&src, s0 + at, &mut buf[b..b + len]);
            }
            let into = runs(j, m).map(|(at, b, len)| (d0 + at, b, len));
            let (cos, sin) = (&cos[j..j + m], &sin[j..j + m]);
            rotate_into(&buf[..2 * m], &mut dst, into, span, cos, sin);
            j += m;
        }
    }
}

/// `Convert`'s widening for sources of `S` (a no-op on any other slice, which no caller
/// passes).
fn widen<S: Element>(src: &AnySlice<'_>, from: usize, out: &mut [f32]) {
    if let Some(x) = S::from_any(*src) {
        let x = &x[from..from + out.len()];
        for (o, v) in out.iter_mut().zip(x) {
            *o = v.to_f32();
        }
    }
}

/// `Convert`'s rotation of a chunk of widened pairs (`buf`, laid out as `runs` say) into
/// destinations of `D`, rounded once: the loops of [`scalar_into`] from f32.
fn rotate_into<D: Element>(
    buf: &[f32],
    dst: &mut AnySliceMut<'_>,
    runs: Runs,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let Some(d) = D::from_any_mut(dst.reborrow()) else {
        return;
    };
    let [(at, _, len), (second, half, _)] = runs;
    if span.interleaved {
        rotate_pairs_into(&buf[..len], &mut d[at..at + len], cos, sin, span.inverse);
    } else {
        let (lo, hi) = d.split_at_mut(second);
        let (qa, qb) = (&mut lo[at..at + len], &mut hi[..len]);
        let (a, b) = buf.split_at(half);
        rotate_halves_into(a, b, qa, qb, cos, sin, span.inverse);
    }
}

/// The scalar out-of-place kernel: rows `span.stride` apart in `src` and `dst_stride`
/// apart in `dst`, each pair rotated as [`scalar`] does and rounded once to `D` (the
/// definition [`out_of_place`]'s bits are tested against, for every pair).
pub(crate) fn scalar_into<S: Element, D: Element>(
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    cos: &[f32],
    sin: &[f32],
) {
    span.assert_fits(src.len(), cos, sin);
    Span {
        stride: dst_stride,
        ..*span
    }
    .assert_fits(dst.len(), cos, sin);
    let (n, cos, sin) = (span.n, &cos[..span.n], &sin[..span.n]);
    for r in 0..span.rows {
        let (x, y) = (&src[r * span.stride..], &mut dst[r * dst_stride..]);
        // Whole slices per row, as in `scalar`.
        if span.interleaved {
            let range = span.first..span.first + 2 * n;
            rotate_pairs_into(&x[range.clone()], &mut y[range], cos, sin, span.inverse);
        } else {
            let (a, b) = (
                &x[span.first..span.first + n],
                &x[span.second..span.second + n],
            );
            let (lo, hi) = y.split_at_mut(span.second);
            let (qa, qb) = (&mut lo[span.first..span.first + n], &mut hi[..n]);
            rotate_halves_into(a, b, qa, qb, cos, sin, span.inverse);
        }
    }
}

/// Interleaved pairs out of place: `(x[2j], x[2j + 1])` rotated into `(y[2j], y[2j + 1])`.
#[inline(never)]
fn rotate_pairs_into<S: Element, D: Element>(
    x: &[S],
    y: &mut [D],
    cos: &[f32],
    sin: &[f32],
    inverse: bool,
) {
    let pairs = x.chunks_exact(2).zip(y.chunks_exact_mut(2));
    for ((p, q), (&c, &s)) in pairs.zip(cos.iter().zip(sin)) {
        let s = if inverse { -s } else { s };
        if let ([a, b], [qa, qb]) = (p, q) {
            let (a, b) = rotate_pair(a.to_f32(), b.to_f32(), c, s);
            (*qa, *qb) = (D::from_f32(a), D::from_f32(b));
        }
    }
}

/// [`rotate_halves`] out of place: `(a[j], b[j])` rotated into `(qa[j], qb[j])`.
#[inline(never)]
fn rotate_halves_into<S: Element, D: Element>(
    a: &[S],
    b: &[S],
    qa: &mut [D],
    qb: &mut [D],
    cos: &[f32],
    sin: &[f32],
    inverse: bool,
) {
    let pairs = a.iter().zip(b).zip(qa.iter_mut().zip(qb.iter_mut()));
    for (((&a, &b), (qa, qb)), (&c, &s)) in pairs.zip(cos.iter().zip(sin)) {
        let s = if inverse { -s } else { s };
        let (a, b) = rotate_pair(a.to_f32(), b.to_f32(), c, s);
        (*qa, *qb) = (D::from_f32(a), D::from_f32(b));
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use half::{bf16, f16};
    use std::vec::Vec;

    /// Values from random bits, every 7th a special one (zeros, subnormals, infinities,
    /// NaNs, a rounding tie for bf16 and f16).
    fn values<E: Element>(n: usize, seed: &mut u64) -> Vec<E> {
        let special = [
            0.0,
            -0.0,
            1e-40,
            6e-8,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1.0 + 1.0 / 256.0,
        ];
        (0..n)
            .map(|i| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                let v = if i % 7 == 6 {
                    special[(*seed % 8) as usize]
                } else {
                    f32::from_bits((*seed >> 32) as u32 & 0xC7FF_FFFF) // below 2^17, or tiny
                };
                E::from_f32(v)
            })
            .collect()
    }

    /// Bits to compare: NaNs as one value (their payloads are not specified).
    fn bits<E: Element>(v: &[E]) -> Vec<u32> {
        v.iter()
            .map(|e| match e.to_f32() {
                x if x.is_nan() => u32::MAX,
                x => x.to_bits(),
            })
            .collect()
    }

    fn pair<S: Element, D: Element>() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        // Spans below, at and past a chunk (64 pairs), whole rows and row tails
        // (halves apart), one and three rows, both layouts and directions.
        for n in [1, 5, 63, 64, 65, 130, 256] {
            for (interleaved, tail) in [(true, false), (false, false), (false, true)] {
                for (rows, inverse) in [(1, false), (3, true)] {
                    let (first, second) = match (interleaved, tail) {
                        (true, _) => (3, 0),
                        (false, false) => (0, n),
                        (false, true) => (2, n + 9),
                    };
                    let width = if interleaved {
                        first + 2 * n
                    } else {
                        second + n
                    };
                    let (stride, dst_stride) = (width + 1, width + 4);
                    let span = Span {
                        rows,
                        stride,
                        first,
                        second,
                        n,
                        interleaved,
                        inverse,
                        stream: false,
                        prefetch: false,
                    };
                    let src: Vec<S> = values(rows * stride, &mut seed);
                    let cs: Vec<f32> = values::<f32>(2 * n, &mut seed)
                        .iter()
                        .map(|v| if v.is_finite() { v.sin() } else { 0.5 })
                        .collect();
                    let (cos, sin) = cs.split_at(n);
                    let fill: Vec<D> = values(rows * dst_stride, &mut seed);
                    let (mut want, mut got) = (fill.clone(), fill);
                    scalar_into(&src, &mut want, &span, dst_stride, cos, sin);
                    out_of_place(&src, &mut got, &span, dst_stride, cos, sin);
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "{} into {}: {span:?}",
                        S::NAME,
                        D::NAME
                    );
                }
            }
        }
    }

    /// The scalar kernels through f32 give the direct kernel's bits for every pair from a
    /// 16-bit source, and write nothing outside the span's pairs (the destination's other
    /// values, random, must stay as they were). Safe code only, so not under Miri.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn through_f32_matches_the_direct_kernel() {
        pair::<f16, f16>();
        pair::<f16, bf16>();
        pair::<f16, f32>();
        pair::<bf16, f16>();
        pair::<bf16, bf16>();
        pair::<bf16, f32>();
    }
}
