//! What the user describes: a [`Rope`] (head and rotary dimensions, pair layout,
//! frequencies, scale) and the limits on it; [`RopeBuilder`](crate::RopeBuilder) builds it.

use crate::axes::Axes;
use crate::backend::{Backend, Isa};
use crate::builder::RopeBuilder;
use crate::error::RopeError;
use crate::schedule::Scaling;
use crate::trig::Turns;

/// The largest `rotary_dim` supported (512 rotated channels, 256 pairs). A [`Rope`] keeps
/// its frequencies inline, without allocating, so this bounds its size (about 6 KiB).
pub const MAX_ROTARY_DIM: usize = 512;
pub(crate) const MAX_PAIRS: usize = MAX_ROTARY_DIM / 2;

/// The largest magnitude scale accepted; the smallest is its inverse. Real ones (YaRN's
/// mscale) are near 1; far larger ones would overflow f32 cos/sin and far smaller ones
/// would make them subnormal, losing the accuracy bound.
pub const MAX_SCALE: f64 = 65_536.0;

/// Positions must be below 2^53 (every such integer is exact in f64).
pub const MAX_POSITION: u64 = 1 << 53;

/// Which channels of a head form a rotated pair.
///
/// For a head of 8 channels, all rotated (`rotary_dim == 8`), pair `i` turns by `p * theta_i`:
///
/// ```text
///   Interleaved (RoFormer, GPT-J, ggml "normal"):   x0 x1 | x2 x3 | x4 x5 | x6 x7
///                                                   pair0   pair1   pair2   pair3
///
///   HalfSplit (GPT-NeoX, Llama in transformers,     x0 x1 x2 x3 | x4 x5 x6 x7
///   ggml "neox"): pair i is (x[i], x[i + 4])         0  1  2  3 |  0  1  2  3
/// ```
///
/// With partial rotary (`rotary_dim < head_dim`) the layout applies to the first
/// `rotary_dim` channels; HalfSplit then pairs `x[i]` with `x[i + rotary_dim/2]`, and channels
/// `rotary_dim..head_dim` pass through untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PairLayout {
    /// Pairs are `(x[2i], x[2i+1])`.
    Interleaved,
    /// Pairs are `(x[i], x[i + rotary_dim/2])`.
    HalfSplit,
    /// Pairs are read interleaved, `(x[2i], x[2i+1])`, and written back in half-split
    /// order, pair `i` to `(x[i], x[i + rotary_dim/2])`: DeepSeek-V2/V3 with
    /// `rope_interleave: true`, where transformers de-interleaves each rope head before its
    /// half-split rotation. [`Direction::Inverse`](crate::Direction::Inverse) reads
    /// half-split order and writes interleaved, so it undoes the forward call; keys already
    /// rotated (in half-split order) are shifted or re-rotated as
    /// [`PairLayout::HalfSplit`] by [`Rope::shift`] and [`Rope::rerotation`].
    InterleavedToHalfSplit,
}

impl PairLayout {
    /// The layout of the pairs in a rotated buffer: `self`, except that
    /// [`PairLayout::InterleavedToHalfSplit`] writes half-split order.
    ///
    /// ```
    /// use rope_simd::PairLayout;
    /// assert_eq!(PairLayout::InterleavedToHalfSplit.rotated(), PairLayout::HalfSplit);
    /// assert_eq!(PairLayout::Interleaved.rotated(), PairLayout::Interleaved);
    /// ```
    pub const fn rotated(self) -> PairLayout {
        match self {
            PairLayout::InterleavedToHalfSplit => PairLayout::HalfSplit,
            other => other,
        }
    }
}

/// A validated description of one model's rotary embedding: the on-the-fly sin/cos source.
///
/// Build it once with [`Rope::new`] or [`Rope::builder`]; it holds the frequencies (in
/// double-double turns, see the crate docs on accuracy) and the backend that runs the kernels.
/// Rotate with the methods of [`Rotate`](crate::Rotate), or build a [`CosSinTable`](crate::CosSinTable)
/// from it.
#[derive(Clone, Debug)]
pub struct Rope {
    pub(crate) head_dim: usize,
    pub(crate) rotary_dim: usize,
    pub(crate) layout: PairLayout,
    pub(crate) scale: f64,
    pub(crate) isa: Isa,
    pub(crate) axes: Axes,
    /// Channels before the rotated ones in each head (ggml's `n_offs`).
    pub(crate) offset: usize,
    pub(crate) inv_freq: [f64; MAX_PAIRS],
    /// Each pair's turns per position (`theta / 2pi` as a double-double), split into
    /// two arrays so that the per-token cos/sin loop vectorizes.
    pub(crate) turn_hi: [f64; MAX_PAIRS],
    pub(crate) turn_lo: [f64; MAX_PAIRS],
}

impl Rope {
    /// A `Rope` of zeros, for [`RopeBuilder`] to fill (every array zero, so that it is
    /// written as one memset, in place).
    #[inline(always)]
    pub(crate) fn blank() -> Self {
        Rope {
            head_dim: 0,
            rotary_dim: 0,
            layout: PairLayout::HalfSplit,
            scale: 1.0,
            isa: Isa::Scalar,
            axes: Axes::Single,
            offset: 0,
            inv_freq: [0.0; MAX_PAIRS],
            turn_hi: [0.0; MAX_PAIRS],
            turn_lo: [0.0; MAX_PAIRS],
        }
    }

    /// Full-rotary RoPE with the default schedule `theta_i = base^(-2i/head_dim)`.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?; // Llama 3 shape
    /// assert_eq!(rope.pairs(), 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`RopeBuilder::build`].
    pub fn new(head_dim: usize, base: f64, layout: PairLayout) -> Result<Self, RopeError> {
        Self::builder(head_dim).base(base).layout(layout).build()
    }

    /// Start describing a model's RoPE; defaults: `rotary_dim = head_dim`, `base = 10000`,
    /// [`PairLayout::HalfSplit`], magnitude scale 1, the best backend of this CPU.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// // GPT-J: head_dim 256, 64 rotated channels, interleaved pairs.
    /// let rope = Rope::builder(256)
    ///     .rotary_dim(64)
    ///     .layout(PairLayout::Interleaved)
    ///     .build()?;
    /// assert_eq!(rope.rotary_dim(), 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn builder<'a>(head_dim: usize) -> RopeBuilder<'a> {
        RopeBuilder {
            head_dim,
            rotary_dim: None,
            base: 10_000.0,
            layout: PairLayout::HalfSplit,
            scale: 1.0,
            inv_freq: None,
            scaling: Scaling::None,
            schedule: crate::schedule::unscaled,
            freq_factors: None,
            proportional: None,
            axes: Axes::Single,
            offset: 0,
            backend: None,
        }
    }

    /// Channels per head.
    ///
    /// ```
    /// use rope_simd::Rope;
    /// assert_eq!(Rope::builder(128).rotary_dim(64).build()?.head_dim(), 128);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// Rotated channels per head (the first `rotary_dim` of each head).
    ///
    /// ```
    /// use rope_simd::Rope;
    /// assert_eq!(Rope::builder(128).rotary_dim(64).build()?.rotary_dim(), 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn rotary_dim(&self) -> usize {
        self.rotary_dim
    }

    /// Rotated pairs per head: `rotary_dim / 2`.
    ///
    /// ```
    /// use rope_simd::Rope;
    /// assert_eq!(Rope::builder(128).rotary_dim(64).build()?.pairs(), 32);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn pairs(&self) -> usize {
        self.rotary_dim / 2
    }

    /// The pair layout.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::Interleaved)?;
    /// assert_eq!(rope.layout(), PairLayout::Interleaved);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn layout(&self) -> PairLayout {
        self.layout
    }

    /// The magnitude applied to cos and sin: the schedule's attention factor (YaRN,
    /// LongRoPE) times the builder's `scale` (1 unless set).
    ///
    /// ```
    /// use rope_simd::{Rope, Scaling, Yarn};
    /// let rope = Rope::builder(64).scaling(Scaling::Yarn(Yarn::new(4.0, 4096))).build()?;
    /// assert!((rope.scale() - (1.0 + 0.1 * 4f64.ln())).abs() < 1e-15); // YaRN's attention factor
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The inverse frequencies in use, one per pair (radians per position).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(4, 10_000.0, PairLayout::HalfSplit)?;
    /// assert_eq!(rope.inv_freqs(), [1.0, 0.01]);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn inv_freqs(&self) -> &[f64] {
        &self.inv_freq[..self.pairs()]
    }

    /// Channels before the rotated ones in each head (0 unless set with
    /// [`RopeBuilder::channel_offset`]).
    ///
    /// ```
    /// use rope_simd::Rope;
    /// let rope = Rope::builder(80).rotary_dim(64).channel_offset(16).build()?;
    /// assert_eq!(rope.channel_offset(), 16);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn channel_offset(&self) -> usize {
        self.offset
    }

    /// The position axes (one unless built for M-RoPE or 2-D axial RoPE).
    ///
    /// ```
    /// use rope_simd::{Axes, Rope};
    /// assert_eq!(Rope::builder(64).build()?.axes(), Axes::Single);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn axes(&self) -> Axes {
        self.axes
    }

    /// The backend this `Rope` (and tables built from it) runs on.
    ///
    /// ```
    /// use rope_simd::{Backend, Rope};
    /// assert_eq!(Rope::builder(64).build()?.backend(), Backend::detect());
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.isa.backend()
    }

    /// The same description running on another backend.
    ///
    /// Every backend gives the same bits; forcing one is for tests, benchmarks and
    /// reproducibility of timings.
    ///
    /// ```
    /// use rope_simd::{Backend, PairLayout, Rope};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?.with_backend(Backend::Scalar)?;
    /// assert_eq!(rope.backend(), Backend::Scalar);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::BackendUnavailable`] if this CPU cannot run `backend`.
    pub fn with_backend(mut self, backend: Backend) -> Result<Self, RopeError> {
        self.set_backend(backend)?;
        Ok(self)
    }

    /// Run on `backend` from now on (as [`with_backend`](Self::with_backend), in place);
    /// on an error nothing changes.
    ///
    /// ```
    /// use rope_simd::{Backend, PairLayout, Rope};
    /// let mut rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// rope.set_backend(Backend::Scalar)?;
    /// assert_eq!(rope.backend(), Backend::Scalar);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::BackendUnavailable`] if this CPU does not run `backend`.
    pub fn set_backend(&mut self, backend: Backend) -> Result<(), RopeError> {
        self.isa = Isa::of(backend)?;
        Ok(())
    }

    /// Pair `i`'s turns.
    pub(crate) fn turns(&self, i: usize) -> Turns {
        Turns::from_parts(self.turn_hi[i], self.turn_lo[i])
    }

    /// `(cos, sin)` of `position * theta_pair` times the scale, rounded to f32: the values
    /// every rotation of this `Rope` uses.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(2, 10_000.0, PairLayout::HalfSplit)?; // one pair, theta = 1
    /// let (c, s) = rope.cos_sin(1_000_000, 0);
    /// assert_eq!((c, s), (0.93675214_f32, -0.3499935_f32)); // cos/sin(10^6), correctly rounded
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Panics
    /// If `pair >= self.pairs()` or `position >= MAX_POSITION` (use it with valid indices).
    pub fn cos_sin(&self, position: u64, pair: usize) -> (f32, f32) {
        assert!(pair < self.pairs() && position < MAX_POSITION);
        crate::trig::cos_sin(position, self.turns(pair), self.scale)
    }
}
