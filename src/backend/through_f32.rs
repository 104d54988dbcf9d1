//! Out of place, every (source, destination) pair but f32 into f16 or bf16: the rows'
//! pairs are brought to f32 (copied from an f32 source, widened from a 16-bit one) into
//! the destination's own rows when it is f32, else into an L1 scratch, rotated there by
//! the in-place f32 kernel, and the scratch rounded into the destination. The in-place
//! f32 kernel serves these seven pairs, instead of a kernel for each; the bits are the
//! same (each value is rotated in f32 and rounded once).
//!
//! Decided: for code size, the kernels being most of the crate's bytes (`sizes.txt`,
//! `rust_every_entry`). Not for f32 activations into a 16-bit cache, the runtimes' path:
//! through f32 it measured a third slower (`cargo bench -p rope-simd-benches --bench rope
//! -- fused` and `-- decode_step`; `docs/design.md`, "Out of place"), so those two pairs
//! keep kernels of their own, except on the ISAs that say otherwise
//! (`Vector::FUSED_INTO_16`: the portable lanes on x86_64, a fallback for CPUs without
//! AVX2).
//!
//! In place, f16 rows take this path too on the ISAs without f16 kernels of their own
//! (`Vector::FUSED_F16`: the portable lanes on x86_64 and wasm32, where it measured as
//! fast or faster; on AVX2 it was more than twice as slow, `docs/design.md`, "Out of
//! place"). Reading and writing the same rows is safe here: a chunk's rows are all
//! read into the scratch before any is written.

use core::mem::MaybeUninit;

use super::convert::{narrow, widen_to};
use super::dispatch::Job;
use super::io::Io;
use super::span::SpanJob;
use super::vector::{SimdElement, Vector};
use crate::config::MAX_ROTARY_DIM;
use crate::element::Element;
use crate::kernel::Span;

/// f32 values of the scratch: a few rows of the widest head (16 KiB, in L1).
const SCRATCH: usize = 4096;

/// The channels of a row that `span`'s pairs occupy, relative to `span.first`: one run
/// for interleaved pairs and adjacent halves, two for halves apart (a row tail's).
#[inline(always)]
fn segments(span: &Span) -> [(usize, usize); 2] {
    if span.interleaved || span.second == span.first + span.n {
        [(0, 2 * span.n), (0, 0)] // one run: interleaved, or adjacent halves
    } else {
        [(0, span.n), (span.second - span.first, span.n)]
    }
}

/// Rotate `job`'s span through f32 rows: the destination's own rows when it is f32, else
/// a scratch whose rows are then rounded into it (out of place, or f16 in place, where
/// the destination is the source). The conversions are jobs of their own ([`Convert`]),
/// one body per element type and ISA, not one inlined into each of the seven pairs
/// (`sizes.txt`); they are called once per chunk of rows.
///
/// # Safety
/// The CPU must support `V`'s ISA. Bounds are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn rotate_through_f32<V: Vector, S: Element, D: Element, const INTO: bool>(
    job: SpanJob<'_, S, D, INTO>,
) {
    let SpanJob { io, span, cos, sin } = job;
    io.assert_fits(span, cos, sin);
    let (src, dst, dst_stride) = io.parts(span);
    // A row's window: from its first rotated channel to one past its last.
    let width = span.row_bytes::<u8>() - span.first;
    assert!(
        width <= MAX_ROTARY_DIM.max(2 * span.n),
        "rope-simd internal error: a span wider than a head"
    );
    let segs = segments(span);
    if D::IS_F32 {
        // The destination is f32: its rows are the scratch.
        let dst = dst.cast::<f32>();
        let widen = Convert::<S, f32, false> {
            src: src.wrapping_add(span.first),
            src_stride: span.stride,
            dst: dst.wrapping_add(span.first),
            dst_stride,
            rows: span.rows,
            segs,
        };
        // SAFETY: the pairs of every row lie within both buffers (`assert_fits`), which
        // do not overlap; the ISA is supported (caller).
        unsafe { out_of_line::<V, _>(widen) };
        let extent = Span {
            stride: dst_stride,
            ..*span
        }
        .extent();
        // SAFETY: the destination's rows of the span (`assert_fits`); no other reference
        // to them is live.
        let rows = unsafe { core::slice::from_raw_parts_mut(dst, extent) };
        let local = Span {
            stride: dst_stride,
            stream: false,
            prefetch: false,
            ..*span
        };
        let job = SpanJob {
            io: Io::in_place(rows),
            span: &local,
            cos,
            sin,
        };
        // SAFETY: the ISA is supported (caller).
        return unsafe { V::call(job) };
    }
    let rows_per_chunk = (SCRATCH / width.max(1)).max(1);
    let stream = span.stream && V::STREAM && D::STREAMS && {
        let bytes = core::mem::size_of::<D>();
        [
            dst.wrapping_add(span.first) as usize,
            dst_stride * bytes,
            segs[1].0 * bytes,
        ]
        .iter()
        .all(|v| v.is_multiple_of(16))
    };
    // Not zeroed (16 KiB a call would cost more than the rotation of a decode step):
    // every element of the rows used is written below before it is read.
    let mut scratch = [MaybeUninit::<f32>::uninit(); SCRATCH];
    let base = scratch.as_mut_ptr().cast::<f32>();
    let mut r0 = 0;
    while r0 < span.rows {
        let rows = rows_per_chunk.min(span.rows - r0);
        let widen = Convert::<S, f32, false> {
            src: src.wrapping_add(r0 * span.stride + span.first),
            src_stride: span.stride,
            dst: base,
            dst_stride: width,
            rows,
            segs,
        };
        // SAFETY: the source rows' pairs lie within the source (`assert_fits`); window
        // `r` of `width` elements lies within the scratch (`rows * width <= SCRATCH`);
        // the ISA is supported (caller).
        unsafe { out_of_line::<V, _>(widen) };
        // Between split halves that are not adjacent (a row tail's): zeros, never read
        // by the kernel, so that the whole window is initialized.
        let gap = (span.n, width - span.n);
        if !span.interleaved && gap.1 > span.n {
            for r in 0..rows {
                // SAFETY: within the window `r` of the scratch.
                unsafe { base.add(r * width + gap.0).write_bytes(0, gap.1 - span.n) };
            }
        }
        // SAFETY: the first `rows * width` values were all written just above.
        let tmp = unsafe { core::slice::from_raw_parts_mut(base, rows * width) };
        // The chunk's rows, their windows `width` apart in `tmp`.
        let local = Span {
            rows,
            stride: width,
            first: 0,
            second: span.second - span.first,
            stream: false,
            prefetch: false,
            ..*span
        };
        let job = SpanJob {
            io: Io::in_place(&mut *tmp),
            span: &local,
            cos,
            sin,
        };
        // SAFETY: the ISA is supported (caller).
        unsafe { V::call(job) };
        let to = dst.wrapping_add(r0 * dst_stride + span.first);
        let parts = (base.cast_const(), width, to, dst_stride, rows, segs);
        // SAFETY: the destination rows' pairs lie within the destination (`assert_fits`),
        // which does not overlap the scratch, nor the source out of place (in place it is
        // the source, whose rows of this chunk were read into the scratch above, and
        // nothing reads them during this job); the ISA is supported (caller); streaming
        // stores only where each is aligned.
        unsafe {
            if stream {
                out_of_line::<V, _>(Convert::<f32, D, true>::new(parts))
            } else {
                out_of_line::<V, _>(Convert::<f32, D, false>::new(parts))
            }
        }
        r0 += rows;
    }
}

/// `V::call(job)`, kept a call: the ISA's entry points are separate functions, but LLVM
/// inlines one into another of the same ISA where it sees fit, which made a copy of a
/// conversion inside each of the seven pairs; through an opaque pointer it cannot.
///
/// # Safety
/// As [`Vector::call`].
#[inline(always)]
unsafe fn out_of_line<V: Vector, J: Job>(job: J) -> J::Out {
    let call: unsafe fn(J) -> J::Out = V::call::<J>;
    // SAFETY: forwarded from the caller.
    unsafe { core::hint::black_box(call)(job) }
}

/// Convert `rows` rows of `segs` (offset, length) runs, row `r`'s from `src + r *
/// src_stride` to `dst + r * dst_stride`: widening (`D` is f32, exactly) or rounding (`S`
/// is f32, to nearest even; with `NT` the vector stores stream, every one 16-byte
/// aligned).
///
/// Built only by [`rotate_through_f32`], which checked that every run lies within a
/// buffer it borrows for the call: it reads one of the source (or the destination, in
/// place) and the scratch, and writes the other, which do not overlap: running it reads
/// and writes only there.
struct Convert<S, D, const NT: bool> {
    src: *const S,
    src_stride: usize,
    dst: *mut D,
    dst_stride: usize,
    rows: usize,
    segs: [(usize, usize); 2],
}

/// A row block's source, its stride, destination, its stride, rows and runs.
type Parts<S, D> = (*const S, usize, *mut D, usize, usize, [(usize, usize); 2]);

impl<S, D, const NT: bool> Convert<S, D, NT> {
    fn new((src, src_stride, dst, dst_stride, rows, segs): Parts<S, D>) -> Self {
        Convert {
            src,
            src_stride,
            dst,
            dst_stride,
            rows,
            segs,
        }
    }
}

impl<S: Element, D: Element, const NT: bool> Job for Convert<S, D, NT> {
    type Out = ();
    // Widening bf16 is a shift on every ISA; only rounding to bf16 differs.
    const BF16: bool = D::IS_BF16;
    fn scalar(self) {
        for r in 0..self.rows {
            for (at, len) in self.segs {
                for i in at..at + len {
                    // SAFETY: within the runs `rotate_through_f32` checked (the type's
                    // doc).
                    unsafe {
                        let v = self.src.add(r * self.src_stride + i).read();
                        self.dst
                            .add(r * self.dst_stride + i)
                            .write(D::from_f32(v.to_f32()));
                    }
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn simd<V: Vector>(self) {
        for r in 0..self.rows {
            for (at, len) in self.segs.into_iter().filter(|s| s.1 > 0) {
                // SAFETY: within the runs `rotate_through_f32` checked (the type's doc),
                // which do not overlap; the ISA is supported (caller); with `NT` every
                // vector store is 16-byte aligned (caller).
                unsafe {
                    let from =
                        core::slice::from_raw_parts(self.src.add(r * self.src_stride + at), len);
                    let to = self.dst.add(r * self.dst_stride + at);
                    if D::IS_F32 {
                        widen_to::<V, S>(from, to.cast::<f32>());
                    } else if let Some(f) = S::as_f32(from) {
                        narrow::<V, D, NT>(f, core::slice::from_raw_parts_mut(to, len));
                    } else {
                        // Neither is f32: not built so; the plain conversion.
                        for (i, v) in from.iter().enumerate() {
                            to.add(i).write(D::from_f32(v.to_f32()));
                        }
                    }
                }
            }
        }
    }
}
