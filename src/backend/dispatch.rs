//! Dispatch, resolved once: an [`Isa`] is chosen when a [`Rope`](crate::Rope) is built
//! (or a backend forced), and every kernel call goes through [`Isa::run`].
//!
//! An `Isa` for a `#[target_feature]` instruction set holds the token `cpu.rs` makes only
//! after detection said yes, so holding one is the proof that the CPU runs it: calls
//! check nothing, and there is no fallback to reach. Each piece of work is a [`Job`]
//! (a rotation, a conversion, an angle loop), written once over the vector type; `run`
//! hands it to the ISA's one `#[target_feature]` entry point, which compiles it with the
//! ISA's features. Jobs are instantiated only where a caller uses them, so a program that
//! rotates only f32 carries no f16 kernel.

#[cfg(all(
    target_arch = "aarch64",
    target_feature = "neon",
    target_endian = "little"
))]
use super::aarch64::{cpu as arm_cpu, neon};
use super::convert::{Narrow, Widen};
use super::io::Io;
use super::span::SpanJob;
use super::vector::Vector;
#[cfg(target_arch = "x86_64")]
use super::x86_64::{self, cpu};
use super::Backend;
use crate::element::Element;
use crate::error::RopeError;
use crate::kernel::Span;

/// The instruction set a [`Backend`] runs on, with the proof that this CPU has it.
#[derive(Clone, Copy, Debug)]
pub enum Isa {
    Scalar,
    Lanes,
    #[cfg(target_arch = "x86_64")]
    Avx2(cpu::HasAvx2),
    #[cfg(target_arch = "x86_64")]
    Avx512(cpu::HasAvx512),
    #[cfg(target_arch = "x86_64")]
    Avx512Bf16(cpu::HasAvx512Bf16),
    #[cfg(all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    ))]
    Neon,
    #[cfg(all(
        target_arch = "aarch64",
        target_feature = "neon",
        target_endian = "little"
    ))]
    NeonBf16(arm_cpu::HasBf16),
}

/// One piece of kernel work, runnable on any ISA.
pub(crate) trait Job: Sized {
    type Out;
    /// Whether the job writes bf16 (only rounding to bf16 differs between the AVX-512 and
    /// the AVX512_BF16 kernel sets, reading bf16 being a shift; the others run AVX-512's,
    /// one copy for both).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    const BF16: bool;
    /// The job done with the scalar kernels.
    fn scalar(self) -> Self::Out;
    /// The job done with vectors `V`.
    ///
    /// # Safety
    /// The CPU must support `V`'s ISA (see [`Vector`]).
    unsafe fn simd<V: Vector>(self) -> Self::Out;
}

impl Isa {
    /// `backend`'s ISA, if this CPU runs it.
    pub(crate) fn of(backend: Backend) -> Result<Isa, RopeError> {
        let isa = match backend {
            Backend::Scalar => Some(Isa::Scalar),
            Backend::Lanes => Some(Isa::Lanes),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => cpu::HasAvx2::detect().map(Isa::Avx2),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => cpu::HasAvx512::detect().map(Isa::Avx512),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512Bf16 => cpu::HasAvx512Bf16::detect().map(Isa::Avx512Bf16),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Avx2 | Backend::Avx512 | Backend::Avx512Bf16 => None,
            #[cfg(all(
                target_arch = "aarch64",
                target_feature = "neon",
                target_endian = "little"
            ))]
            Backend::Neon => Some(Isa::Neon),
            #[cfg(all(
                target_arch = "aarch64",
                target_feature = "neon",
                target_endian = "little"
            ))]
            Backend::NeonBf16 => arm_cpu::HasBf16::detect().map(Isa::NeonBf16),
            #[cfg(not(all(
                target_arch = "aarch64",
                target_feature = "neon",
                target_endian = "little"
            )))]
            Backend::Neon | Backend::NeonBf16 => None,
        };
        isa.ok_or(RopeError::BackendUnavailable { backend })
    }

    /// The backend this ISA runs.
    pub(crate) fn backend(self) -> Backend {
        match self {
            Isa::Scalar => Backend::Scalar,
            Isa::Lanes => Backend::Lanes,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2(_) => Backend::Avx2,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512(_) => Backend::Avx512,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bf16(_) => Backend::Avx512Bf16,
            #[cfg(all(
                target_arch = "aarch64",
                target_feature = "neon",
                target_endian = "little"
            ))]
            Isa::Neon => Backend::Neon,
            #[cfg(all(
                target_arch = "aarch64",
                target_feature = "neon",
                target_endian = "little"
            ))]
            Isa::NeonBf16(_) => Backend::NeonBf16,
        }
    }

    /// Run `job` on this ISA: the crate's one call into ISA-specific code.
    #[inline]
    pub(crate) fn run<J: Job>(self, job: J) -> J::Out {
        // SAFETY: an `Isa` of a `#[target_feature]` instruction set holds the token that
        // `cpu.rs` makes only after finding the CPU and OS support its features (the
        // AVX512_BF16 set includes AVX-512's; FEAT_BF16's, NEON's); NEON is part of the
        // build target wherever `Isa::Neon` exists; `Lanes` is compiled for the build target's
        // own SIMD and needs no runtime feature. (Where the target has none, `Lanes` runs
        // the scalar kernels: lanes of plain arrays give the same bits with more code.)
        unsafe {
            match self {
                Isa::Scalar => scalar(job),
                // On aarch64 the portable lanes are the NEON kernels: they were faster
                // in the cycle model's every f32 and f16 row, and a second kernel set
                // would cost its bytes in every program (`bash scripts/arm_cycles.sh`).
                #[cfg(all(
                    target_arch = "aarch64",
                    target_feature = "neon",
                    target_endian = "little"
                ))]
                Isa::Lanes => neon::run(job),
                #[cfg(not(all(
                    target_arch = "aarch64",
                    target_feature = "neon",
                    target_endian = "little"
                )))]
                Isa::Lanes if super::lanes::HAS_SIMD => super::lanes::run(job),
                #[cfg(not(all(
                    target_arch = "aarch64",
                    target_feature = "neon",
                    target_endian = "little"
                )))]
                Isa::Lanes => scalar(job),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2(_) => x86_64::avx2::run(job),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512(_) => x86_64::avx512::run(job),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512Bf16(_) if J::BF16 => x86_64::avx512::with_bf16::run(job),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512Bf16(_) => x86_64::avx512::run(job),
                #[cfg(all(
                    target_arch = "aarch64",
                    target_feature = "neon",
                    target_endian = "little"
                ))]
                Isa::Neon => neon::run(job),
                #[cfg(all(
                    target_arch = "aarch64",
                    target_feature = "neon",
                    target_endian = "little"
                ))]
                Isa::NeonBf16(_) if J::BF16 => neon::with_bf16::run(job),
                #[cfg(all(
                    target_arch = "aarch64",
                    target_feature = "neon",
                    target_endian = "little"
                ))]
                Isa::NeonBf16(_) => neon::run(job),
            }
        }
    }

    /// Rotate `span` of `x` in place.
    #[inline]
    pub(crate) fn rotate<E: Element>(self, x: &mut [E], span: &Span, cos: &[f32], sin: &[f32]) {
        let io = Io::in_place(x);
        self.run(SpanJob { io, span, cos, sin })
    }

    /// Rotate `span` of `src` into `dst`, whose rows are `dst_stride` apart, each value
    /// rounded once to `D`; with `span.stream` the stores may be non-temporal (the caller
    /// runs [`stream_fence`] once its whole call is written).
    #[inline]
    pub(crate) fn rotate_into<S: Element, D: Element>(
        self,
        src: &[S],
        dst: &mut [D],
        span: &Span,
        dst_stride: usize,
        cos: &[f32],
        sin: &[f32],
    ) {
        let io = Io::into(src, dst, dst_stride);
        self.run(SpanJob { io, span, cos, sin })
    }

    /// Widen `src` into `dst` (same lengths), exactly.
    #[inline]
    pub(crate) fn widen<E: Element>(self, src: &[E], dst: &mut [f32]) {
        self.run(Widen { src, dst })
    }

    /// Round `src` into `dst` (same lengths) to nearest even.
    #[inline]
    pub(crate) fn narrow<E: Element>(self, src: &[f32], dst: &mut [E]) {
        self.run(Narrow { src, dst })
    }

    /// cos/sin of one position for a run of pairs (see `trig::cos_sin_batch`); the same
    /// bits on every ISA.
    #[inline]
    pub(crate) fn cos_sin_batch(
        self,
        position: u64,
        (hi, lo): (&[f64], &[f64]),
        scale: f64,
        cos: &mut [f32],
        sin: &mut [f32],
    ) {
        self.run(CosSin {
            position,
            hi,
            lo,
            scale,
            cos,
            sin,
        })
    }

    /// The compact table's angle addition (see `trig::angle_sum`); the same bits on every
    /// ISA.
    #[inline]
    pub(crate) fn angle_sum(
        self,
        coarse: [&[f64]; 2],
        fine: [&[f64]; 2],
        scale: f64,
        cos: &mut [f32],
        sin: &mut [f32],
    ) {
        self.run(AngleSum {
            coarse,
            fine,
            scale,
            cos,
            sin,
        })
    }
}

/// `job` on the scalar kernels: one copy per job, like each ISA's entry point, rather than
/// the scalar kernels inlined at every call of [`Isa::run`] (`sizes.txt`).
#[inline(never)]
fn scalar<J: Job>(job: J) -> J::Out {
    job.scalar()
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

/// The per-token cos/sin loop: no vector type of its own; compiled inside an ISA's entry
/// point it vectorizes with that ISA's registers (no FMA: the same bits everywhere).
struct CosSin<'a> {
    position: u64,
    hi: &'a [f64],
    lo: &'a [f64],
    scale: f64,
    cos: &'a mut [f32],
    sin: &'a mut [f32],
}

impl Job for CosSin<'_> {
    type Out = ();
    const BF16: bool = false;
    #[inline(always)]
    fn scalar(self) {
        self.batch::<(), false>()
    }
    #[inline(always)]
    unsafe fn simd<V: Vector>(self) {
        match V::SKIP_SCALE_ONE {
            true => self.batch::<V, true>(),
            false => self.batch::<V, false>(),
        }
    }
}

impl CosSin<'_> {
    /// The angle loop of the ISA of `T` (its own copy: see `trig::cos_sin_batch`).
    #[inline(always)]
    fn batch<T, const SKIP_ONE: bool>(self) {
        let (p, hi, lo, scale) = (self.position, self.hi, self.lo, self.scale);
        crate::trig::cos_sin_batch::<T, SKIP_ONE>(p, hi, lo, scale, self.cos, self.sin)
    }
}

/// The compact table's angle addition, compiled like [`CosSin`].
struct AngleSum<'a> {
    coarse: [&'a [f64]; 2],
    fine: [&'a [f64]; 2],
    scale: f64,
    cos: &'a mut [f32],
    sin: &'a mut [f32],
}

impl Job for AngleSum<'_> {
    type Out = ();
    const BF16: bool = false;
    #[inline(always)]
    fn scalar(self) {
        crate::trig::angle_sum(self.coarse, self.fine, self.scale, self.cos, self.sin)
    }
    #[inline(always)]
    unsafe fn simd<V: Vector>(self) {
        self.scalar()
    }
}
