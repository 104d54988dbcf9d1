//! Where a span is read and written: one buffer (in place) or a source and a
//! destination (out of place). The strategies work on the two pointers either way, so
//! in place is simply source == destination; only the scalar tails need to know which.

use core::marker::PhantomData;

use crate::element::Element;
use crate::kernel::{self, Span};

/// The rows a span reads (`src`) and writes (`dst`): the same buffer in place, or (with
/// `INTO`) two buffers that cannot overlap. Made only from slices, and holding their
/// borrows. In place and out of place are different instantiations of the same code:
/// only in place prefetches, only out of place streams, and neither carries the other's
/// kernels.
pub(crate) struct Io<'a, S, D, const INTO: bool> {
    src: *const S,
    dst: *mut D,
    src_len: usize,
    dst_len: usize,
    /// Out of place: elements between the destination's rows (in place, the source's
    /// rows are the destination's).
    dst_stride: usize,
    _borrows: PhantomData<(&'a [S], &'a mut [D])>,
}

impl<'a, E> Io<'a, E, E, false> {
    /// `x`, rotated in place.
    #[inline(always)]
    pub(crate) fn in_place(x: &'a mut [E]) -> Self {
        let (dst, len) = (x.as_mut_ptr(), x.len());
        Io {
            src: dst.cast_const(),
            dst,
            src_len: len,
            dst_len: len,
            dst_stride: 0,
            _borrows: PhantomData,
        }
    }
}

impl<'a, S, D> Io<'a, S, D, true> {
    /// `src` rotated into `dst`, whose rows are `dst_stride` elements apart.
    #[inline(always)]
    pub(crate) fn into(src: &'a [S], dst: &'a mut [D], dst_stride: usize) -> Self {
        Io {
            src: src.as_ptr(),
            dst: dst.as_mut_ptr(),
            src_len: src.len(),
            dst_len: dst.len(),
            dst_stride,
            _borrows: PhantomData,
        }
    }
}

impl<S, D, const INTO: bool> Io<'_, S, D, INTO> {
    /// The pointers, and the destination's row stride for `span`. In place both are one
    /// value (`S` is `D` there), so the kernels compute each address once for the load and
    /// the store: fewer instructions a row on wasm32, where an address is several (run
    /// `python3 scripts/wasm_loops.py` to count them, `python3 scripts/wasm_bench.py` to
    /// time them). Only there: x86_64's prefetching kernels measured slower with one
    /// pointer on rows from memory (`cargo bench -p rope-simd-benches --bench rope --
    /// prefill4096/bf16/hd256`), and on aarch64 the cycle model (`bash
    /// scripts/arm_cycles.sh`) chained each row's loads behind the previous row's
    /// post-indexed stores, a dependency it cannot tell from a real one.
    #[inline(always)]
    pub(crate) fn parts(&self, span: &Span) -> (*const S, *mut D, usize) {
        match INTO {
            true => (self.src, self.dst, self.dst_stride),
            false if cfg!(target_arch = "wasm32") => {
                (self.dst.cast_const().cast::<S>(), self.dst, span.stride)
            }
            false => (self.src, self.dst, span.stride),
        }
    }

    /// The lengths of the source and the destination, in elements.
    #[inline(always)]
    pub(crate) fn lens(&self) -> (usize, usize) {
        (self.src_len, self.dst_len)
    }

    /// Checks that `span` lies within both buffers and `cos`/`sin` (a bug in this crate
    /// otherwise: callers validate all user input first).
    #[inline(always)]
    pub(crate) fn assert_fits(&self, span: &Span, cos: &[f32], sin: &[f32]) {
        span.assert_fits(self.src_len, cos, sin);
        if INTO {
            let stride = self.dst_stride;
            Span { stride, ..*span }.assert_fits(self.dst_len, cos, sin);
        }
    }

    /// The scalar kernel over `span`'s rows from row `first_row` (their pairs relative
    /// to the rows' starts, as in `span`). The kernels are safe code over the buffers'
    /// slices, and check that the span fits them (a bug in this crate otherwise).
    #[inline(always)]
    pub(crate) fn scalar(&mut self, first_row: usize, span: &Span, cos: &[f32], sin: &[f32])
    where
        S: Element,
        D: Element,
    {
        let from = first_row * span.stride;
        match INTO {
            false => {
                // SAFETY: in place, `dst` is the buffer of `dst_len` elements that
                // `in_place` borrowed (`S == D`), and nothing else refers to it now.
                let x = unsafe { core::slice::from_raw_parts_mut(self.dst, self.dst_len) };
                kernel::scalar(&mut x[from..], span, cos, sin)
            }
            true => {
                let stride = self.dst_stride;
                // SAFETY: the two buffers `into` borrowed, which do not overlap.
                let (src, dst) = unsafe {
                    (
                        core::slice::from_raw_parts(self.src, self.src_len),
                        core::slice::from_raw_parts_mut(self.dst, self.dst_len),
                    )
                };
                let to = first_row * stride;
                kernel::out_of_place(&src[from..], &mut dst[to..], span, stride, cos, sin)
            }
        }
    }
}
