//! Backends: which kernel runs, chosen once per [`Rope`](crate::Rope) or table.
//!
//! Every backend gives the same bits as [`Backend::Scalar`]; they differ only in speed.
//! Layout: `generic.rs` holds the SIMD kernel written once over a vector trait;
//! `lanes.rs` instantiates it with `wide` (the build target's own SIMD); `x86_64/` adds
//! the AVX2 and AVX-512 instantiations behind runtime detection.

pub(crate) mod generic;
pub(crate) mod lanes;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

use crate::error::RopeError;
use crate::kernel::{self, Span};
use core::fmt;
use half::{bf16, f16};

/// A kernel for one element type.
pub(crate) type KernelFn<E> = fn(&mut [E], &Span, &[f32], &[f32]);

/// Widening of 16-bit values to f32 (same lengths).
pub(crate) type WidenFn<E> = fn(&[E], &mut [f32]);
/// Rounding of f32 values to 16 bits (same lengths).
pub(crate) type NarrowFn<E> = fn(&[f32], &mut [E]);

/// One backend's kernels: a rotation per element type, and the 16-bit conversions.
pub(crate) struct Kernels {
    pub f32: KernelFn<f32>,
    pub f16: KernelFn<f16>,
    pub bf16: KernelFn<bf16>,
    pub widen_f16: WidenFn<f16>,
    pub widen_bf16: WidenFn<bf16>,
    pub narrow_f16: NarrowFn<f16>,
    pub narrow_bf16: NarrowFn<bf16>,
}

fn widen_scalar<E: crate::Element>(src: &[E], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s.to_f32();
    }
}

fn narrow_scalar<E: crate::Element>(src: &[f32], dst: &mut [E]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = E::from_f32(*s);
    }
}

static SCALAR: Kernels = Kernels {
    f32: kernel::scalar::<f32>,
    f16: kernel::scalar::<f16>,
    bf16: kernel::scalar::<bf16>,
    widen_f16: widen_scalar::<f16>,
    widen_bf16: widen_scalar::<bf16>,
    narrow_f16: narrow_scalar::<f16>,
    narrow_bf16: narrow_scalar::<bf16>,
};

/// The `Kernels` of a backend module that defines `rotate_*`, `widen_*` and `narrow_*`.
macro_rules! kernels_of {
    ($m:path) => {{
        use $m as m;
        Kernels {
            f32: m::rotate_f32,
            f16: m::rotate_f16,
            bf16: m::rotate_bf16,
            widen_f16: m::widen_f16,
            widen_bf16: m::widen_bf16,
            narrow_f16: m::narrow_f16,
            narrow_bf16: m::narrow_bf16,
        }
    }};
}

static LANES: Kernels = kernels_of!(lanes);
#[cfg(target_arch = "x86_64")]
static AVX2: Kernels = kernels_of!(x86_64::avx2);
#[cfg(target_arch = "x86_64")]
static AVX512: Kernels = kernels_of!(x86_64::avx512);
#[cfg(target_arch = "x86_64")]
static AVX512_BF16: Kernels = kernels_of!(x86_64::avx512::with_bf16);

/// A kernel implementation. All give bit-identical results; pick one only to measure or
/// to pin down timings. [`Backend::detect`] gives the fastest on this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Plain Rust, one pair at a time; runs everywhere.
    Scalar,
    /// Portable 8-lane vectors (`wide`), compiled for the build target's SIMD: SSE2 on
    /// x86_64, NEON on aarch64, simd128 on wasm32 built with `-C target-feature=+simd128`.
    /// Runs everywhere (as plain arrays where the target has no SIMD). f16 converts with
    /// AdvSIMD's `fcvtl`/`fcvtn` on aarch64, with exact integer lane formulas elsewhere.
    Lanes,
    /// x86_64 AVX2 (with F16C): 8 lanes in 256-bit registers. Detected at run time.
    Avx2,
    /// x86_64 AVX-512F: 16 lanes in 512-bit registers. Detected at run time. Where the CPU
    /// also has AVX512_BF16 (with AVX-512BW and DQ, as every such CPU does), bf16 is
    /// rounded with its instructions and bf16 spans take a faster two-vector path; the
    /// bits are the same either way.
    Avx512,
}

impl Backend {
    /// Every backend this crate has, slowest first, whether or not this CPU runs it.
    pub const ALL: &'static [Backend] = &[
        Backend::Scalar,
        Backend::Lanes,
        Backend::Avx2,
        Backend::Avx512,
    ];

    /// The fastest backend this CPU runs: AVX-512, then AVX2 on x86_64; `Lanes` where the
    /// build target has SIMD (x86_64, aarch64, wasm32 with simd128); else `Scalar`.
    ///
    /// Detection runs once (CPUID and XGETBV on x86_64, no `std` needed) and is cached.
    ///
    /// ```
    /// use rope_simd::Backend;
    /// let best = Backend::detect();
    /// assert!(best.is_available());
    /// println!("rotating with {}", best.name());
    /// ```
    pub fn detect() -> Backend {
        if Backend::Avx512.is_available() {
            Backend::Avx512
        } else if Backend::Avx2.is_available() {
            Backend::Avx2
        } else if cfg!(any(
            target_arch = "x86_64",
            target_arch = "aarch64",
            all(target_arch = "wasm32", target_feature = "simd128")
        )) {
            Backend::Lanes
        } else {
            Backend::Scalar
        }
    }

    /// Whether this CPU (and build target) can run this backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Scalar | Backend::Lanes => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => x86_64::has_avx2(),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => x86_64::has_avx512(),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Avx2 | Backend::Avx512 => false,
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

    /// A short name: `"scalar"`, `"lanes"`, `"avx2"`, `"avx512"`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Lanes => "lanes",
            Backend::Avx2 => "avx2",
            Backend::Avx512 => "avx512",
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
            Backend::Lanes if cfg!(target_arch = "aarch64") => "portable lanes (NEON)",
            Backend::Lanes if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) => {
                "portable lanes (simd128)"
            }
            Backend::Lanes => "portable lanes (no SIMD on this target: plain arrays)",
            Backend::Avx2 => "AVX2 + F16C",
            Backend::Avx512 => "AVX-512",
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
            Backend::Lanes => &LANES,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => &AVX2,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 if x86_64::has_avx512_bf16() => &AVX512_BF16,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => &AVX512,
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Avx2 | Backend::Avx512 => &SCALAR, // never chosen: not available
        }
    }
}

/// Make the streaming stores of the `rotate_into` calls before it (spans with `stream`
/// set) ordered before everything after it, as plain stores are: `sfence` on x86_64,
/// where the AVX2 and AVX-512 kernels stream; nothing elsewhere. Call it once a whole
/// out-of-place call has been written.
#[inline]
pub(crate) fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    #[allow(unused_unsafe)] // `_mm_sfence` is safe on newer compilers
    // SAFETY: SFENCE is part of SSE, which every x86_64 CPU has.
    unsafe {
        core::arch::x86_64::_mm_sfence()
    }
}

/// Rotate out of place with `backend` (see `generic::rotate_into`).
pub(crate) fn rotate_into<S: crate::Element, D: crate::Element>(
    backend: Backend,
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    cos: &[f32],
    sin: &[f32],
) {
    match backend {
        // SAFETY: `Lanes` needs no runtime feature.
        Backend::Lanes => unsafe {
            generic::rotate_into::<lanes::Lanes, S, D>(src, dst, span, dst_stride, cos, sin)
        },
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 if x86_64::has_avx2() => {
            // SAFETY: the CPU and OS support AVX, AVX2 and F16C (checked just above).
            unsafe { x86_64::avx2::rotate_into(src, dst, span, dst_stride, cos, sin) }
        }
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 if x86_64::has_avx512_bf16() => {
            // SAFETY: the CPU and OS support AVX-512F/BW/DQ, AVX512_BF16, AVX2 and F16C (checked
            // just above).
            unsafe { x86_64::avx512::with_bf16::rotate_into(src, dst, span, dst_stride, cos, sin) }
        }
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 if x86_64::has_avx512() => {
            // SAFETY: the CPU and OS support AVX-512F, AVX2 and F16C (checked just above).
            unsafe { x86_64::avx512::rotate_into(src, dst, span, dst_stride, cos, sin) }
        }
        _ => kernel::scalar_into(src, dst, span, dst_stride, cos, sin),
    }
}

/// cos/sin of one position for a run of pairs (see `trig::cos_sin_batch`), with the loop
/// compiled for `backend`'s vector width; the same bits from every backend.
pub(crate) fn cos_sin_batch(
    backend: Backend,
    position: u64,
    hi: &[f64],
    lo: &[f64],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 if x86_64::has_avx2() => {
            // SAFETY: the CPU and OS support AVX, AVX2 and F16C (checked just above).
            unsafe { x86_64::avx2::cos_sin_batch(position, hi, lo, scale, cos, sin) }
        }
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 if x86_64::has_avx512() => {
            // SAFETY: the CPU and OS support AVX-512F, AVX2 and F16C (checked just above).
            unsafe { x86_64::avx512::cos_sin_batch(position, hi, lo, scale, cos, sin) }
        }
        _ => crate::trig::cos_sin_batch(position, hi, lo, scale, cos, sin),
    }
}

/// The compact table's angle addition (see `trig::angle_sum`), compiled for `backend`'s
/// vector width; the same bits from every backend.
pub(crate) fn angle_sum(
    backend: Backend,
    coarse: [&[f64]; 2],
    fine: [&[f64]; 2],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    match backend {
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 if x86_64::has_avx2() => {
            // SAFETY: the CPU and OS support AVX, AVX2 and F16C (checked just above).
            unsafe { x86_64::avx2::angle_sum(coarse, fine, scale, cos, sin) }
        }
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 if x86_64::has_avx512() => {
            // SAFETY: the CPU and OS support AVX-512F, AVX2 and F16C (checked just above).
            unsafe { x86_64::avx512::angle_sum(coarse, fine, scale, cos, sin) }
        }
        _ => crate::trig::angle_sum(coarse, fine, scale, cos, sin),
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}
