//! Widening to f32 and rounding from f32, a vector at a time (the scalar conversions
//! take each slice's tail).

use super::vector::{SimdElement, Vector};

/// Widen `src` into `dst` (same length), `V::N` elements at a time, exactly.
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
    let body = src.len() / V::N * V::N;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both slices; the ISA is supported (caller).
        unsafe { E::load::<V>(sp.add(i)).store(dp.add(i)) };
        i += V::N;
    }
    for (d, s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = s.to_f32();
    }
}

/// Round `src` into `dst` (same length) to nearest even, `V::N` elements at a time.
///
/// # Safety
/// The CPU must support `V`'s ISA. Lengths are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn narrow<V: Vector, E: crate::Element>(src: &[f32], dst: &mut [E]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "rope-simd internal error: narrow lengths"
    );
    let body = src.len() / V::N * V::N;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both slices; the ISA is supported (caller).
        unsafe { E::store(V::load(sp.add(i)), dp.add(i)) };
        i += V::N;
    }
    for (d, s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = E::from_f32(*s);
    }
}
