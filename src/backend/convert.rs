//! Widening to f32 and rounding from f32, a vector at a time (the scalar conversions
//! take each slice's tail), and the job that runs them over blocks of rows.

use core::marker::PhantomData;

use super::dispatch::Job;
use super::vector::{put, SimdElement, Vector};
use crate::element::Element;

/// Widen `src` into `src.len()` f32 at `dp`, which may be uninitialized, `V::N` elements
/// at a time, exactly (a copy of f32).
///
/// # Safety
/// The CPU must support `V`'s ISA; `dp` is valid for `src.len()` writes and does not
/// overlap `src`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn widen_to<V: Vector, E: crate::Element>(src: &[E], dp: *mut f32) {
    if let Some(f) = E::as_f32(src) {
        // SAFETY: forwarded from the caller.
        return unsafe { dp.copy_from_nonoverlapping(f.as_ptr(), f.len()) };
    }
    let body = src.len() / V::N * V::N;
    let sp = src.as_ptr();
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both; the ISA is supported (caller).
        unsafe { E::load::<V>(sp.add(i)).store(dp.add(i)) };
        i += V::N;
    }
    // SAFETY: `body <= len` and `dp` is valid for `len` writes (caller).
    unsafe { plain(&src[body..], dp.add(body)) };
}

/// Round `src` into `dst` (same length) to nearest even, `V::N` elements at a time (a
/// copy into f32); with
/// `NT`, the vector stores stream (the caller fences once its whole call is written).
///
/// # Safety
/// The CPU must support `V`'s ISA; with `NT`, `dst` is 16-byte aligned. Lengths are
/// checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn narrow<V: Vector, E: crate::Element, const NT: bool>(
    src: &[f32],
    dst: &mut [E],
) {
    assert_eq!(
        src.len(),
        dst.len(),
        "rope-simd internal error: narrow lengths"
    );
    if let Some(f) = E::as_f32_mut(dst) {
        return f.copy_from_slice(src);
    }
    let body = src.len() / V::N * V::N;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both slices; the ISA is supported (caller); with
        // `NT`, `dp` is 16-byte aligned and so is each store (`N` 16-bit values are a
        // multiple of 16 bytes).
        unsafe { put::<V, E, NT>(V::load(sp.add(i)), dp.add(i)) };
        i += V::N;
    }
    // SAFETY: `dst[body..]` holds `src.len() - body` elements.
    unsafe { plain(&src[body..], dst[body..].as_mut_ptr()) };
}

/// Row blocks to convert, the element types erased (strides in elements): source, its
/// stride, destination, its stride, rows and runs (see [`Convert`]).
pub(crate) struct Block {
    pub src: *const u8,
    pub src_stride: usize,
    pub dst: *mut u8,
    pub dst_stride: usize,
    pub rows: usize,
    pub segs: [(usize, usize); 2],
}

/// Convert `rows` rows of `segs` (offset, length) runs, row `r`'s from `src + r *
/// src_stride` to `dst + r * dst_stride`: widening (`D` is f32, exactly) or rounding (`S`
/// is f32, to nearest even; with `NT` the vector stores stream, every one 16-byte
/// aligned).
///
/// Made only from two slices it borrows ([`Convert::slices`]) or by a caller that
/// promises its runs lie within two buffers that do not overlap ([`Convert::new`]), so
/// running it reads and writes only there. The jobs behind [`Isa::widen`] and
/// [`Isa::narrow`] (one row) and the through-f32 path's (`through_f32.rs`): one
/// instantiation for both.
///
/// [`Isa::widen`]: super::dispatch::Isa::widen
/// [`Isa::narrow`]: super::dispatch::Isa::narrow
pub(crate) struct Convert<'a, S, D, const NT: bool> {
    src: *const S,
    src_stride: usize,
    dst: *mut D,
    dst_stride: usize,
    rows: usize,
    segs: [(usize, usize); 2],
    _borrows: PhantomData<(&'a [S], &'a mut [D])>,
}

impl<S, D, const NT: bool> Convert<'_, S, D, NT> {
    /// The conversion of `block`.
    ///
    /// # Safety
    /// `block`'s pointers are of `S` and `D` elements, every run of its rows lies within
    /// the buffer each points at, the two do not overlap, and nothing else refers to the
    /// destination's until the job has run; with `NT`, every vector store it makes is
    /// 16-byte aligned.
    pub(crate) unsafe fn new(block: Block) -> Self {
        Convert {
            src: block.src.cast::<S>(),
            src_stride: block.src_stride,
            dst: block.dst.cast::<D>(),
            dst_stride: block.dst_stride,
            rows: block.rows,
            segs: block.segs,
            _borrows: PhantomData,
        }
    }
}

impl<'a, S, D> Convert<'a, S, D, false> {
    /// `src` converted into `dst`, one row of their common length.
    pub(crate) fn slices(src: &'a [S], dst: &'a mut [D]) -> Self {
        assert_eq!(
            src.len(),
            dst.len(),
            "rope-simd internal error: conversion lengths"
        );
        Convert {
            src: src.as_ptr(),
            src_stride: 0,
            dst: dst.as_mut_ptr(),
            dst_stride: 0,
            rows: 1,
            segs: [(0, src.len()), (0, 0)],
            _borrows: PhantomData,
        }
    }
}

impl<S: Element, D: Element, const NT: bool> Job for Convert<'_, S, D, NT> {
    type Out = ();
    // Widening bf16 is a shift on every ISA; only rounding to bf16 differs.
    const BF16: bool = D::IS_BF16;
    fn scalar(self) {
        for r in 0..self.rows {
            for (at, len) in self.segs {
                // SAFETY: within the buffers' runs, which do not overlap (the type's
                // doc).
                unsafe {
                    let from =
                        core::slice::from_raw_parts(self.src.add(r * self.src_stride + at), len);
                    plain(from, self.dst.add(r * self.dst_stride + at));
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn simd<V: Vector>(self) {
        // One loop over every row's runs, so that the conversion's code is there once
        // (with a loop over the two runs inside, LLVM made a copy for each).
        for j in 0..2 * self.rows {
            let (r, (at, len)) = (j / 2, self.segs[j % 2]);
            if len == 0 {
                continue;
            }
            // SAFETY: within the buffers' runs, which do not overlap (the type's doc);
            // the ISA is supported (caller); with `NT` every vector store is 16-byte
            // aligned (`new`).
            unsafe {
                let from = core::slice::from_raw_parts(self.src.add(r * self.src_stride + at), len);
                let to = self.dst.add(r * self.dst_stride + at);
                if D::IS_F32 {
                    widen_to::<V, S>(from, to.cast::<f32>());
                } else if let Some(f) = S::as_f32(from) {
                    narrow::<V, D, NT>(f, core::slice::from_raw_parts_mut(to, len));
                } else {
                    // Neither is f32: not built so; the plain conversion.
                    plain(from, to);
                }
            }
        }
    }
}

/// `from` converted by the scalar conversions into `from.len()` elements at `to`, which
/// may be uninitialized. Not inlined: one copy per pair of types serves the scalar jobs
/// and every ISA's slice tails (LLVM vectorizes it, and inlined it was a copy in each
/// ISA's conversion and in each of [`Convert`]'s runs; `bash scripts/sizes.sh`).
///
/// # Safety
/// `to` is valid for `from.len()` writes and does not overlap `from`.
#[inline(never)]
unsafe fn plain<S: Element, D: Element>(from: &[S], to: *mut D) {
    for (i, s) in from.iter().enumerate() {
        // SAFETY: `i < from.len()` (caller).
        unsafe { to.add(i).write(D::from_f32(s.to_f32())) };
    }
}
