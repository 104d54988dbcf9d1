//! Backends: which kernel runs, chosen once per [`Rope`](crate::Rope) or table.
//!
//! Every backend gives the same bits as [`Backend::Scalar`]; they differ only in speed.
//! Layout (`docs/design.md` has the map): `dispatch.rs` turns a backend into an ISA once
//! and runs every kernel call through it; `span.rs` rotates one span on one ISA, in place
//! or out of place (`io.rs`), by the plan `plan.rs` chooses, with the strategies of
//! `strategy/`; `vector.rs` is the vector trait they are written over, `lanes.rs` its
//! portable implementation (`wide`, the build target's own SIMD), `x86_64/` its AVX2
//! and AVX-512 ones and `aarch64/` its NEON one, each with the CPU detection that guards
//! them.

/// `run`: the entry point of one ISA, generic over the job (see `dispatch::Job`): every
/// rotation, conversion and angle loop, instantiated on demand, compiled with these
/// features. Nothing else in the crate is compiled for the ISA.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
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

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
pub(crate) mod aarch64;
mod convert;
pub(crate) mod dispatch;
mod io;
pub(crate) mod lanes;
mod plan;
mod prefetch;
mod span;
mod strategy;
mod through_f32;
pub(crate) mod vector;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

#[cfg(all(test, feature = "std", not(miri)))]
mod bits_tests;

pub(crate) use dispatch::{stream_fence, Isa};

use core::fmt;

/// A kernel implementation. All give bit-identical results; pick one only to measure or
/// to pin down timings. [`Backend::detect`] gives the fastest on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Plain Rust, one pair at a time; runs everywhere.
    Scalar,
    /// Portable 8-lane vectors (`wide`), compiled for the build target's SIMD: SSE2 on
    /// x86_64, simd128 on wasm32 built with `-C target-feature=+simd128`; on aarch64 the
    /// NEON kernels of [`Backend::Neon`] (faster, and one kernel set in the program).
    /// Runs everywhere: where the target has no SIMD it runs the scalar kernels (lanes of
    /// plain arrays would give the same bits with more code and no speed). f16 converts with
    /// AdvSIMD's `fcvtl`/`fcvtn` on aarch64, with exact integer lane formulas elsewhere.
    Lanes,
    /// x86_64 AVX2 (with F16C): 8 lanes in 256-bit registers. Detected at run time.
    Avx2,
    /// x86_64 AVX-512F: 16 lanes in 512-bit registers, bf16 rounded in integer lanes.
    /// Detected at run time. What CPUs without AVX512_BF16 run (Skylake-SP to Tiger Lake).
    Avx512,
    /// x86_64 AVX-512F with AVX512_BF16 (and the AVX-512BW and DQ every such CPU has): as
    /// [`Backend::Avx512`], but bf16 is rounded with `vcvtne2ps2bf16` (subnormal inputs
    /// take the integer path). Only work that touches bf16 differs; the rest runs
    /// AVX-512's kernels. Detected at run time.
    Avx512Bf16,
    /// aarch64 NEON (AdvSIMD, part of every aarch64 CPU): 4 lanes in 128-bit registers,
    /// f16 with `fcvtl`/`fcvtn`, bf16 rounded in integer lanes. Compiled in on aarch64.
    Neon,
    /// aarch64 NEON with FEAT_BF16 (Neoverse V1/N2, Graviton3/4, Apple M2 and later): as
    /// [`Backend::Neon`], but bf16 is rounded with `bfcvtn`. Only work that touches bf16
    /// differs. Detected at run time.
    NeonBf16,
}

impl Backend {
    /// Every backend this crate has, slowest first, whether or not this CPU runs it.
    pub const ALL: &'static [Backend] = &[
        Backend::Scalar,
        Backend::Lanes,
        Backend::Avx2,
        Backend::Avx512,
        Backend::Avx512Bf16,
        Backend::Neon,
        Backend::NeonBf16,
    ];

    /// The fastest backend this CPU runs: AVX512_BF16, AVX-512, then AVX2 on x86_64;
    /// FEAT_BF16, then NEON on aarch64; `Lanes` where the build target has SIMD (x86_64,
    /// wasm32 with simd128); else `Scalar`.
    ///
    /// Detection runs once (CPUID and XGETBV on x86_64, no `std` needed; on aarch64 the
    /// OS's answer, or without `std` the ID register Linux emulates) and is cached.
    ///
    /// ```
    /// use rope_simd::Backend;
    /// let best = Backend::detect();
    /// assert!(best.is_available());
    /// println!("rotating with {}", best.name());
    /// ```
    pub fn detect() -> Backend {
        if Backend::Avx512Bf16.is_available() {
            Backend::Avx512Bf16
        } else if Backend::Avx512.is_available() {
            Backend::Avx512
        } else if Backend::Avx2.is_available() {
            Backend::Avx2
        } else if Backend::NeonBf16.is_available() {
            Backend::NeonBf16
        } else if Backend::Neon.is_available() {
            Backend::Neon
        } else if lanes::HAS_SIMD {
            Backend::Lanes
        } else {
            Backend::Scalar
        }
    }

    /// Whether this CPU (and build target) can run this backend.
    ///
    /// ```
    /// use rope_simd::{Backend, Rope};
    /// let forced = if Backend::Avx2.is_available() { Backend::Avx2 } else { Backend::Scalar };
    /// let rope = Rope::builder(64).backend(forced).build()?;
    /// assert_eq!(rope.backend(), forced);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn is_available(self) -> bool {
        Isa::of(self).is_ok()
    }

    /// The backends this CPU runs, slowest first.
    ///
    /// ```
    /// use rope_simd::Backend;
    /// assert!(Backend::available().any(|b| b == Backend::Scalar));
    /// ```
    pub fn available() -> impl Iterator<Item = Backend> {
        Self::ALL.iter().copied().filter(|b| b.is_available())
    }

    /// A short name: `"scalar"`, `"lanes"`, `"avx2"`, `"avx512"`, `"avx512bf16"`,
    /// `"neon"`, `"neonbf16"`.
    ///
    /// ```
    /// use rope_simd::Backend;
    /// assert_eq!(Backend::Scalar.name(), "scalar");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Lanes => "lanes",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
            Backend::Avx512Bf16 => "avx512bf16",
            Backend::Neon => "neon",
            Backend::NeonBf16 => "neonbf16",
        }
    }

    /// What the backend runs on, for people: the instruction set, and for
    /// [`Backend::Lanes`] the build target's SIMD it compiled to. Also its `Display`.
    ///
    /// ```
    /// use rope_simd::Backend;
    /// # #[cfg(target_arch = "x86_64")]
    /// assert_eq!(Backend::Lanes.to_string(), "portable lanes (SSE2)");
    /// assert_eq!(Backend::Scalar.to_string(), "scalar");
    /// ```
    pub fn describe(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Lanes if cfg!(target_arch = "x86_64") => "portable lanes (SSE2)",
            Backend::Lanes if cfg!(target_arch = "aarch64") => "portable lanes (the NEON kernels)",
            Backend::Lanes if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) => {
                "portable lanes (simd128)"
            }
            Backend::Lanes => "portable lanes (no SIMD on this target: the scalar kernels)",
            Backend::Avx2 => "AVX2 + F16C",
            Backend::Avx512 => "AVX-512",
            Backend::Avx512Bf16 => "AVX-512 + AVX512_BF16",
            Backend::Neon => "NEON",
            Backend::NeonBf16 => "NEON + FEAT_BF16",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}
