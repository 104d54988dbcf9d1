//! x86_64: the AVX2 and AVX-512 kernels, and the CPU detection that guards them.
//!
//! `cpu.rs` detects the features and makes the tokens; `avx2.rs` and `avx512.rs` implement
//! the vector trait; `isa_entry!` (in `backend/mod.rs`) compiles every job for an ISA inside one
//! `#[target_feature]` function, which `dispatch` calls only with that ISA's token.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod cpu;
