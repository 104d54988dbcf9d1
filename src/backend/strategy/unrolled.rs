//! Unrolled rows: a row body of `K` vectors is one straight block, with the span's
//! cos/sin made ready once (duplicated and sign-flipped for interleaved pairs) before
//! the first row, kept in registers as far as `V::KEEP` vectors each hold them. On an
//! ISA with `Vector::COLUMNS` (NEON) the rows go instead a block of vectors at a time
//! across the span's rows, with one block's cos/sin in registers ([`columns`]).
//!
//! Decided: for the row shapes each ISA lists in `Vector::UNROLLED` (its size budget) and
//! more than one row; saves two loads and a sign flip per vector and the row loop's bookkeeping, and
//! leaves no cos/sin load between the stores (which removed a 4K-aliasing stall at
//! head_dim 256). Run `cargo bench -p rope-simd-benches --bench rope -- decode` to see;
//! the measurements are in `docs/design.md`, "Unrolled rows".

use super::split_block;
use crate::backend::plan::block_len;
use crate::backend::prefetch::prefetch_halves;
use crate::backend::vector::{
    array, in_columns, interleaved, pair, put, sin_flip, vector_body, SimdElement, Vector, BLOCK,
};
use crate::kernel::Span;

/// Every row's body of `K` vectors of interleaved (`IL`) or half-split pairs, read from
/// `src` and written to `dst` (row `r` at `r * span.stride` and `r * dst_stride`; the
/// same rows in place); with `PF` (or, at run time, `pf`), each
/// row's bytes ahead are asked for first (see `prefetch.rs`). The caller does the scalar
/// tails. Streaming calls take the row loop instead: they are large and memory-bound, and
/// measured as fast there (`cargo bench -p rope-simd-benches --bench rope -- fused`).
///
/// # Safety
/// The CPU must support `V`'s ISA; the span fits both buffers and `cos`/`sin`
/// (`Io::assert_fits`), with `span.n / width == K` and `span.interleaved == IL`; `src` and `dst` are the same rows or
/// do not overlap.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn in_registers<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const IL: bool,
    const K: usize,
    const PF: bool,
>(
    src: *const S,
    dst: *mut D,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
    pf: bool,
) {
    let pf = PF || pf;
    let (width, _) = vector_body::<V>(span);
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    if in_columns::<V>(IL) {
        // SAFETY: forwarded from the caller.
        unsafe { columns::<V, S, D, IL, K>(src, dst, dst_stride, span, cp, sp) };
        return;
    }
    let block = block_len::<V, S>(span.second - span.first).min(K);
    // SAFETY (every block below): the ISA is supported (caller); `cos`/`sin` hold at
    // least `n >= K * width` values, and pairs `0..K * width` of every row lie within
    // both buffers (`assert_fits`, checked by the caller), each access being one vector
    // of channels (or N/2 cos/sin values) starting at pair `j * width`.
    let (c, s): ([V; K], [V; K]) = if IL && !V::DEINTERLEAVE {
        let flip = unsafe { V::alternating_sign(span.inverse) };
        (
            array!(K, |j| unsafe { V::load_dup(cp.add(j * width)) }),
            array!(K, |j| unsafe { V::load_dup(sp.add(j * width)).xor(flip) }),
        )
    } else {
        let flip = unsafe { sin_flip::<V>(span) };
        (
            array!(K, |j| unsafe { V::load(cp.add(j * width)) }),
            array!(K, |j| unsafe { V::load(sp.add(j * width)).xor(flip) }),
        )
    };
    // A half's (split) or a row's (interleaved) bytes: K vectors.
    let lines = (K * V::N * core::mem::size_of::<S>()).div_ceil(64);
    if !IL {
        // The block length is chosen once, each a row loop of its own: with the choice
        // made in every row, LLVM kept fewer of the cos/sin vectors in registers and
        // reloaded the rest every row (`cargo bench -p rope-simd-benches --bench rope --
        // 'decode/f32/hd64'`). Each loop's length divides `K` (a const test), so no
        // vector of a row is left out whatever `block` is.
        let rows = (src, dst, dst_stride, span, lines);
        unsafe {
            if K == 1 || block >= K {
                split_rows::<V, S, D, K, K>(rows, &c, &s, pf);
            } else if K > 4 && K.is_multiple_of(4) && block >= 4 {
                split_rows::<V, S, D, K, 4>(rows, &c, &s, pf);
            } else {
                split_rows::<V, S, D, K, 1>(rows, &c, &s, pf);
            }
        }
        return;
    }
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        if pf {
            unsafe { prefetch_halves::<V, S>(x, span, lines) };
        }
        // `V::N` channels a vector (not `2 * width`, the same number): constant offsets
        // from one base pointer a row.
        let (x, y) = unsafe { (x.add(span.first), y.add(span.first)) };
        for j in 0..K {
            unsafe {
                let o = j * V::N;
                put::<V, D, false>(interleaved::<V>(S::load(x.add(o)), c[j], s[j]), y.add(o));
            }
        }
    }
}

/// The rows (`src`, `dst`, `dst_stride`, `span`, `lines`, as [`in_registers`] has them)
/// of `K` vectors of half-split pairs, each in blocks of `B` vectors; with `pf`, each
/// row's bytes ahead are asked for first.
///
/// # Safety
/// As for [`in_registers`], half-split.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_rows<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const K: usize,
    const B: usize,
>(
    (src, dst, dst_stride, span, lines): (*const S, *mut D, usize, &Span, usize),
    c: &[V; K],
    s: &[V; K],
    pf: bool,
) {
    for r in 0..span.rows {
        // SAFETY (every block below): forwarded from the caller.
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        if pf {
            unsafe { prefetch_halves::<V, S>(x, span, lines) };
        }
        let (a, b) = unsafe {
            (
                (x.add(span.first), x.add(span.second)),
                (y.add(span.first), y.add(span.second)),
            )
        };
        // `V::N` pairs a vector, as `width` is here: a constant, so each vector's
        // address is a constant offset from the two halves' pointers (with `width`, a
        // run-time value to LLVM, the 16-register ISAs spilled 2K addresses;
        // `docs/design.md`, "Unrolled rows").
        unsafe { split_regs::<V, S, D, K, B>(a, b, V::N, c, s) };
    }
}

/// A row's `K` vectors of half-split pairs in blocks of `B` (which divides `K`; a `B`
/// above `K` does nothing, never happening), cos/sin from registers. Every index is a
/// constant once unrolled, so `c` and `s` stay in registers.
///
/// # Safety
/// As for [`split_block`], for `K` vectors.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_regs<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const K: usize,
    const B: usize,
>(
    src: (*const S, *const S),
    dst: (*mut D, *mut D),
    width: usize,
    c: &[V; K],
    s: &[V; K],
) {
    if B > K {
        return;
    }
    for j in 0..K / B {
        let o = j * B * width;
        let cb: [V; B] = array!(B, |i| c[j * B + i]);
        let sb: [V; B] = array!(B, |i| s[j * B + i]);
        // SAFETY: forwarded from the caller; vectors `j*B..(j+1)*B` of the row.
        unsafe {
            let (a, d) = ((src.0.add(o), src.1.add(o)), (dst.0.add(o), dst.1.add(o)));
            split_block::<V, S, D, B, false>(a, d, width, cb, sb);
        }
    }
}

/// Rows per turn of [`columns`]'s loop.
const ROWS: usize = 2;

/// The unrolled rows that [`in_columns`] sends here: `K` vectors of half-split pairs
/// (`Vector::COLUMNS`), or `K` steps of interleaved pairs split into (even, odd) vectors
/// (`Vector::DEINTERLEAVE`), a block of [`BLOCK`] at a time across every row of the
/// span. Only the block's cos/sin are in registers, loaded once for all the rows, so
/// nothing spills where a row's whole cos/sin and its data do not fit in the registers
/// together (NEON at head_dim 128: 32 cos/sin vectors). Two rows a turn, their loads
/// first, so that an in-order core (Cortex-A55) overlaps one row's loads with the
/// other's arithmetic. Each cache line is still read and written once. Run
/// `bash scripts/arm_cycles.sh` to see (`docs/design.md`, "aarch64").
///
/// # Safety
/// As for [`in_registers`] (whose arguments these are); interleaved only with
/// `V::DEINTERLEAVE`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn columns<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const IL: bool,
    const K: usize,
>(
    src: *const S,
    dst: *mut D,
    dst_stride: usize,
    span: &Span,
    cp: *const f32,
    sp: *const f32,
) {
    debug_assert!(
        in_columns::<V>(IL) && K.is_multiple_of(BLOCK),
        "`vector::unrolls`"
    );
    let (first, second, rows) = (span.first, span.second, span.rows);
    // SAFETY (every block below): the ISA is supported (caller); the first `K * N` pairs'
    // cos/sin and values of every row lie within the buffers (`assert_fits`, as for
    // `in_registers`), and every access is one vector (or `ld2`/`st2` step) of them.
    unsafe {
        let flip = sin_flip::<V>(span);
        for j in 0..K / BLOCK {
            // Pair `o` starts the block.
            let o = j * BLOCK * V::N;
            let c: [V; BLOCK] = array!(BLOCK, |i| V::load(cp.add(o + i * V::N)));
            let s: [V; BLOCK] = array!(BLOCK, |i| V::load(sp.add(o + i * V::N)).xor(flip));
            // Where the block starts in a row, the distance between its vectors (steps),
            // and from a first half to its second half.
            let (f, h) = match IL {
                true => (first + 2 * o, 2 * V::N),
                false => (first + o, V::N),
            };
            let g = second - first;
            // The two-row loop and the odd row are written out: one inlined helper for
            // either measured slower for interleaved pairs (`docs/design.md`, "aarch64").
            let mut r = 0;
            while r + ROWS <= rows {
                let x: [*const S; ROWS] = array!(ROWS, |k| src.add((r + k) * span.stride + f));
                let y: [*mut D; ROWS] = array!(ROWS, |k| dst.add((r + k) * dst_stride + f));
                if IL {
                    let v: [[(V, V); BLOCK]; ROWS] = array!(ROWS, |k| {
                        array!(BLOCK, |i| S::load_pairs::<V>(x[k].add(i * h)))
                    });
                    for k in 0..ROWS {
                        for i in 0..BLOCK {
                            let (a, b) = pair(v[k][i].0, v[k][i].1, c[i], s[i]);
                            D::store_pairs(a, b, y[k].add(i * h));
                        }
                    }
                } else {
                    // All the first halves' loads, then the second halves' (runs, as in
                    // `split_block`).
                    let a: [[V; BLOCK]; ROWS] =
                        array!(ROWS, |k| array!(BLOCK, |i| S::load(x[k].add(i * h))));
                    let b: [[V; BLOCK]; ROWS] =
                        array!(ROWS, |k| array!(BLOCK, |i| S::load(x[k].add(g + i * h))));
                    for k in 0..ROWS {
                        // Each loop keeps one half of `pair`, as in `split_block`.
                        for i in 0..BLOCK {
                            let v = pair(a[k][i], b[k][i], c[i], s[i]).0;
                            put::<V, D, false>(v, y[k].add(i * h));
                        }
                        for i in 0..BLOCK {
                            let v = pair(a[k][i], b[k][i], c[i], s[i]).1;
                            put::<V, D, false>(v, y[k].add(g + i * h));
                        }
                    }
                }
                r += ROWS;
            }
            // An odd last row.
            for r in r..rows {
                let (x, y) = (src.add(r * span.stride + f), dst.add(r * dst_stride + f));
                if IL {
                    let v: [(V, V); BLOCK] = array!(BLOCK, |i| S::load_pairs::<V>(x.add(i * h)));
                    for i in 0..BLOCK {
                        let (a, b) = pair(v[i].0, v[i].1, c[i], s[i]);
                        D::store_pairs(a, b, y.add(i * h));
                    }
                } else {
                    let (x, y) = ((x, x.add(g)), (y, y.add(g)));
                    split_block::<V, S, D, BLOCK, false>(x, y, h, c, s);
                }
            }
        }
    }
}
