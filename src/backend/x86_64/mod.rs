//! x86_64: the AVX2 and AVX-512 kernels, and the CPU detection that guards them.
//!
//! `cpu.rs` detects the features and makes the tokens; `avx2.rs` and `avx512.rs` implement
//! the vector trait; `isa_entry!` below compiles every job for an ISA inside one
//! `#[target_feature]` function, which `dispatch` calls only with that ISA's token.

/// `run`: the entry point of one ISA, generic over the job (see `dispatch::Job`): every
/// rotation, conversion and angle loop, instantiated on demand, compiled with these
/// features. Nothing else in the crate is compiled for the ISA.
macro_rules! isa_entry {
    ($v:ty, $feats:literal) => {
        /// Run `job` with this ISA's vectors.
        ///
        /// # Safety
        /// The CPU and OS must support this module's features (`dispatch` holds the token
        /// that says so).
        #[target_feature(enable = $feats)]
        #[inline(never)]
        pub(crate) unsafe fn run<J: crate::backend::dispatch::Job>(job: J) -> J::Out {
            // SAFETY: this function's features are the ones the vector type needs.
            unsafe { job.simd::<$v>() }
        }
    };
}

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod cpu;
