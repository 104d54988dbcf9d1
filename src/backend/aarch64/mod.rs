//! aarch64: the NEON kernels, FEAT_BF16 detection, and the f16 conversions that the NEON
//! and the portable kernels share.
//!
//! `neon.rs` implements the vector trait with `core::arch::aarch64`; `cpu.rs` detects
//! FEAT_BF16 and makes the token that lets `dispatch` run `neon::with_bf16`; `f16.rs` has
//! AdvSIMD's f16 conversions (in `asm!`).

pub(crate) mod cpu;
pub(crate) mod f16;
#[cfg(target_endian = "little")]
pub(crate) mod neon;
