//! The element types a buffer may hold: `f32`, `half::f16`, `half::bf16`.
//!
//! 16-bit values are widened to f32 (exactly), rotated in f32, and rounded back to the
//! nearest even 16-bit value once, with `half`'s bits (scalar conversions of our own, see
//! [`soft`], or bit-identical hardware and lane conversions in the SIMD backends): NaN
//! stays NaN, infinities and subnormals are exact.

use half::{bf16, f16};

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
    /// The bits' integer type: `u32` for f32, `u16` for f16 and bf16.
    type Bits: Copy + Eq + core::fmt::Debug;
    /// The value's bits.
    ///
    /// ```
    /// use rope_simd::{bf16, Element};
    /// assert_eq!(Element::to_bits(bf16::from_f32(1.0)), 0x3F80);
    /// assert_eq!(<f32 as Element>::from_bits(0x3F80_0000), 1.0);
    /// ```
    fn to_bits(self) -> Self::Bits;
    /// The value with these bits.
    fn from_bits(bits: Self::Bits) -> Self;
}

pub(crate) mod private {
    use super::*;
    use crate::any_slice::{AnySlice, AnySliceMut};

    /// What the kernels need to know of an element type: its layout, and f32 views.
    pub trait Sealed: Sized {
        /// Which of the three types this is (the kernels pick loads and stores by it).
        const KIND: Kind;
        /// The values as f32, when they are f32 (no conversion needed).
        fn as_f32(_: &[Self]) -> Option<&[f32]> {
            None
        }
        /// The values as f32, when they are f32 (no conversion needed).
        fn as_f32_mut(_: &mut [Self]) -> Option<&mut [f32]> {
            None
        }
        /// The slice, its element type a value (for the driver's one copy of the
        /// out-of-place path, `any_slice.rs`).
        fn any(x: &[Self]) -> AnySlice<'_>;
        /// The slice, its element type a value.
        fn any_mut(x: &mut [Self]) -> AnySliceMut<'_>;
        /// The slice back, if it holds this type.
        fn from_any(x: AnySlice<'_>) -> Option<&[Self]>;
        /// The slice back, if it holds this type.
        fn from_any_mut(x: AnySliceMut<'_>) -> Option<&mut [Self]>;
    }

    /// The three element types. f16 and bf16 are transparent `u16`s.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        F32,
        F16,
        Bf16,
    }

    /// The four conversions between a slice of `Self` and the `$variant` of
    /// [`AnySlice`] / [`AnySliceMut`].
    macro_rules! any_slice_variant {
        ($variant:ident) => {
            fn any(x: &[Self]) -> AnySlice<'_> {
                AnySlice::$variant(x)
            }
            fn any_mut(x: &mut [Self]) -> AnySliceMut<'_> {
                AnySliceMut::$variant(x)
            }
            fn from_any(x: AnySlice<'_>) -> Option<&[Self]> {
                match x {
                    AnySlice::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn from_any_mut(x: AnySliceMut<'_>) -> Option<&mut [Self]> {
                match x {
                    AnySliceMut::$variant(x) => Some(x),
                    _ => None,
                }
            }
        };
    }

    impl Sealed for f32 {
        const KIND: Kind = Kind::F32;
        any_slice_variant!(F32);
        fn as_f32(x: &[Self]) -> Option<&[f32]> {
            Some(x)
        }
        fn as_f32_mut(x: &mut [Self]) -> Option<&mut [f32]> {
            Some(x)
        }
    }

    impl Sealed for f16 {
        const KIND: Kind = Kind::F16;
        any_slice_variant!(F16);
    }

    impl Sealed for bf16 {
        const KIND: Kind = Kind::Bf16;
        any_slice_variant!(Bf16);
    }
}

pub(crate) use private::Kind;

impl Element for f32 {
    const NAME: &'static str = "f32";
    type Bits = u32;
    #[inline(always)]
    fn to_bits(self) -> u32 {
        f32::to_bits(self)
    }
    #[inline(always)]
    fn from_bits(bits: u32) -> Self {
        f32::from_bits(bits)
    }
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
    type Bits = u16;
    #[inline(always)]
    fn to_bits(self) -> u16 {
        f16::to_bits(self)
    }
    #[inline(always)]
    fn from_bits(bits: u16) -> Self {
        f16::from_bits(bits)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        soft::f16_to_f32(self.to_bits())
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        f16::from_bits(soft::f32_to_f16(v))
    }
}

impl Element for bf16 {
    const NAME: &'static str = "bf16";
    type Bits = u16;
    #[inline(always)]
    fn to_bits(self) -> u16 {
        bf16::to_bits(self)
    }
    #[inline(always)]
    fn from_bits(bits: u16) -> Self {
        bf16::from_bits(bits)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        soft::bf16_to_f32(self.to_bits())
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        bf16::from_bits(soft::f32_to_bf16(v))
    }
}

/// Scalar 16-bit conversions with `half`'s bits for every input, the rounding done in
/// arithmetic rather than by a branch on the discarded bits.
///
/// `half`'s software conversions (used without `std`, or on a CPU without F16C) decide
/// rounding with a branch on the low bits, taken about half the time at random on real
/// data; with `std` on x86_64 it makes a call with a feature check per value instead.
/// Here only the rare classes (NaN, infinity, overflow, subnormal) branch, and the
/// formulas are those of the portable lanes (`backend/lanes.rs`); the scalar kernel is
/// faster so (`docs/design.md`, "Elsewhere"). Tests compare every 16-bit input, and in
/// x86_64 release builds every f32, with `half`.
pub(crate) mod soft {
    /// f16 bits to f32, as `half::f16::to_f32` (a NaN comes back quiet, payload kept).
    #[inline(always)]
    pub(crate) fn f16_to_f32(h: u16) -> f32 {
        let h = u32::from(h);
        let sign = (h & 0x8000) << 16;
        let em = h & 0x7FFF;
        let mag = if em < 0x0400 {
            // Zero and subnormal: em * 2^-24, exact in f32.
            (em as f32 * f32::from_bits(0x3380_0000)).to_bits()
        } else if em < 0x7C00 {
            // Normal: rebias the exponent (15 -> 127).
            (em << 13) + 0x3800_0000
        } else {
            // Infinity, NaN (made quiet).
            let quiet = if em > 0x7C00 { 0x0040_0000 } else { 0 };
            (em << 13) | 0x7F80_0000 | quiet
        };
        f32::from_bits(sign | mag)
    }

    /// f32 to f16 bits, to nearest even, as `half::f16::from_f32`.
    #[inline(always)]
    pub(crate) fn f32_to_f16(v: f32) -> u16 {
        let x = v.to_bits();
        let sign = (x >> 16) & 0x8000;
        let a = x & 0x7FFF_FFFF;
        let mag = if a < 0x3880_0000 {
            // Below 2^-14 (f16 subnormal or zero): adding 0.5 makes the FPU round at
            // the f16 subnormal ulp, 2^-24; the low bits are then the f16 bits.
            (f32::from_bits(a) + 0.5).to_bits() - 0x3F00_0000
        } else if a < 0x4780_0000 {
            // Normal: rebias, add half an ulp minus one plus the lowest kept bit, shift.
            // From 65520 up this carries into the exponent and gives infinity.
            (a - 0x3800_0000 + 0x0FFF + ((a >> 13) & 1)) >> 13
        } else if a <= 0x7F80_0000 {
            0x7C00 // 65536 and up, infinity
        } else {
            0x7E00 | ((a & 0x007F_FFFF) >> 13) // NaN: quiet, top payload bits kept
        };
        (sign | mag) as u16
    }

    /// bf16 bits to f32, as `half::bf16::to_f32` (a NaN comes back quiet).
    #[inline(always)]
    pub(crate) fn bf16_to_f32(b: u16) -> f32 {
        let quiet = if b & 0x7FFF > 0x7F80 { 0x0040 } else { 0 };
        f32::from_bits(u32::from(b | quiet) << 16)
    }

    /// f32 to bf16 bits, to nearest even, as `half::bf16::from_f32`.
    #[inline(always)]
    pub(crate) fn f32_to_bf16(v: f32) -> u16 {
        let x = v.to_bits();
        if x & 0x7FFF_FFFF > 0x7F80_0000 {
            return ((x >> 16) | 0x0040) as u16; // NaN: quiet, top payload bits kept
        }
        // Half an ulp minus one plus the lowest kept bit, then truncate: ties go to the
        // even neighbour. Cannot overflow: the largest non-NaN pattern is 0xFF80_0000.
        ((x + 0x7FFF + ((x >> 16) & 1)) >> 16) as u16
    }

    /// For the conversion tests: every f32 whose low 16 bits are one of the patterns that
    /// decide rounding (zero, one, just below/at/above half of an f16 or bf16 ulp, all
    /// ones, over a few middle bits), for every sign, exponent and top mantissa bits
    /// (every `step`-th of those), eight at a time (one per low pattern).
    #[cfg(test)]
    pub(crate) fn rounding_cases(step: usize) -> impl Iterator<Item = [u32; 8]> {
        const LOWS: [u32; 8] = [0, 1, 0x0FFF, 0x1000, 0x1001, 0x7FFF, 0x8000, 0xFFFF];
        const MIDS: [u32; 8] = [0, 0x10, 0x2000, 0x2010, 0x4000, 0x6000, 0x7FF0, 0xE000];
        (0..=u32::from(u16::MAX))
            .step_by(step)
            .flat_map(|top| MIDS.map(|mid| LOWS.map(|low| (top << 16) | ((mid | low) & 0xFFFF))))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use half::{bf16, f16};

        /// Every f16 and bf16 pattern widens to `half`'s f32 bits, NaN payloads included.
        #[test]
        fn widening_matches_half_for_every_input() {
            for b in (0..=u16::MAX).step_by(if cfg!(miri) { 61 } else { 1 }) {
                let (h, g) = (f16::from_bits(b).to_f32(), f16_to_f32(b));
                assert_eq!(g.to_bits(), h.to_bits(), "f16 {b:#06x}");
                let (h, g) = (bf16::from_bits(b).to_f32(), bf16_to_f32(b));
                assert_eq!(g.to_bits(), h.to_bits(), "bf16 {b:#06x}");
            }
        }

        fn check_narrowing(x: u32) {
            let v = f32::from_bits(x);
            assert_eq!(
                f32_to_f16(v),
                f16::from_f32(v).to_bits(),
                "f16 of {x:#010x}"
            );
            assert_eq!(
                f32_to_bf16(v),
                bf16::from_f32(v).to_bits(),
                "bf16 of {x:#010x}"
            );
        }

        /// Narrowing matches `half` on every rounding case (see [`rounding_cases`]).
        #[test]
        fn narrowing_matches_half_on_every_rounding_case() {
            for xs in rounding_cases(if cfg!(miri) { 997 } else { 1 }) {
                xs.into_iter().for_each(check_narrowing);
            }
        }

        /// Every one of the 2^32 f32 patterns narrows to `half`'s bits (about 10 s on
        /// two threads; run natively in release builds only).
        #[test]
        #[cfg(feature = "std")]
        #[cfg_attr(
            any(debug_assertions, miri, not(target_arch = "x86_64")),
            ignore = "2^32 inputs: x86_64 release builds only"
        )]
        fn narrowing_matches_half_for_every_f32() {
            std::thread::scope(|s| {
                for part in 0..2u32 {
                    s.spawn(move || {
                        for hi in (part << 14)..((part + 1) << 14) {
                            for lo in 0..=u32::from(u16::MAX) {
                                let x = (hi << 17) | (lo << 1);
                                check_narrowing(x);
                                check_narrowing(x | 1);
                            }
                        }
                    });
                }
            });
        }
    }
}
