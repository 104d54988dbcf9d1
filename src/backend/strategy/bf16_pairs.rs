//! bf16 to bf16 in pairs of vectors: a chunk of `2N` bf16 is one load, whose even- and
//! odd-indexed elements widen with one shift and one mask into two vectors of f32 (no
//! lane crossing); the results go back with one two-vector rounding and one word shuffle
//! (AVX512_BF16), or rounded in integers with each result left in its half of a 32-bit
//! lane and the halves merged with a shift, masks and an or (every other ISA: no
//! shuffle). Interleaved pairs are then (even, odd) lanes of the same vector, so cos/sin
//! are plain loads; half-split pairs match even with even and odd with odd lanes of their
//! two halves, so cos/sin are split into even and odd lanes once per span. The
//! arithmetic per element is the scalar kernel's.
//!
//! Decided: every bf16 to bf16 span whose body is whole chunks (`plan.rs`); cheaper than
//! one-vector widening and rounding. Run `cargo bench -p rope-simd-benches --bench rope --
//! bf16` to see; the measurements are in `docs/design.md`, "bf16 pairs".

use core::mem::MaybeUninit;

use crate::backend::prefetch::{prefetch, prefetch_halves};
use crate::backend::vector::{
    array, bf16_unrolls, hints_at_run_time, pair, sin_flip, vector_body, Vector,
};
use crate::config::MAX_PAIRS;
use crate::kernel::Span;

/// Every row of the span in `args` as `chunks` chunks unrolled, cos/sin in registers
/// (chunk counts from `Plan`: interleaved 1, 2, 4, 8; half-split 1, 2, 4, each fitting
/// `V::KEEP`); with `pf`, each row's bytes ahead are asked for first (`prefetch.rs`).
///
/// # Safety
/// The CPU must support `V`'s ISA; `src`/`dst` are bf16 bits, the span fits both buffers
/// and `cos`/`sin` (`Io::assert_fits`), each row is exactly `chunks` chunks; `src` and
/// `dst` are the same rows or do not overlap.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn unrolled<V: Vector>(args: Args<'_>, chunks: usize, pf: bool) {
    let span = args.3;
    // SAFETY: forwarded from the caller (the plan gave a chunk count that fits).
    unsafe {
        // Only the counts the ISA lists are compiled; rows from the ISA's length test for
        // the hints at run time, the others have an instantiation with them
        // (`hints_at_run_time`).
        macro_rules! rows {
            ($rows:ident, $k:literal, $pairs:expr) => {
                if const { hints_at_run_time::<V>($k * $pairs) } {
                    $rows::<V, $k, false>(args, pf)
                } else if pf {
                    $rows::<V, $k, true>(args, false)
                } else {
                    $rows::<V, $k, false>(args, false)
                }
            };
        }
        match (span.interleaved, chunks) {
            (true, 1) if const { bf16_unrolls::<V>(true, 1) } => rows!(interleaved, 1, V::N),
            (true, 2) if const { bf16_unrolls::<V>(true, 2) } => rows!(interleaved, 2, V::N),
            (true, 4) if const { bf16_unrolls::<V>(true, 4) } => rows!(interleaved, 4, V::N),
            (true, 8) if const { bf16_unrolls::<V>(true, 8) } => rows!(interleaved, 8, V::N),
            (false, 1) if const { bf16_unrolls::<V>(false, 1) } => rows!(split, 1, 2 * V::N),
            (false, 2) if const { bf16_unrolls::<V>(false, 2) } => rows!(split, 2, 2 * V::N),
            (false, 4) if const { bf16_unrolls::<V>(false, 4) } => rows!(split, 4, 2 * V::N),
            _ => unreachable!("rope-simd internal error: a bf16 plan without its kernel"),
        }
    }
}

/// The arguments of the unrolled kernels: source, destination, its row stride, the span,
/// cos and sin.
pub(crate) type Args<'a> = (*const u16, *mut u16, usize, &'a Span, &'a [f32], &'a [f32]);

/// [`unrolled`] for interleaved rows of `K` chunks (`K * N` pairs).
///
/// # Safety
/// As for [`unrolled`], with `span.n == K * V::N`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn interleaved<V: Vector, const K: usize, const PF: bool>(
    (src, dst, dst_stride, span, cos, sin): Args<'_>,
    pf: bool,
) {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): the ISA is supported and has bf16 pairs (caller);
    // `cos`/`sin` hold `n = K * N` values, and each row's `2n` channels from
    // `span.first` lie within both buffers (`assert_fits`, checked by the caller).
    let flip = unsafe { sin_flip::<V>(span) };
    let c: [V; K] = array!(K, |j| unsafe { V::load(cp.add(j * V::N)) });
    let s: [V; K] = array!(K, |j| unsafe { V::load(sp.add(j * V::N)).xor(flip) });
    // A row's `2n` bf16.
    let lines = (2 * K * V::N * 2).div_ceil(64);
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        if PF || pf {
            unsafe { prefetch_halves::<V, u16>(x, span, lines) };
        }
        // Chunks two at a time (one rounding check for both), K being 1 or even.
        for j in (0..K).step_by(2) {
            unsafe {
                let o = span.first + 2 * j * V::N;
                let (a, b) = V::load_bf16_pairs(x.add(o));
                let (a2, b2) = pair(a, b, c[j], s[j]);
                if j + 1 < K {
                    let o1 = o + 2 * V::N;
                    let (a, b) = V::load_bf16_pairs(x.add(o1));
                    let (a3, b3) = pair(a, b, c[j + 1], s[j + 1]);
                    V::store_bf16_chunks([(a2, b2, y.add(o)), (a3, b3, y.add(o1))]);
                } else {
                    V::store_bf16_pairs(a2, b2, y.add(o));
                }
            }
        }
    }
}

/// [`unrolled`] for half-split rows of `K` chunks (`K * 2N` pairs).
///
/// # Safety
/// As for [`unrolled`], with `span.n == K * 2 * V::N`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split<V: Vector, const K: usize, const PF: bool>(
    (src, dst, dst_stride, span, cos, sin): Args<'_>,
    pf: bool,
) {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): the ISA is supported and has bf16 pairs (caller);
    // `cos`/`sin` hold `n = K * 2N` values, and each row's two halves of `n` channels
    // lie within both buffers (`assert_fits`, checked by the caller).
    let flip = unsafe { sin_flip::<V>(span) };
    let c: [(V, V); K] = array!(K, |j| unsafe { V::load_f32_pairs(cp.add(j * 2 * V::N)) });
    let s: [(V, V); K] = array!(K, |j| unsafe {
        let (e, o) = V::load_f32_pairs(sp.add(j * 2 * V::N));
        (e.xor(flip), o.xor(flip))
    });
    // Each half's `n` bf16.
    let lines = (2 * K * V::N * 2).div_ceil(64);
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        if PF || pf {
            unsafe { prefetch_halves::<V, u16>(x, span, lines) };
        }
        for j in 0..K {
            unsafe { split_pairs_chunk(x, y, span, j * 2 * V::N, c[j], s[j]) };
        }
    }
}

/// The bf16-pair kernels for spans [`unrolled`] does not take (one row, or more chunks
/// than fit in registers), with cos/sin loaded per chunk and row: plain loads for
/// interleaved pairs; for half-split pairs, from a copy split into even and odd lanes
/// once per span. Covers every row's vector body, a whole number of chunks (the caller
/// does the scalar tails).
///
/// # Safety
/// As for [`unrolled`], with the vector body a whole number of chunks of at most
/// `MAX_PAIRS` pairs.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn rows<V: Vector>(
    src: *const u16,
    dst: *mut u16,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let (_, body) = vector_body::<V>(span);
    let chunk = if span.interleaved { V::N } else { 2 * V::N };
    let chunks = body / chunk;
    assert!(
        body <= MAX_PAIRS,
        "rope-simd internal error: more pairs than a head"
    );
    // SAFETY (every block below): the ISA is supported and has bf16 pairs (caller);
    // `cos`/`sin` hold `n >= body` values, and each row's pairs `0..body` lie within both
    // buffers (`assert_fits`, checked by the caller); the split copies below hold the
    // `body` values written before the loop.
    let flip = unsafe { sin_flip::<V>(span) };
    if span.interleaved {
        let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
        for r in 0..span.rows {
            let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
            unsafe { prefetch::<V>(span, x.cast(), span.row_bytes::<u16>()) };
            for j in 0..chunks {
                unsafe {
                    let (c, s) = (V::load(cp.add(j * V::N)), V::load(sp.add(j * V::N)));
                    let o = span.first + 2 * j * V::N;
                    let (a, b) = V::load_bf16_pairs(x.add(o));
                    let (a2, b2) = pair(a, b, c, s.xor(flip));
                    V::store_bf16_pairs(a2, b2, y.add(o));
                }
            }
        }
        return;
    }
    if span.rows == 1 {
        // One row: split each chunk's cos/sin as it is used.
        for j in 0..chunks {
            unsafe {
                let o = j * chunk;
                let c = V::load_f32_pairs(cos.as_ptr().add(o));
                let (se, so) = V::load_f32_pairs(sin.as_ptr().add(o));
                split_pairs_chunk(src, dst, span, o, c, (se.xor(flip), so.xor(flip)));
            }
        }
        return;
    }
    // Chunk j's even cos at `2jN`, its odd ones at `2jN + N` (sin likewise, sign-flipped).
    let mut split = [[MaybeUninit::<f32>::uninit(); MAX_PAIRS]; 2];
    let [cs, ss] = &mut split;
    let (cs, ss) = (cs.as_mut_ptr().cast::<f32>(), ss.as_mut_ptr().cast::<f32>());
    for j in 0..chunks {
        unsafe {
            let o = j * chunk;
            let (ce, co) = V::load_f32_pairs(cos.as_ptr().add(o));
            let (se, so) = V::load_f32_pairs(sin.as_ptr().add(o));
            ce.store(cs.add(o));
            co.store(cs.add(o + V::N));
            se.xor(flip).store(ss.add(o));
            so.xor(flip).store(ss.add(o + V::N));
        }
    }
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        unsafe { prefetch::<V>(span, x.cast(), span.row_bytes::<u16>()) };
        for j in 0..chunks {
            unsafe {
                let o = j * chunk;
                let c = (V::load(cs.add(o)), V::load(cs.add(o + V::N)));
                let s = (V::load(ss.add(o)), V::load(ss.add(o + V::N)));
                split_pairs_chunk(x, y, span, o, c, s);
            }
        }
    }
}

/// Half-split bf16 pairs `o..o + 2N` of the row at `x` (written to `y`), with their cos
/// and sign-flipped sin as (even, odd) lanes.
///
/// # Safety
/// As for [`unrolled`], for pairs `o..o + 2N` of one row.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_pairs_chunk<V: Vector>(
    x: *const u16,
    y: *mut u16,
    span: &Span,
    o: usize,
    (ce, co): (V, V),
    (se, so): (V, V),
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let (oa, ob) = (span.first + o, span.second + o);
        let (ae, ao) = V::load_bf16_pairs(x.add(oa));
        let (be, bo) = V::load_bf16_pairs(x.add(ob));
        let ((ae2, be2), (ao2, bo2)) = (pair(ae, be, ce, se), pair(ao, bo, co, so));
        V::store_bf16_chunks([(ae2, ao2, y.add(oa)), (be2, bo2, y.add(ob))]);
    }
}
