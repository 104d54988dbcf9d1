//! The element types a buffer may hold: `f32`, `half::f16`, `half::bf16`.
//!
//! 16-bit values are widened to f32 (exactly), rotated in f32, and rounded back to the
//! nearest even 16-bit value once, with `half`'s conversions (or bit-identical hardware and
//! lane conversions in the SIMD backends): NaN stays NaN, infinities and subnormals are exact.

use half::{bf16, f16};

use crate::backend::Backend;
use crate::kernel::Span;

/// An element type that can be rotated: `f32`, [`half::f16`] or [`half::bf16`].
///
/// Sealed: the kernels are written for exactly these three.
pub trait Element: Copy + Send + Sync + 'static + private::Sealed {
    /// A short name for messages and reports: `"f32"`, `"f16"`, `"bf16"`.
    const NAME: &'static str;
    /// Widen to f32 (exact).
    fn to_f32(self) -> f32;
    /// Round from f32 to this type, to nearest even (exact for f32).
    fn from_f32(v: f32) -> Self;
}

pub(crate) mod private {
    use super::*;

    pub trait Sealed: Sized + crate::backend::generic::SimdElement {
        /// Run `backend`'s kernel for this element type over `span`.
        fn rotate(backend: Backend, x: &mut [Self], span: &Span, cos: &[f32], sin: &[f32]);
        /// Widen `src` into `dst` (same lengths) with `backend`'s conversion.
        fn widen(backend: Backend, src: &[Self], dst: &mut [f32]);
        /// Round `src` into `dst` (same lengths) with `backend`'s conversion.
        fn narrow(backend: Backend, src: &[f32], dst: &mut [Self]);
        /// The values as f32, when they are f32 (no conversion needed).
        fn as_f32(_: &[Self]) -> Option<&[f32]> {
            None
        }
        /// The values as f32, when they are f32 (no conversion needed).
        fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
            None
        }
    }

    impl Sealed for f32 {
        #[inline]
        fn rotate(backend: Backend, x: &mut [Self], span: &Span, cos: &[f32], sin: &[f32]) {
            (backend.kernels().f32)(x, span, cos, sin)
        }
        #[inline]
        fn widen(_: Backend, src: &[Self], dst: &mut [f32]) {
            dst.copy_from_slice(src)
        }
        #[inline]
        fn narrow(_: Backend, src: &[f32], dst: &mut [Self]) {
            dst.copy_from_slice(src)
        }
        fn as_f32(x: &[Self]) -> Option<&[f32]> {
            Some(x)
        }
        fn as_f32_mut(x: &mut [Self]) -> Option<&mut [f32]> {
            Some(x)
        }
    }

    macro_rules! sixteen {
        ($t:ty, $rotate:ident, $widen:ident, $narrow:ident) => {
            impl Sealed for $t {
                #[inline]
                fn rotate(backend: Backend, x: &mut [Self], span: &Span, cos: &[f32], sin: &[f32]) {
                    (backend.kernels().$rotate)(x, span, cos, sin)
                }
                #[inline]
                fn widen(backend: Backend, src: &[Self], dst: &mut [f32]) {
                    (backend.kernels().$widen)(src, dst)
                }
                #[inline]
                fn narrow(backend: Backend, src: &[f32], dst: &mut [Self]) {
                    (backend.kernels().$narrow)(src, dst)
                }
            }
        };
    }
    sixteen!(f16, f16, widen_f16, narrow_f16);
    sixteen!(bf16, bf16, widen_bf16, narrow_bf16);
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Element for f16 {
    const NAME: &'static str = "f16";
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        f16::from_f32(v)
    }
}

impl Element for bf16 {
    const NAME: &'static str = "bf16";
    #[inline(always)]
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
}
