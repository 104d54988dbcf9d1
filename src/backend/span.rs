//! One span on one ISA, in place or out of place (the same code; `Io` says which): split
//! it between the ISA's vectors and its narrower tail vectors, plan the ISA's part
//! (`plan.rs`), carry the plan out with one of the strategies, and finish the rows with
//! the scalar kernel. Loads need no alignment.
//!
//! Every function on this path is `#[inline(always)]`, so that it all lands in the ISA's
//! one `#[target_feature]` entry point, except in unoptimized builds (`opt-level = 0`,
//! where `build.rs` sets `cfg(rope_simd_unoptimized)`): there each is
//! `#[inline(never)]`, because unoptimized code gives every inlined function's locals
//! their own stack slots and the whole tree in one frame overflowed a 2 MiB thread
//! (`tests/backends.rs`, `every_backend_runs_on_a_small_stack`). The bits and the paths
//! are the same either way.

use super::dispatch::Job;
use super::io::Io;
use super::plan::{Plan, Strategy};
use super::strategy::{aligned_run, bf16_pairs, rows, unrolled};
use super::through_f32::rotate_through_f32;
use super::vector::{row_hints_at_run_time, unroll_shapes, unrolls, SimdElement, Vector};
use crate::element::Element;
use crate::kernel::Span;

/// Rotate `span` of `io` (the job every rotation is).
pub(crate) struct SpanJob<'a, S, D, const INTO: bool> {
    pub io: Io<'a, S, D, INTO>,
    pub span: &'a Span,
    pub cos: &'a [f32],
    pub sin: &'a [f32],
}

impl<S: Element, D: Element, const INTO: bool> Job for SpanJob<'_, S, D, INTO> {
    type Out = ();
    const BF16: bool = D::IS_BF16;
    #[inline(always)]
    fn scalar(self) {
        let SpanJob {
            mut io,
            span,
            cos,
            sin,
        } = self;
        // Not `io.assert_fits` first: the scalar kernels check the span against their
        // slices themselves (one check, not two copies in each pair's entry point).
        io.scalar(0, span, cos, sin)
    }
    #[inline(always)]
    unsafe fn simd<V: Vector>(self) {
        // SAFETY: forwarded from the caller.
        unsafe { rotate::<V, S, D, INTO, true>(self) }
    }
}

/// Rotate the job's span with vectors `V` (and, with `SPLIT`, `V::Tail` for the row
/// tails it takes; `V::Tail` rotates them without a further split, so that no ISA's
/// code calls itself).
///
/// # Safety
/// The CPU must support `V`'s ISA. Bounds are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn rotate<
    V: Vector,
    S: Element,
    D: Element,
    const INTO: bool,
    const SPLIT: bool,
>(
    job: SpanJob<'_, S, D, INTO>,
) {
    let through_f32 = match INTO {
        // Out of place, other than f32 into 16-bit with its own kernels.
        true => !(S::IS_F32 && D::STREAMS && V::FUSED_INTO_16),
        // f16 in place, on an ISA without kernels for it.
        false => !S::IS_F32 && !S::IS_BF16 && !V::FUSED_F16,
    };
    if through_f32 {
        // Through f32 rows (`through_f32.rs`).
        // SAFETY: forwarded from the caller.
        return unsafe { rotate_through_f32::<V, S, D, INTO>(job) };
    }
    let SpanJob {
        mut io,
        span,
        cos,
        sin,
    } = job;
    io.assert_fits(span, cos, sin);
    let (src, dst, dst_stride) = io.parts(span);
    let plan = Plan::new::<V, S, D>(span, (src, dst, dst_stride), INTO, SPLIT);
    let head = span.head(plan.pairs);
    if head.n > 0 {
        // SAFETY: the ISA is supported (caller); `head` lies within the span, which fits.
        unsafe { carry_out::<V, S, D, INTO>(&mut io, &head, &plan, cos, sin) };
    }
    if SPLIT && V::Tail::N < V::N && plan.pairs < span.n {
        let (tails, cos, sin) = (
            span.tails(plan.pairs),
            &cos[plan.pairs..],
            &sin[plan.pairs..],
        );
        let job = SpanJob {
            io,
            span: &tails,
            cos,
            sin,
        };
        // SAFETY: `V::Tail`'s ISA is part of `V`'s (see `Vector::Tail`).
        unsafe { V::run_tail(job) };
    }
}

/// Carry `plan` out over `span` (`V`'s part of the rows): the vector bodies by the
/// plan's strategy, then every row's scalar tail in one call (the row loop does each
/// row's own).
///
/// # Safety
/// The CPU must support `V`'s ISA; the span fits `io` and `cos`/`sin`; `plan` is
/// `Plan::new` of this span and these buffers.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn carry_out<V: Vector, S: Element, D: Element, const INTO: bool>(
    io: &mut Io<'_, S, D, INTO>,
    span: &Span,
    plan: &Plan,
    cos: &[f32],
    sin: &[f32],
) {
    let (src, dst, dst_stride) = io.parts(span);
    // Which instantiations can be reached, decided at compile time so that no others are
    // compiled: prefetching only in place on an ISA that prefetches; streaming only out
    // of place into 16-bit destinations on an ISA that streams.
    let (pf, nt) = (
        !INTO && V::PREFETCH && plan.prefetch,
        INTO && V::STREAM && D::STREAMS && plan.stream,
    );
    let body = plan.body;
    // SAFETY (every block below): forwarded from the caller; each strategy was chosen by
    // the plan for exactly this span, these element types and these pointers.
    match plan.strategy {
        Strategy::Scalar => {}
        Strategy::Rows { block } => {
            unsafe {
                match (block, nt) {
                    (4, false) => {
                        rows::rows::<V, S, D, 4, false, INTO>(io, span, body, pf, cos, sin)
                    }
                    (4, true) => rows::rows::<V, S, D, 4, true, INTO>(io, span, body, pf, cos, sin),
                    (_, false) => {
                        rows::rows::<V, S, D, 1, false, INTO>(io, span, body, pf, cos, sin)
                    }
                    (_, true) => rows::rows::<V, S, D, 1, true, INTO>(io, span, body, pf, cos, sin),
                }
            }
            return; // the row loop did the tails
        }
        Strategy::Unrolled { vectors } => unsafe {
            let args = (src, dst, dst_stride, span, cos, sin);
            // One arm per shape an ISA may list; only those it lists are compiled.
            macro_rules! arms {
                ($(($il:literal, $k:literal)),*) => {
                    match (span.interleaved, vectors) {
                        $(($il, $k) if const { unrolls::<V, S, D>($il, $k) } => {
                            unrolled_k::<V, S, D, $il, $k>(args, pf)
                        })*
                        _ => unreachable!("rope-simd internal error: an unrolled plan without its kernel"),
                    }
                };
            }
            unroll_shapes!(arms)
        },
        // (The plan gives the bf16 strategies only for bf16 to bf16; the test of the
        // types keeps them out of every other instantiation.)
        Strategy::Bf16Unrolled { chunks } if S::IS_BF16 && D::IS_BF16 => unsafe {
            let (src, dst) = (src.cast::<u16>(), dst.cast::<u16>());
            bf16_pairs::unrolled::<V>((src, dst, dst_stride, span, cos, sin), chunks, pf)
        },
        Strategy::Bf16Rows if S::IS_BF16 && D::IS_BF16 => unsafe {
            let (src, dst) = (src.cast::<u16>(), dst.cast::<u16>());
            bf16_pairs::rows::<V>(src, dst, dst_stride, span, cos, sin)
        },
        Strategy::Bf16Unrolled { .. } | Strategy::Bf16Rows => {
            unreachable!("rope-simd internal error: a bf16 plan for other types")
        }
        Strategy::AlignedRun { vectors } => {
            if let (Some(masks), true) = (V::MASKS, S::IS_F32 && D::IS_F32) {
                let io = (src.cast::<f32>(), dst.cast::<f32>());
                unsafe { aligned_run::run::<V>(masks, io, span, vectors, cos, sin) }
            }
        }
    }
    if body < span.n {
        io.scalar(0, &span.tails(body), &cos[body..], &sin[body..]);
    }
}

/// The arguments of the unrolled rows: source, destination, its row stride, the span,
/// cos and sin.
type Args<'a, S, D> = (*const S, *mut D, usize, &'a Span, &'a [f32], &'a [f32]);

/// Unrolled rows of `K` vectors, in the instantiation for the hints (`pf`) the plan
/// asked for (never streaming: the plan gives those calls the row loop).
///
/// # Safety
/// As for `unrolled::in_registers`.
#[inline(always)]
unsafe fn unrolled_k<V: Vector, S: Element, D: Element, const IL: bool, const K: usize>(
    (src, dst, dst_stride, span, cos, sin): Args<'_, S, D>,
    pf: bool,
) {
    use unrolled::in_registers;
    // SAFETY: forwarded from the caller.
    unsafe {
        if const { row_hints_at_run_time::<V>(IL, K) } {
            in_registers::<V, S, D, IL, K, false>(src, dst, dst_stride, span, cos, sin, pf)
        } else if pf {
            in_registers::<V, S, D, IL, K, true>(src, dst, dst_stride, span, cos, sin, false)
        } else {
            in_registers::<V, S, D, IL, K, false>(src, dst, dst_stride, span, cos, sin, false)
        }
    }
}
