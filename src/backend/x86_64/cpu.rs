//! x86_64 CPU detection, and the tokens that prove its answer.
//!
//! Plain CPUID + XGETBV, so that `no_std` builds detect too: a feature counts only if the
//! CPU has it *and* the OS saves the registers it uses (XCR0). The answer is cached in
//! one atomic; features on at compile time (`-C target-cpu=native`) skip detection. A
//! token ([`HasAvx2`], [`HasAvx512`], [`HasAvx512Bf16`]) can only be made by this file,
//! after detection said yes: holding one is what lets `dispatch` call that ISA's
//! `#[target_feature]` code.

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv, CpuidResult};
use core::sync::atomic::{AtomicU8, Ordering};

/// Proof that the AVX2 kernels (AVX, AVX2, F16C) run here.
#[derive(Clone, Copy, Debug)]
pub struct HasAvx2(());

/// Proof that the AVX-512 kernels (AVX-512F, plus AVX2's set) run here.
#[derive(Clone, Copy, Debug)]
pub struct HasAvx512(());

/// Proof that the AVX512_BF16 kernels run here: AVX-512's set plus AVX512_BF16, and the
/// AVX-512BW (`vpermw`) and DQ (`vfpclassps`) that every CPU with AVX512_BF16 has.
#[derive(Clone, Copy, Debug)]
pub struct HasAvx512Bf16(());

impl HasAvx2 {
    /// The token, if this CPU and OS run AVX2 code.
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let on = cfg!(all(target_feature = "avx2", target_feature = "f16c"));
        (on || features() & AVX2 != 0).then_some(HasAvx2(()))
    }
}

impl HasAvx512 {
    /// The token, if this CPU and OS run AVX-512F code.
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let on = cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx2",
            target_feature = "f16c"
        ));
        (on || features() & AVX512 != 0).then_some(HasAvx512(()))
    }
}

impl HasAvx512Bf16 {
    /// The token, if this CPU and OS run AVX512_BF16 code.
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let on = cfg!(all(
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512dq",
            target_feature = "avx512bf16",
            target_feature = "avx2",
            target_feature = "f16c"
        ));
        (on || features() & AVX512_BF16 != 0).then_some(HasAvx512Bf16(()))
    }
}

const AVX2: u8 = 1;
const AVX512: u8 = 2;
const AVX512_BF16: u8 = 4;
const DONE: u8 = 0x80;

static FEATURES: AtomicU8 = AtomicU8::new(0);

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
        assert_eq!(super::HasAvx2::detect().is_some(), std_avx2);
        assert_eq!(super::HasAvx512::detect().is_some(), std_avx512);
        assert_eq!(super::HasAvx512Bf16::detect().is_some(), std_bf16);
    }
}
