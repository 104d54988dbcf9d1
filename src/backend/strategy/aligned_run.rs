//! The aligned run: f32 spans whose rows lie back to back (every channel rotated, stride
//! `2n`) but start off a vector boundary, walked as one run of vectors on `V::N`-element
//! boundaries with masked loads and stores at its two ends, so that no load or store
//! crosses a cache line (a 512-bit vector is a line; AVX2's every other vector would).
//!
//! Decided: for such spans on ISAs with masked access, where a row is a number of vectors
//! that fits in registers and a shape the ISA unrolls, from `Vector::ALIGNED_RUN_ROWS`
//! rows (`plan.rs`); rows off a line took 1.2-1.7x the time of aligned ones without it.
//! Run `cargo bench -p rope-simd-benches --bench rope -- misaligned` to see; the
//! measurements are in `docs/design.md`, "Aligned run".

use crate::backend::plan::misalignment;
use crate::backend::vector::{array, interleaved, sin_flip, unrolls, Masked, Vector};
use crate::kernel::Span;

/// Rotate `span` as one aligned run of `vectors` vectors a row (from `Plan`).
///
/// # Safety
/// The CPU must support `V`'s ISA; the span fits both buffers and `cos`/`sin`
/// (`Io::assert_fits`); `src` and `dst` are the same rows or do not overlap; the plan
/// chose `Strategy::AlignedRun { vectors }` for exactly these pointers.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn run<V: Vector>(
    masks: V::Masks,
    (src, dst): (*const f32, *mut f32),
    span: &Span,
    vectors: usize,
    cos: &[f32],
    sin: &[f32],
) {
    let m = misalignment::<V>(src.wrapping_add(span.first));
    let run = Run::new::<V>(
        src.wrapping_add(span.first),
        dst.wrapping_add(span.first),
        m,
    );
    // SAFETY: forwarded from the caller (the plan gives `n == K * N`, or `2n == R * N`).
    unsafe {
        // Only the shapes the ISA unrolls (`Vector::UNROLLED`) are compiled.
        match (span.interleaved, vectors) {
            (true, 1) if const { unrolls::<V, f32, f32>(true, 1) } => {
                interleaved_run::<V, 1>(masks, run, span, cos, sin)
            }
            (true, 2) if const { unrolls::<V, f32, f32>(true, 2) } => {
                interleaved_run::<V, 2>(masks, run, span, cos, sin)
            }
            (true, 4) if const { unrolls::<V, f32, f32>(true, 4) } => {
                interleaved_run::<V, 4>(masks, run, span, cos, sin)
            }
            (true, 8) if const { V::KEEP >= 4 && unrolls::<V, f32, f32>(true, 8) } => {
                interleaved_run::<V, 8>(masks, run, span, cos, sin)
            }
            (true, 16) if const { V::KEEP >= 8 && unrolls::<V, f32, f32>(true, 16) } => {
                interleaved_run::<V, 16>(masks, run, span, cos, sin)
            }
            (false, 1) if const { unrolls::<V, f32, f32>(false, 1) } => {
                split_run::<V, 1>(masks, run, span, cos, sin)
            }
            (false, 2) if const { unrolls::<V, f32, f32>(false, 2) } => {
                split_run::<V, 2>(masks, run, span, cos, sin)
            }
            (false, 4) if const { V::KEEP >= 4 && unrolls::<V, f32, f32>(false, 4) } => {
                split_run::<V, 4>(masks, run, span, cos, sin)
            }
            (false, 8) if const { V::KEEP >= 4 && unrolls::<V, f32, f32>(false, 8) } => {
                split_run::<V, 8>(masks, run, span, cos, sin)
            }
            _ => unreachable!("rope-simd internal error: an aligned-run plan without its kernel"),
        }
    }
}

/// The run of [`run`]: vector `w` starts `m` (`0 < m < N`) elements before `src + w*N`
/// (read) and `dst + w*N` (written), on a vector boundary; `low` and `high` are the
/// lane masks `0..m` and `m..N`.
#[derive(Clone, Copy)]
struct Run {
    src: *const f32,
    dst: *mut f32,
    m: usize,
    low: u32,
    high: u32,
}

impl Run {
    #[inline(always)]
    fn new<V: Vector>(src: *const f32, dst: *mut f32, m: usize) -> Self {
        let full = (1u32 << V::N) - 1;
        let (low, high) = ((1u32 << m) - 1, full & (full << m));
        Run {
            src,
            dst,
            m,
            low,
            high,
        }
    }
    /// Where vector `w` is read (wrapping arithmetic: vector 0 starts before `src`, and
    /// is accessed only in its lanes `m..N`). Plain pointer arithmetic, no intrinsics:
    /// the kernels call it through closures.
    #[inline(always)]
    fn at<V: Vector>(self, w: usize) -> *const f32 {
        self.src.wrapping_add(w * V::N).wrapping_sub(self.m)
    }
    /// Where vector `w` is written (as for [`Run::at`]).
    #[inline(always)]
    fn at_mut<V: Vector>(self, w: usize) -> *mut f32 {
        self.dst.wrapping_add(w * V::N).wrapping_sub(self.m)
    }
}

/// [`run`] for interleaved pairs, `2n == R * N`: vector `w` of the run holds
/// elements `w*N - m..(w+1)*N - m` of the span. Every pair lies within one vector (`m`
/// is even), so each vector is rotated on its own as in `unrolled::in_registers`; the vectors
/// that straddle two rows (`w` a multiple of `R`) hold the end of one row in lanes
/// `0..m` and the start of the next in lanes `m..N`, and take cos/sin put together the
/// same way, once per span.
///
/// # Safety
/// As for [`run`]; `run.src`/`run.dst` hold `span.rows * 2n` elements from there.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn interleaved_run<V: Vector, const R: usize>(
    masks: V::Masks,
    run: Run,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let rows = span.rows;
    let (half, shift, n) = (V::N / 2, run.m / 2, R * V::N / 2);
    let (low, high) = (run.low, run.high);
    let (at, at_mut) = (|w| run.at::<V>(w), |w| run.at_mut::<V>(w));
    // The straddling vectors' pairs: `n - m/2..n`, then `0..N/2 - m/2`.
    let (mut bc, mut bs) = ([0.0f32; 16], [0.0f32; 16]);
    for l in 0..half.min(16) {
        let j = if l < shift { n - shift + l } else { l - shift };
        (bc[l], bs[l]) = (cos[j], sin[j]);
    }
    // SAFETY (every block below): the ISA is supported and has masked loads and stores
    // (caller); `V::N / 2 <= 16` values are read from `bc`/`bs`, and `N/2` from
    // cos/sin at pair `u*N/2 - m/2` for `0 < u < R`, which end at `n - m/2` at most.
    // The data: vectors `1..R*rows` of the run lie within the span's elements; vector 0
    // is accessed in lanes `m..N` (the span's first `N - m` elements) and vector `R*rows`
    // in lanes `0..m` (its last `m`). In place, every element is read once, before it
    // is written, and written once.
    unsafe {
        let flip = V::alternating_sign(span.inverse);
        let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
        let c: [V; R] = array!(R, |u| if u == 0 {
            V::load_dup(bc.as_ptr())
        } else {
            V::load_dup(cp.add(u * half - shift))
        });
        let s: [V; R] = array!(R, |u| if u == 0 {
            V::load_dup(bs.as_ptr()).xor(flip)
        } else {
            V::load_dup(sp.add(u * half - shift)).xor(flip)
        });
        for r in 0..rows {
            for u in 0..R {
                let w = r * R + u;
                if r == 0 && u == 0 {
                    let v = masks.load(at(0), high);
                    masks.store(interleaved(v, c[0], s[0]), at_mut(0), high);
                } else {
                    interleaved(V::load(at(w)), c[u], s[u]).store(at_mut(w));
                }
            }
        }
        let v = masks.load(at(R * rows), low);
        masks.store(interleaved(v, c[0], s[0]), at_mut(R * rows), low);
    }
}

/// [`run`] for half-split pairs, `n == K * N`: the span's `rows * 2n` elements
/// starting at `run.src` (read) and `run.dst` (written), `m` (`0 < m < N`) elements
/// past a vector boundary.
///
/// The run: vector `w` holds elements `w*N - m..(w+1)*N - m` of the span. Per row `r`
/// (`2K` vectors, `u = w - 2Kr`), vector `u = 0` (`B`) holds the end of row `r - 1`'s
/// second half in lanes `0..m` and the start of row `r`'s first half in lanes `m..N`;
/// `u = K` (`M`) the end of the first half and the start of the second; the others
/// lie inside one half and pair with the vector `K` away. The lanes of `B` and `M`
/// pair with lanes of the `M` and `B` around them (`B_r`: `M_(r-1)` below `m`, `M_r`
/// from `m`; `M_r`: `B_(r+1)` below `m`, `B_r` from `m`), put together with one blend.
/// Each lane computes `x*c + y*s'`, with `s' = -s` where `x` is the pair's first
/// element and `s` where it is the second: the scalar kernel's `a*c - b*s` and
/// `b*c + a*s`, exactly (`p - q == p + (-q)` in IEEE arithmetic).
///
/// # Safety
/// As for [`run`]; `run.src`/`run.dst` hold `span.rows * 2n` elements from there.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_run<V: Vector, const K: usize>(
    masks: V::Masks,
    run: Run,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let (lanes, rows, n, m) = (V::N, span.rows, K * V::N, run.m);
    let (low, high) = (run.low, run.high);
    let (at, at_mut) = (|w| run.at::<V>(w), |w| run.at_mut::<V>(w));
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): the ISA is supported and has masked loads and stores
    // (caller). cos/sin: `n = K * N` values; the loads at `u*N - m` (`0 < u < K`) lie
    // within them, as do the `N` from `n - N` (`n >= N`); `bc`/`bs` hold `2N <= 32` values
    // and are read at `N - m..2N - m`. The data: vectors `1..2K*rows` of
    // the run lie within the span's elements; vector 0 is accessed in lanes `m..N` (the
    // span's first `N - m` elements) and vector `2K*rows` in lanes `0..m` (its last `m`).
    // In place, every element is read once, before it is written, and written once.
    let flip = unsafe { sin_flip::<V>(span) };
    let neg = unsafe { V::splat(-0.0) };
    // Vectors inside a half: cos and sin for pairs `u*N - m..`, `u` in `1..K` (index 0
    // unused, and 0).
    let zero = unsafe { V::splat(0.0) };
    let c: [V; K] = array!(K, |u| unsafe {
        if u == 0 {
            zero
        } else {
            V::load(cp.add(u * lanes - m))
        }
    });
    let s: [V; K] = array!(K, |u| unsafe {
        if u == 0 {
            zero
        } else {
            V::load(sp.add(u * lanes - m)).xor(flip)
        }
    });
    // `B` and `M`: pairs `n - m..n` in lanes `0..m`, `0..N - m` in lanes `m..N`; in
    // `B` the low lanes are second elements and the high lanes first ones, in `M` the
    // other way round.
    // Put together once per span: the last `N` values and the first `N` written side by
    // side, and `N` read from `N - m` (masked loads would reach before `cos`, where a
    // page may end: the AVX-512 masks suppress faults there, AVX2's are only documented
    // to by Intel). Lane by lane, that took more instructions than a decode step's short
    // spans do rows (`cargo bench -p rope-simd-benches --bench rope -- misaligned`).
    let (mut bc, mut bs) = ([0.0f32; 32], [0.0f32; 32]);
    let (cb, sb) = unsafe {
        debug_assert!(lanes <= 16 && n >= lanes && 0 < m && m < lanes);
        V::load(cp.add(n - lanes)).store(bc.as_mut_ptr());
        V::load(cp).store(bc.as_mut_ptr().add(lanes));
        V::load(sp.add(n - lanes)).store(bs.as_mut_ptr());
        V::load(sp).store(bs.as_mut_ptr().add(lanes));
        (
            V::load(bc.as_ptr().add(lanes - m)),
            V::load(bs.as_ptr().add(lanes - m)).xor(flip),
        )
    };
    let (sb_b, sb_m) = unsafe {
        (
            masks.blend(high, sb, sb.xor(neg)),
            masks.blend(low, sb, sb.xor(neg)),
        )
    };
    let (s_a, s_b): ([V; K], [V; K]) = (array!(K, |u| unsafe { s[u].xor(neg) }), s);
    unsafe {
        let mut b_cur = masks.load(at(0), high);
        let mut m_prev = b_cur; // lanes below `m` of B_0 are never stored
        for r in 0..rows {
            let w = 2 * K * r;
            // `B` and `M` first (their blends need the loads around them), then each pair
            // of vectors inside the halves loaded just before its stores: few registers
            // live beyond cos/sin (with all `2K` loaded first, AVX2's 16 ran out at K = 8).
            let m_cur = V::load(at(w + K));
            let b_next = if r + 1 < rows {
                V::load(at(w + 2 * K))
            } else {
                masks.load(at(w + 2 * K), low)
            };
            let out_b = b_cur
                .mul(cb)
                .add(masks.blend(high, m_prev, m_cur).mul(sb_b));
            let out_m = m_cur
                .mul(cb)
                .add(masks.blend(high, b_next, b_cur).mul(sb_m));
            if r == 0 {
                masks.store(out_b, at_mut(w), high);
            } else {
                out_b.store(at_mut(w));
            }
            out_m.store(at_mut(w + K));
            for u in 1..K {
                let (a, b) = (V::load(at(w + u)), V::load(at(w + K + u)));
                a.mul(c[u]).add(b.mul(s_a[u])).store(at_mut(w + u));
                b.mul(c[u]).add(a.mul(s_b[u])).store(at_mut(w + K + u));
            }
            (m_prev, b_cur) = (m_cur, b_next);
        }
        // The last `B`: the end of the last row's second half, in lanes `0..m`.
        let out_b = b_cur.mul(cb).add(m_prev.mul(sb_b));
        masks.store(out_b, at_mut(2 * K * rows), low);
    }
}
