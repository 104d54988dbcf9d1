//! Widening to f32 and rounding from f32, a vector at a time (the scalar conversions
//! take each slice's tail), and the jobs that run them: over one slice ([`Widen`],
//! [`Narrow`]) and over blocks of rows ([`Convert`]).

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
    // The tail inline, not a call of `plain` as `narrow`'s: with the call, f32 into f32
    // out of place measured a tenth slower on wasm32 (Node, both modules in one process;
    // `docs/design.md`, "Out of place").
    for (i, s) in src.iter().enumerate().skip(body) {
        // SAFETY: `i < len` (caller).
        unsafe { dp.add(i).write(s.to_f32()) };
    }
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
    checked(src.len(), dst.len());
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
    if body < src.len() {
        // SAFETY: `dst[body..]` holds `src.len() - body` elements.
        unsafe { plain(&src[body..], dst[body..].as_mut_ptr()) };
    }
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
/// Made only by a caller that promises its runs lie within two buffers that do not
/// overlap ([`Convert::new`]: the through-f32 path, `through_f32.rs`), so running it
/// reads and writes only there.
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
        for r in 0..self.rows {
            for (at, len) in self.segs.into_iter().filter(|s| s.1 > 0) {
                // SAFETY: within the buffers' runs, which do not overlap (the type's
                // doc); the ISA is supported (caller); with `NT` every vector store is
                // 16-byte aligned (`new`).
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
                        plain(from, to);
                    }
                }
            }
        }
    }
}

/// Widening a slice to f32 ([`Isa::widen`]; a copy for f32). A job of its own, not a
/// one-row [`Convert`]: a decode step converts V a head at a time, and through
/// `Convert`'s loop over rows and runs it measured a few percent slower (`cargo bench -p
/// rope-simd-benches --bench rope -- decode_step`).
///
/// [`Isa::widen`]: super::dispatch::Isa::widen
pub(crate) struct Widen<'a, E> {
    pub src: &'a [E],
    pub dst: &'a mut [f32],
}

impl<E: Element> Job for Widen<'_, E> {
    type Out = ();
    const BF16: bool = false; // widening bf16 is a shift on every ISA
    fn scalar(self) {
        let len = checked(self.src.len(), self.dst.len());
        // SAFETY: `dst` holds `len` elements, and a `&mut` does not overlap `src`.
        unsafe { plain(&self.src[..len], self.dst.as_mut_ptr()) }
    }
    #[inline(always)]
    unsafe fn simd<V: Vector>(self) {
        let len = checked(self.src.len(), self.dst.len());
        // SAFETY: as above; the ISA is supported (caller).
        unsafe { widen_to::<V, E>(&self.src[..len], self.dst.as_mut_ptr()) }
    }
}

/// Rounding a slice from f32 to nearest even ([`Isa::narrow`]; a copy for f32), a job of
/// its own like [`Widen`].
///
/// [`Isa::narrow`]: super::dispatch::Isa::narrow
pub(crate) struct Narrow<'a, E> {
    pub src: &'a [f32],
    pub dst: &'a mut [E],
}

impl<E: Element> Job for Narrow<'_, E> {
    type Out = ();
    const BF16: bool = E::IS_BF16;
    fn scalar(self) {
        let len = checked(self.src.len(), self.dst.len());
        // SAFETY: `dst` holds `len` elements, and a `&mut` does not overlap `src`.
        unsafe { plain(&self.src[..len], self.dst.as_mut_ptr()) }
    }
    #[inline(always)]
    unsafe fn simd<V: Vector>(self) {
        // SAFETY: the ISA is supported (caller); `narrow` checks the lengths.
        unsafe { narrow::<V, E, false>(self.src, self.dst) }
    }
}

/// The common length of a conversion's two slices (a bug in this crate otherwise;
/// `assert!`, not `assert_eq!`, whose message formats the lengths: the code to print
/// integers on a microcontroller, `bash scripts/sizes.sh`, `c_firmware_flash`).
#[inline(always)]
fn checked(src: usize, dst: usize) -> usize {
    assert!(src == dst, "rope-simd internal error: conversion lengths");
    src
}

/// `from` converted by the scalar conversions into `from.len()` elements at `to`, which
/// may be uninitialized. Not inlined: one copy per pair of types serves the scalar jobs
/// and every ISA's rounding tails (LLVM vectorizes it, and inlined it was a copy in each
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
