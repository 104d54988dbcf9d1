//! Widening to f32 and rounding from f32, a vector at a time (the scalar conversions
//! take each slice's tail).

use super::vector::{put, SimdElement, Vector};

/// Widen `src` into `dst` (same length), `V::N` elements at a time, exactly (a copy of
/// f32).
///
/// # Safety
/// The CPU must support `V`'s ISA. Lengths are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn widen<V: Vector, E: crate::Element>(src: &[E], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "rope-simd internal error: widen lengths"
    );
    // SAFETY: `dst` is valid for `src.len()` writes (asserted); forwarded from the caller.
    unsafe { widen_to::<V, E>(src, dst.as_mut_ptr()) }
}

/// [`widen`] into `src.len()` f32 at `dp`, which may be uninitialized.
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
    for (d, s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = E::from_f32(*s);
    }
}
