//! Software prefetch for large in-place calls: each row asks for the bytes
//! [`PREFETCH_AHEAD`] past it before it is rotated.
//!
//! Decided: from [`PREFETCH_BYTES`](crate::kernel::PREFETCH_BYTES) of data in one
//! in-place call (past what L2 holds), on the ISAs with a prefetch instruction; the
//! hardware prefetchers alone leave an in-place pass short of what the caches past L2
//! deliver. Not out of place (measured no faster), not in L1 or L2 (it costs there).
//! The unrolled strategies prefetch in an instantiation of their own (`PF`), so that
//! decode-sized calls carry no trace of it, except the longest rows, which test for it
//! in their one instantiation (`vector::hints_at_run_time`). Run `cargo bench -p
//! rope-simd-benches --bench rope -- prefill4096` to see; the measurements are in
//! `docs/design.md`, "Prefetch".
//! A hint's address may lie outside every buffer: it is computed with `wrapping_add`
//! and never dereferenced.

use super::vector::Vector;
use crate::kernel::{Span, PREFETCH_AHEAD};

/// Where `span.prefetch`, ask for the `len` bytes [`PREFETCH_AHEAD`] past `row`, one
/// hint per 64-byte line (the per-row loops call this; the unrolled rows call
/// [`prefetch_halves`] in their `PF` instantiation).
///
/// # Safety
/// The CPU must support `V`'s ISA. Any address will do: a hint reads nothing and cannot
/// fault.
#[inline(always)]
pub(crate) unsafe fn prefetch<V: Vector>(span: &Span, row: *const u8, len: usize) {
    if span.prefetch {
        // SAFETY: forwarded from the caller.
        unsafe { prefetch_lines::<V>(row, len.div_ceil(64)) };
    }
}

/// For the unrolled rows: `lines` lines from [`PREFETCH_AHEAD`] past the start of row
/// `x`'s pairs (`span.first`), and as many past its second halves (`span.second`) when
/// they are split.
///
/// # Safety
/// The CPU must support `V`'s ISA. Any address will do: a hint reads nothing and cannot
/// fault.
#[inline(always)]
pub(crate) unsafe fn prefetch_halves<V: Vector, E>(x: *const E, span: &Span, lines: usize) {
    let (first, second) = (x.wrapping_add(span.first), x.wrapping_add(span.second));
    // SAFETY: forwarded from the caller (hints read nothing).
    unsafe {
        prefetch_lines::<V>(first.cast(), lines);
        if !span.interleaved {
            prefetch_lines::<V>(second.cast(), lines);
        }
    }
}

/// `lines` 64-byte lines from [`PREFETCH_AHEAD`] past `p`.
///
/// # Safety
/// The CPU must support `V`'s ISA. Any address will do: a hint reads nothing and cannot
/// fault.
#[inline(always)]
unsafe fn prefetch_lines<V: Vector>(p: *const u8, lines: usize) {
    for l in 0..lines {
        // SAFETY: a hint reads nothing (see `Vector::prefetch`); the ISA is supported
        // (caller).
        unsafe { V::prefetch(p.wrapping_add(PREFETCH_AHEAD + 64 * l)) };
    }
}
