//! aarch64 CPU detection of FEAT_BF16, and the token that proves its answer.
//!
//! NEON (AdvSIMD) is part of every target this backend is compiled for, so only the
//! optional bf16 conversion (`bfcvtn`, Armv8.6 and some Armv8.2 cores: Neoverse V1/N2,
//! Graviton3/4, Apple M2 and later) is detected, once, and cached in one atomic:
//! - on at compile time (`-C target-feature=+bf16`): no detection;
//! - with `std`: the standard library's `is_aarch64_feature_detected!` (the OS's answer:
//!   HWCAP on Linux, sysctl on Apple);
//! - without `std` on Linux and Android: the ID register `ID_AA64ISAR1_EL1`, whose
//!   user-space read the kernel emulates (since Linux 4.11, `HWCAP_CPUID`); its BF16 field
//!   (bits 47:44) is nonzero when the CPU has the instructions;
//! - otherwise no: the `Neon` backend runs, with the same bits.

use core::sync::atomic::{AtomicU8, Ordering};

/// Proof that the `bfcvtn` kernels (NEON plus FEAT_BF16) run here.
#[derive(Clone, Copy, Debug)]
pub struct HasBf16(());

impl HasBf16 {
    /// The token, if this CPU (and OS) run FEAT_BF16 code.
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        let on = cfg!(target_feature = "bf16");
        (on || features() & BF16 != 0).then_some(HasBf16(()))
    }
}

const BF16: u8 = 1;
const DONE: u8 = 0x80;

static FEATURES: AtomicU8 = AtomicU8::new(0);

#[inline]
fn features() -> u8 {
    if cfg!(miri) {
        return DONE; // Miri reads no ID register; it checks the scalar and portable paths
    }
    let f = FEATURES.load(Ordering::Relaxed);
    if f & DONE != 0 {
        return f;
    }
    let f = (if detect() { BF16 } else { 0 }) | DONE;
    FEATURES.store(f, Ordering::Relaxed); // racing threads store the same value
    f
}

#[cfg(feature = "std")]
fn detect() -> bool {
    std::arch::is_aarch64_feature_detected!("bf16")
}

#[cfg(all(not(feature = "std"), any(target_os = "linux", target_os = "android")))]
fn detect() -> bool {
    id_aa64isar1() >> 44 & 0xF != 0
}

#[cfg(all(
    not(feature = "std"),
    not(any(target_os = "linux", target_os = "android"))
))]
fn detect() -> bool {
    false
}

/// `ID_AA64ISAR1_EL1`, read from user space.
#[cfg(any(
    test,
    all(not(feature = "std"), any(target_os = "linux", target_os = "android"))
))]
fn id_aa64isar1() -> u64 {
    let v: u64;
    // SAFETY: on Linux and Android the kernel emulates EL0 reads of the ID registers
    // (it traps the `mrs` and returns the sanitised value); the read has no side effect.
    unsafe {
        core::arch::asm!(
            "mrs {v}, ID_AA64ISAR1_EL1",
            v = out(reg) v,
            options(nomem, nostack, preserves_flags),
        );
    }
    v
}

#[cfg(all(test, feature = "std", not(miri)))]
mod tests {
    /// The ID-register read (what `no_std` builds use) agrees with the standard library.
    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn id_register_agrees_with_std() {
        let from_register = super::id_aa64isar1() >> 44 & 0xF != 0;
        assert_eq!(
            from_register,
            std::arch::is_aarch64_feature_detected!("bf16")
        );
        assert_eq!(super::HasBf16::detect().is_some(), from_register);
    }
}
