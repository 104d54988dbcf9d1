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

        #[target_feature(enable = $feats)]
        unsafe fn rotate_tf<E: Element>(x: &mut [E], span: &Span, cos: &[f32], sin: &[f32]) {
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

        /// Out-of-place rotation (see `generic::rotate_into`).
        ///
        /// # Safety
        /// The CPU and OS must support this module's features.
        #[target_feature(enable = $feats)]
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
}
