//! Backends: which kernel runs, chosen once per [`Rope`](crate::Rope) or table.
//!
//! Every backend gives the same bits as [`Backend::Scalar`]; they differ only in speed.

use crate::error::RopeError;
use crate::kernel::{self, Span};
use half::{bf16, f16};

/// A kernel for one element type.
pub(crate) type KernelFn<E> = fn(&mut [E], &Span, &[f32], &[f32]);

/// One backend's kernels, one per element type.
pub(crate) struct Kernels {
    pub f32: KernelFn<f32>,
    pub f16: KernelFn<f16>,
    pub bf16: KernelFn<bf16>,
}

static SCALAR: Kernels = Kernels {
    f32: kernel::scalar::<f32>,
    f16: kernel::scalar::<f16>,
    bf16: kernel::scalar::<bf16>,
};

/// A kernel implementation. All give bit-identical results; pick one only to measure or
/// to pin down timings. [`Backend::detect`] gives the fastest on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Plain Rust, one pair at a time; runs everywhere.
    Scalar,
}

impl Backend {
    /// Every backend this crate has, slowest first, whether or not this CPU runs it.
    pub const ALL: &'static [Backend] = &[Backend::Scalar];

    /// The fastest backend this CPU runs.
    ///
    /// ```
    /// use rope_simd::Backend;
    /// let best = Backend::detect();
    /// assert!(best.is_available());
    /// ```
    pub fn detect() -> Backend {
        Backend::Scalar
    }

    /// Whether this CPU (and build target) can run this backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar => true,
        }
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

    /// A short name: `"scalar"`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
        }
    }

    pub(crate) fn check(self) -> Result<(), RopeError> {
        if self.is_available() {
            Ok(())
        } else {
            Err(RopeError::BackendUnavailable { backend: self })
        }
    }

    pub(crate) fn kernels(self) -> &'static Kernels {
        match self {
            Backend::Scalar => &SCALAR,
        }
    }
}
