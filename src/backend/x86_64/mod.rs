//! x86_64: AVX2 and AVX-512F kernels, chosen at run time.
//!
//! Detection is plain CPUID + XGETBV (no `std` needed): a feature counts only if the CPU
//! has it *and* the OS saves the registers it uses (XCR0). The answer is cached in one
//! atomic; features on at compile time (`-C target-cpu=native`) skip detection.

/// The entry points of one ISA's kernels, all instantiations of the generic code in
/// `#[target_feature]` functions: rotation and 16-bit conversion (safe, checking the
/// cached feature flag and falling back to the scalar code, which backend checks make
/// unreachable), out-of-place rotation and the per-token cos/sin loops (`unsafe`; the
/// dispatcher in `backend` checks the flag).
macro_rules! isa_entries {
    ($v:ty, $feats:literal, $has:path) => {
        isa_entries!(kernels $v, $feats, $has);
        isa_entries!(trig $feats);
    };
    (kernels $v:ty, $feats:literal, $has:path) => {
        use crate::backend::generic;
        use crate::kernel::Span;
        use crate::Element;
        use half::{bf16, f16};

        /// In-place rotation (see `generic::rotate`); never inlined, since the AVX-512
        /// kernels call AVX2's for their row tails (`Vector::rotate_tails`).
        ///
        /// # Safety
        /// The CPU and OS must support this module's features.
        #[target_feature(enable = $feats)]
        #[inline(never)]
        pub(crate) unsafe fn rotate_tf<E: Element>(x: &mut [E], span: &Span, cos: &[f32], sin: &[f32]) {
            // SAFETY: this function's features are the ones the vector type needs.
            unsafe { generic::rotate::<$v, E>(x, span, cos, sin) }
        }

        fn rotate<E: Element>(x: &mut [E], span: &Span, cos: &[f32], sin: &[f32]) {
            if $has() {
                // SAFETY: the CPU and OS support the features (checked just above).
                unsafe { rotate_tf(x, span, cos, sin) }
            } else {
                crate::kernel::scalar(x, span, cos, sin)
            }
        }

        #[target_feature(enable = $feats)]
        unsafe fn widen_tf<E: Element>(src: &[E], dst: &mut [f32]) {
            // SAFETY: this function's features are the ones the vector type needs.
            unsafe { generic::widen::<$v, E>(src, dst) }
        }

        fn widen<E: Element>(src: &[E], dst: &mut [f32]) {
            if $has() {
                // SAFETY: the CPU and OS support the features (checked just above).
                unsafe { widen_tf(src, dst) }
            } else {
                dst.iter_mut().zip(src).for_each(|(d, s)| *d = s.to_f32());
            }
        }

        #[target_feature(enable = $feats)]
        unsafe fn narrow_tf<E: Element>(src: &[f32], dst: &mut [E]) {
            // SAFETY: this function's features are the ones the vector type needs.
            unsafe { generic::narrow::<$v, E>(src, dst) }
        }

        fn narrow<E: Element>(src: &[f32], dst: &mut [E]) {
            if $has() {
                // SAFETY: the CPU and OS support the features (checked just above).
                unsafe { narrow_tf(src, dst) }
            } else {
                dst.iter_mut()
                    .zip(src)
                    .for_each(|(d, s)| *d = E::from_f32(*s));
            }
        }

        pub(crate) fn rotate_f32(x: &mut [f32], span: &Span, cos: &[f32], sin: &[f32]) {
            rotate(x, span, cos, sin)
        }
        pub(crate) fn rotate_f16(x: &mut [f16], span: &Span, cos: &[f32], sin: &[f32]) {
            rotate(x, span, cos, sin)
        }
        pub(crate) fn rotate_bf16(x: &mut [bf16], span: &Span, cos: &[f32], sin: &[f32]) {
            rotate(x, span, cos, sin)
        }
        pub(crate) fn widen_f16(src: &[f16], dst: &mut [f32]) {
            widen(src, dst)
        }
        pub(crate) fn widen_bf16(src: &[bf16], dst: &mut [f32]) {
            widen(src, dst)
        }
        pub(crate) fn narrow_f16(src: &[f32], dst: &mut [f16]) {
            narrow(src, dst)
        }
        pub(crate) fn narrow_bf16(src: &[f32], dst: &mut [bf16]) {
            narrow(src, dst)
        }

        /// Out-of-place rotation (see `generic::rotate_into`); never inlined, as
        /// `rotate_tf`.
        ///
        /// # Safety
        /// The CPU and OS must support this module's features.
        #[target_feature(enable = $feats)]
        #[inline(never)]
        pub(crate) unsafe fn rotate_into<S: Element, D: Element>(
            src: &[S],
            dst: &mut [D],
            span: &Span,
            dst_stride: usize,
            cos: &[f32],
            sin: &[f32],
        ) {
            // SAFETY: this function's features are the ones the vector type needs.
            unsafe { generic::rotate_into::<$v, S, D>(src, dst, span, dst_stride, cos, sin) }
        }
    };
    (trig $feats:literal) => {
        /// The per-token cos/sin loop compiled with these features (it vectorizes; no FMA,
        /// so the bits are those of the scalar build).
        ///
        /// # Safety
        /// The CPU and OS must support this module's features.
        #[target_feature(enable = $feats)]
        pub(crate) unsafe fn cos_sin_batch(
            position: u64,
            hi: &[f64],
            lo: &[f64],
            scale: f64,
            cos: &mut [f32],
            sin: &mut [f32],
        ) {
            crate::trig::cos_sin_batch(position, hi, lo, scale, cos, sin)
        }

        /// The compact table's angle addition compiled with these features (no FMA).
        ///
        /// # Safety
        /// The CPU and OS must support this module's features.
        #[target_feature(enable = $feats)]
        pub(crate) unsafe fn angle_sum(
            coarse: [&[f64]; 2],
            fine: [&[f64]; 2],
            scale: f64,
            cos: &mut [f32],
            sin: &mut [f32],
        ) {
            crate::trig::angle_sum(coarse, fine, scale, cos, sin)
        }
    };
}

pub(crate) mod avx2;
pub(crate) mod avx512;

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv, CpuidResult};
use core::sync::atomic::{AtomicU8, Ordering};

const AVX2: u8 = 1;
const AVX512: u8 = 2;
const AVX512_BF16: u8 = 4;
const DONE: u8 = 0x80;

static FEATURES: AtomicU8 = AtomicU8::new(0);

/// Whether the AVX2 kernels (AVX, AVX2, F16C) run here.
#[inline]
pub(crate) fn has_avx2() -> bool {
    if cfg!(all(target_feature = "avx2", target_feature = "f16c")) {
        return true;
    }
    features() & AVX2 != 0
}

/// Whether the AVX-512 kernels (AVX-512F, plus the AVX2 set) run here.
#[inline]
pub(crate) fn has_avx512() -> bool {
    if cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx2",
        target_feature = "f16c"
    )) {
        return true;
    }
    features() & AVX512 != 0
}

/// Whether the AVX-512 kernels with AVX512_BF16 narrowing run here (they also use
/// AVX-512DQ's `vfpclassps` and AVX-512BW's `vpermw`, which every CPU with AVX512_BF16
/// has).
#[inline]
pub(crate) fn has_avx512_bf16() -> bool {
    if cfg!(all(
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512dq",
        target_feature = "avx512bf16",
        target_feature = "avx2",
        target_feature = "f16c"
    )) {
        return true;
    }
    features() & AVX512_BF16 != 0
}

#[inline]
fn features() -> u8 {
    if cfg!(miri) {
        return DONE; // Miri runs no CPUID; it checks the scalar and portable paths
    }
    let f = FEATURES.load(Ordering::Relaxed);
    if f & DONE != 0 {
        return f;
    }
    let f = detect() | DONE;
    FEATURES.store(f, Ordering::Relaxed); // racing threads store the same value
    f
}

fn cpuid(leaf: u32, sub: u32) -> CpuidResult {
    #[allow(unused_unsafe)] // `__cpuid_count` is safe on newer compilers
    // SAFETY: CPUID exists on every x86_64 CPU.
    unsafe {
        if sub == 0 {
            __cpuid(leaf)
        } else {
            __cpuid_count(leaf, sub)
        }
    }
}

#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: the caller checked CPUID.1:ECX.OSXSAVE, so XGETBV is enabled.
    unsafe { _xgetbv(0) }
}

fn detect() -> u8 {
    let max_leaf = cpuid(0, 0).eax;
    let l1 = cpuid(1, 0);
    let bit = |r: u32, b: u32| r & (1 << b) != 0;
    let (osxsave, avx, f16c) = (bit(l1.ecx, 27), bit(l1.ecx, 28), bit(l1.ecx, 29));
    if !(osxsave && avx) || max_leaf < 7 {
        return 0;
    }
    // SAFETY: OSXSAVE is set, so XGETBV may be executed.
    let xcr0 = unsafe { xcr0() };
    let ymm = xcr0 & 0b110 == 0b110; // SSE and AVX state
    let zmm = xcr0 & 0b1110_0110 == 0b1110_0110; // plus opmask, ZMM0-15 high, ZMM16-31
    let l7 = cpuid(7, 0);
    let avx2 = ymm && f16c && bit(l7.ebx, 5);
    let avx512f = avx2 && zmm && bit(l7.ebx, 16);
    // AVX512_BF16: CPUID.(EAX=7, ECX=1):EAX bit 5 (leaf 7 reports its last subleaf in EAX),
    // with AVX-512DQ and AVX-512BW (CPUID.7:EBX bits 17 and 30).
    let dq_bw = bit(l7.ebx, 17) && bit(l7.ebx, 30);
    let bf16 = avx512f && dq_bw && l7.eax >= 1 && bit(cpuid(7, 1).eax, 5);
    (if avx2 { AVX2 } else { 0 })
        | (if avx512f { AVX512 } else { 0 })
        | (if bf16 { AVX512_BF16 } else { 0 })
}

#[cfg(all(test, feature = "std", not(miri)))]
mod tests {
    use crate::kernel::Span;
    use std::{vec, vec::Vec};

    /// Our no_std detection agrees with the standard library's.
    #[test]
    fn detection_agrees_with_std() {
        let std_avx2 =
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("f16c");
        let std_avx512 = std_avx2 && std::is_x86_feature_detected!("avx512f");
        let std_bf16 = std_avx512
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512bf16");
        assert_eq!(super::has_avx2(), std_avx2);
        assert_eq!(super::has_avx512(), std_avx512);
        assert_eq!(super::has_avx512_bf16(), std_bf16);
    }

    /// Random bits, and every 5th element one of the values that test rounding and
    /// special cases: signed zeros, subnormals, infinities, NaNs with payloads.
    fn data<E: Copy>(n: usize, seed: &mut u64, from_bits: fn(u64) -> E, special: &[u64]) -> Vec<E> {
        (0..n)
            .map(|i| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                let bits = if i % 5 == 4 {
                    special[(*seed % special.len() as u64) as usize]
                } else {
                    *seed >> 11
                };
                from_bits(bits)
            })
            .collect()
    }

    /// An out-of-place kernel.
    type Into<E> = unsafe fn(&[E], &mut [E], &Span, usize, &[f32], &[f32]);
    /// An element type's bits, both ways.
    type Bits<E> = (fn(u64) -> E, fn(E) -> u64);

    /// One kernel against the scalar one, bit for bit, in place and (16-bit to the same
    /// type) out of place, on every head size of the backend sweep, whole and partial
    /// rotary, both layouts, both directions, one and three rows.
    fn check<E: crate::Element>(
        name: &str,
        kernel: fn(&mut [E], &Span, &[f32], &[f32]),
        into: Into<E>,
        (from_bits, to_bits): Bits<E>,
        special: &[u64],
    ) {
        // NaNs compare as NaN: their payloads are not specified (the compiler may swap
        // the operands of an add, and with two NaN operands x86 keeps the first).
        let bits = |v: &[E]| {
            v.iter()
                .map(|&e| {
                    if e.to_f32().is_nan() {
                        u64::MAX
                    } else {
                        to_bits(e)
                    }
                })
                .collect::<Vec<_>>()
        };
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        for hd in [
            2usize, 4, 6, 8, 14, 16, 18, 30, 32, 62, 64, 66, 96, 128, 256, 512,
        ] {
            for rotary in [hd, (hd / 2) & !1].into_iter().filter(|&r| r > 0) {
                let n = rotary / 2;
                // Angles in [0, 100) rad, every fifth 0 (cos 1, sin 0).
                let angles = data(n, &mut seed, |b| (b % 100_000) as f64 * 0.001, &[0]);
                let mut cos: Vec<f32> = angles.iter().map(|&a: &f64| a.cos() as f32).collect();
                let mut sin: Vec<f32> = angles.iter().map(|&a: &f64| a.sin() as f32).collect();
                for i in 0..16 {
                    let (interleaved, inverse) = (i & 1 == 1, i & 2 == 2);
                    let (rows, ties) = (1 + (i & 4) / 2, i & 8 == 8);
                    if ties {
                        // cos 1.5, sin 0: a 16-bit value with an odd last significand
                        // bit, times 1.5, lies halfway between two 16-bit values.
                        cos.fill(1.5);
                        sin.fill(0.0);
                    }
                    let span = Span {
                        rows,
                        stride: hd,
                        first: 0,
                        second: n,
                        n,
                        interleaved,
                        inverse,
                        stream: false,
                        // A hint, wherever it points: both ways give the same bits.
                        prefetch: ties,
                    };
                    let x = data(rows * hd, &mut seed, from_bits, special);
                    let (mut want, mut got) = (x.clone(), x.clone());
                    crate::kernel::scalar(&mut want, &span, &cos, &sin);
                    kernel(&mut got, &span, &cos, &sin);
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "{name} hd {hd} rotary {rotary} {span:?}"
                    );
                    let dst_stride = hd + 3;
                    let mut want = vec![from_bits(0); rows * dst_stride];
                    let mut got = want.clone();
                    crate::kernel::scalar_into(&x, &mut want, &span, dst_stride, &cos, &sin);
                    // SAFETY: the caller checked the CPU has the kernel's features.
                    unsafe { into(&x, &mut got, &span, dst_stride, &cos, &sin) };
                    assert_eq!(bits(&got), bits(&want), "{name} into, hd {hd} {span:?}");
                }
            }
        }
    }

    /// The AVX-512 kernels without AVX512_BF16 (what CPUs from Skylake-SP to Tiger Lake
    /// run) give the scalar kernel's bits. `Backend::Avx512` takes the AVX512_BF16 ones
    /// wherever those exist, so on such a CPU (this crate's test machine) this is the
    /// only test of these; the others are checked too.
    #[test]
    fn every_x86_kernel_matches_scalar() {
        use super::{avx2, avx512};
        use half::{bf16, f16};
        let bf16_special: &[u64] = &[
            0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x7F80, 0xFF80, 0x7FC1, 0xFF81, 0x3F80, 0x4000,
        ];
        let f16_special: &[u64] = &[
            0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7C00, 0xFC00, 0x7E01, 0xFC01, 0x3C00, 0x7BFF,
        ];
        let f32_special: &[u64] = &[
            0,
            0x8000_0000,
            1,
            0x807F_FFFF,
            0x0080_0000,
            0x7F80_0000,
            0xFF80_0000,
            0x7FC0_0001,
            0xFF80_0001,
            0x3F80_0000,
        ];
        let bf: Bits<bf16> = (|b| bf16::from_bits(b as u16), |v| u64::from(v.to_bits()));
        let hf: Bits<f16> = (|b| f16::from_bits(b as u16), |v| u64::from(v.to_bits()));
        let ff: Bits<f32> = (|b| f32::from_bits(b as u32), |v| u64::from(v.to_bits()));
        if super::has_avx512() {
            check(
                "avx512 bf16",
                avx512::rotate_bf16,
                avx512::rotate_into::<bf16, bf16>,
                bf,
                bf16_special,
            );
            check(
                "avx512 f16",
                avx512::rotate_f16,
                avx512::rotate_into::<f16, f16>,
                hf,
                f16_special,
            );
        }
        if super::has_avx512_bf16() {
            use avx512::with_bf16 as w;
            check(
                "avx512_bf16 bf16",
                w::rotate_bf16,
                w::rotate_into::<bf16, bf16>,
                bf,
                bf16_special,
            );
        }
        if super::has_avx2() {
            check(
                "avx2 bf16",
                avx2::rotate_bf16,
                avx2::rotate_into::<bf16, bf16>,
                bf,
                bf16_special,
            );
            check(
                "avx2 f16",
                avx2::rotate_f16,
                avx2::rotate_into::<f16, f16>,
                hf,
                f16_special,
            );
            check(
                "avx2 f32",
                avx2::rotate_f32,
                avx2::rotate_into::<f32, f32>,
                ff,
                f32_special,
            );
        }
    }
}
