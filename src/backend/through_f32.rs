//! Out of place, every (source, destination) pair but f32 into f16 or bf16: the rows'
//! pairs are brought to f32 (copied from an f32 source, widened from a 16-bit one) into
//! the destination's own rows when it is f32, else into an L1 scratch, rotated there by
//! the in-place f32 kernel, and the scratch rounded into the destination. The in-place
//! f32 kernel serves these seven pairs, instead of a kernel for each, and one body of the
//! loop over chunks of rows serves them on every ISA (it calls the ISA's conversions and
//! kernel through function pointers); the bits are the same (each value is rotated in
//! f32 and rounded once).
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

use super::convert::{Block, Convert};
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
/// the destination is the source). Only this shim knows the element types and the ISA:
/// it hands [`through_f32`] the rows as bytes, with the ISA's conversions and its
/// in-place f32 kernel as function pointers, so that one body of the chunk loop serves
/// every pair on every ISA (`sizes.txt`, `rust_every_entry`).
///
/// # Safety
/// The CPU must support `V`'s ISA. Bounds are checked by [`through_f32`].
#[inline(always)]
pub(crate) unsafe fn rotate_through_f32<V: Vector, S: Element, D: Element, const INTO: bool>(
    job: SpanJob<'_, S, D, INTO>,
) {
    let SpanJob { io, span, cos, sin } = job;
    let (src, dst, dst_stride) = io.parts(span);
    let (src_len, dst_len) = io.lens();
    let rows = Rows {
        src: (src.cast::<u8>(), src_len, core::mem::size_of::<S>()),
        dst: (dst.cast::<u8>(), dst_len, core::mem::size_of::<D>()),
        dst_stride,
    };
    let stream = V::STREAM && D::STREAMS;
    let isa = Calls {
        widen: convert::<V, S, f32, false>,
        // No streaming instantiation where the ISA does not stream into `D`.
        narrow: match (D::IS_F32, stream) {
            (true, _) => None,
            (false, true) => Some([convert::<V, f32, D, false>, convert::<V, f32, D, true>]),
            (false, false) => Some([convert::<V, f32, D, false>; 2]),
        },
        rotate: rotate_f32::<V>,
        stream,
    };
    // SAFETY: `io`'s buffers, which do not overlap out of place; the pointers' functions
    // are this ISA's, which the CPU supports (caller), and `Rows` gives the sizes of the
    // element types they were made for.
    unsafe { through_f32(rows, span, cos, sin, &isa) }
}

/// A span's buffers, their element types erased: each its address, length and element
/// size in bytes, and the destination's row stride (the source's is the span's), in
/// elements.
struct Rows {
    src: (*const u8, usize, usize),
    dst: (*mut u8, usize, usize),
    dst_stride: usize,
}

/// The ISA's calls that [`through_f32`] makes, for the element types of its [`Rows`].
struct Calls {
    /// Source rows to f32.
    widen: ConvertFn,
    /// f32 to the destination, with plain and with streaming stores; `None` when the
    /// destination is f32 (its rows are the scratch).
    narrow: Option<[ConvertFn; 2]>,
    /// The in-place f32 kernel.
    rotate: unsafe fn(*mut f32, usize, &Span, &[f32], &[f32]),
    /// Whether the ISA streams stores into this destination type.
    stream: bool,
}

/// A conversion of a row block ([`Block`]) on one ISA, between two element types.
type ConvertFn = unsafe fn(Block);

/// `rows`' span rotated through f32 rows (see [`rotate_through_f32`]). Not inlined: it
/// makes no vector instruction of its own (every conversion and rotation is a call), so
/// one copy serves every pair and ISA, where inlined it was one per pair and ISA.
///
/// # Safety
/// `rows` gives two buffers (the same one in place, else two that do not overlap) of
/// its lengths in elements of its sizes; `isa`'s functions were made for these element
/// types and for an ISA the CPU supports. Bounds are checked here.
#[inline(never)]
unsafe fn through_f32(rows: Rows, span: &Span, cos: &[f32], sin: &[f32], isa: &Calls) {
    let Rows {
        src: (src, src_len, src_size),
        dst: (dst, dst_len, dst_size),
        dst_stride,
    } = rows;
    // The span's rows within both buffers (in place, `dst_stride` is the span's).
    span.assert_fits(src_len, cos, sin);
    let to = Span {
        stride: dst_stride,
        ..*span
    };
    to.assert_fits(dst_len, cos, sin);
    // A row's window: from its first rotated channel to one past its last.
    let width = span.row_bytes::<u8>() - span.first;
    assert!(
        width <= MAX_ROTARY_DIM.max(2 * span.n),
        "rope-simd internal error: a span wider than a head"
    );
    let segs = segments(span);
    let at = |p: *const u8, size: usize, i: usize| p.wrapping_add(i * size);
    let Some(narrow) = isa.narrow else {
        // The destination is f32: its rows are the scratch.
        let widen = Block {
            src: at(src, src_size, span.first),
            src_stride: span.stride,
            dst: at(dst, dst_size, span.first).cast_mut(),
            dst_stride,
            rows: span.rows,
            segs,
        };
        // SAFETY: the pairs of every row lie within both buffers (checked above), which
        // do not overlap (caller); the ISA is supported (caller).
        unsafe { (isa.widen)(widen) };
        let local = Span {
            stream: false,
            prefetch: false,
            ..to
        };
        // SAFETY: the destination's rows of the span (checked above); nothing else
        // refers to them during the call.
        return unsafe { (isa.rotate)(dst.cast::<f32>(), local.extent(), &local, cos, sin) };
    };
    let rows_per_chunk = (SCRATCH / width.max(1)).max(1);
    let stream = span.stream && isa.stream && {
        [
            at(dst, dst_size, span.first) as usize,
            dst_stride * dst_size,
            segs[1].0 * dst_size,
        ]
        .iter()
        .all(|v| v.is_multiple_of(16))
    };
    // Not zeroed (16 KiB a call would cost more than the rotation of a decode step):
    // every element of the rows used is written below before it is read. Aligned to a
    // cache line, so that the vectors of head_dim 64 and 128 rows split none (`cargo
    // bench -p rope-simd-benches --bench rope -- into/`).
    #[repr(align(64))]
    struct Lines([MaybeUninit<f32>; SCRATCH]);
    let mut scratch = Lines([MaybeUninit::<f32>::uninit(); SCRATCH]);
    let base = scratch.0.as_mut_ptr().cast::<f32>();
    let mut r0 = 0;
    while r0 < span.rows {
        let rows = rows_per_chunk.min(span.rows - r0);
        let widen = Block {
            src: at(src, src_size, r0 * span.stride + span.first),
            src_stride: span.stride,
            dst: base.cast::<u8>(),
            dst_stride: width,
            rows,
            segs,
        };
        // SAFETY: the source rows' pairs lie within the source (checked above); window
        // `r` of `width` elements lies within the scratch (`rows * width <= SCRATCH`);
        // the ISA is supported (caller).
        unsafe { (isa.widen)(widen) };
        // Between split halves that are not adjacent (a row tail's), channels `n` up to
        // the second half's offset: zeros, never read by the kernel, so that the whole
        // window is initialized.
        let (gap, second) = (span.n, segs[1].0);
        if second > gap {
            for r in 0..rows {
                // SAFETY: within the window `r` of the scratch (`second < width`).
                unsafe { base.add(r * width + gap).write_bytes(0, second - gap) };
            }
        }
        // The chunk's rows, their windows `width` apart in the scratch, whose first
        // `rows * width` values were all written just above.
        let local = Span {
            rows,
            stride: width,
            first: 0,
            second: span.second - span.first,
            stream: false,
            prefetch: false,
            ..*span
        };
        // SAFETY: the ISA is supported (caller); the scratch holds the chunk's rows.
        unsafe { (isa.rotate)(base, rows * width, &local, cos, sin) };
        let round = Block {
            src: base.cast_const().cast::<u8>(),
            src_stride: width,
            dst: at(dst, dst_size, r0 * dst_stride + span.first).cast_mut(),
            dst_stride,
            rows,
            segs,
        };
        // SAFETY: the destination rows' pairs lie within the destination (checked
        // above), which does not overlap the scratch, nor the source out of place (in
        // place it is the source, whose rows of this chunk were read into the scratch
        // above, and nothing reads them during this call); the ISA is supported
        // (caller); streaming stores only where each is aligned.
        unsafe { narrow[usize::from(stream)](round) };
        r0 += rows;
    }
}

/// The in-place f32 kernel of `V` over `len` values at `rows`, the span's rows.
///
/// # Safety
/// `rows` points at `len` f32 that nothing else refers to during the call, and the span
/// fits them; the CPU supports `V`'s ISA.
unsafe fn rotate_f32<V: Vector>(rows: *mut f32, len: usize, span: &Span, cos: &[f32], sin: &[f32]) {
    // SAFETY: forwarded from the caller.
    let rows = unsafe { core::slice::from_raw_parts_mut(rows, len) };
    let job = SpanJob {
        io: Io::in_place(rows),
        span,
        cos,
        sin,
    };
    // SAFETY: the ISA is supported (caller).
    unsafe { V::call(job) }
}

/// Convert a row block of `S` into `D` on `V` (see [`Convert`]).
///
/// # Safety
/// `block`'s pointers are of `S` and `D` elements, its runs lie within the buffers they
/// point at, which do not overlap (see [`Convert`]); the CPU supports `V`'s ISA.
unsafe fn convert<V: Vector, S: Element, D: Element, const NT: bool>(block: Block) {
    // SAFETY: forwarded from the caller.
    unsafe { V::call(Convert::<S, D, NT>::new(block)) }
}
