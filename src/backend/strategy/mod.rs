//! The strategies: one file each, chosen by `plan.rs`, carried out by `span.rs`. Each
//! works on raw source and destination pointers (the same rows in place) within a span
//! that `Io::assert_fits` checked, and gives the scalar kernel's bits.

pub(crate) mod aligned_run;
pub(crate) mod bf16_pairs;
pub(crate) mod rows;
pub(crate) mod unrolled;

use crate::backend::vector::{array, pair, put, SimdElement, Vector};

/// `B` consecutive vectors of half-split pairs, read from `src` (first halves, second
/// halves) and written to `dst`, rotated by `c[..B]` and `s[..B]`.
///
/// The order is the point: all the block's first-half loads, then its second-half loads,
/// then the stores in the same order, so memory sees runs of `B` consecutive vectors
/// rather than a ping-pong between two places up to 8 cache lines apart (measured out of
/// DRAM at head_dim 256: `docs/design.md`, "Half-split blocks").
///
/// # Safety
/// The ISA is supported; the `B` vectors at `src`/`dst` (each `width` elements apart)
/// are readable/writable.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn split_block<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
>(
    src: (*const S, *const S),
    dst: (*mut D, *mut D),
    width: usize,
    c: [V; B],
    s: [V; B],
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let a: [V; B] = array!(B, |i| S::load(src.0.add(i * width)));
        let b: [V; B] = array!(B, |i| S::load(src.1.add(i * width)));
        // Each loop keeps one half of `pair`; the other half is dead code to LLVM.
        for i in 0..B {
            put::<V, D, NT>(pair(a[i], b[i], c[i], s[i]).0, dst.0.add(i * width));
        }
        for i in 0..B {
            put::<V, D, NT>(pair(a[i], b[i], c[i], s[i]).1, dst.1.add(i * width));
        }
    }
}
