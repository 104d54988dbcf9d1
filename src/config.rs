//! What the user describes: head and rotary dimensions, pair layout, frequencies, scale.

use crate::backend::Backend;
use crate::error::RopeError;
use crate::freqs::default_inv_freq;
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
pub enum PairLayout {
    /// Pairs are `(x[2i], x[2i+1])`.
    Interleaved,
    /// Pairs are `(x[i], x[i + rotary_dim/2])`.
    HalfSplit,
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
    pub(crate) backend: Backend,
    pub(crate) inv_freq: [f64; MAX_PAIRS],
    /// Each pair's turns per position (`theta / 2pi` as a double-double), split into
    /// two arrays so that the per-token cos/sin loop vectorizes.
    pub(crate) turn_hi: [f64; MAX_PAIRS],
    pub(crate) turn_lo: [f64; MAX_PAIRS],
}

/// Builder for [`Rope`]: see [`Rope::builder`].
#[derive(Clone, Debug)]
pub struct RopeBuilder<'a> {
    head_dim: usize,
    rotary_dim: Option<usize>,
    base: f64,
    layout: PairLayout,
    scale: f64,
    inv_freq: Option<&'a [f64]>,
    backend: Option<Backend>,
}

impl Rope {
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
            backend: None,
        }
    }

    /// Channels per head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// Rotated channels per head (the first `rotary_dim` of each head).
    pub fn rotary_dim(&self) -> usize {
        self.rotary_dim
    }

    /// Rotated pairs per head: `rotary_dim / 2`.
    pub fn pairs(&self) -> usize {
        self.rotary_dim / 2
    }

    /// The pair layout.
    pub fn layout(&self) -> PairLayout {
        self.layout
    }

    /// The magnitude scale applied to cos and sin (1 unless set).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The inverse frequencies in use, one per pair (radians per position).
    pub fn inv_freqs(&self) -> &[f64] {
        &self.inv_freq[..self.pairs()]
    }

    /// The backend this `Rope` (and tables built from it) runs on.
    pub fn backend(&self) -> Backend {
        self.backend
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
        backend.check()?;
        self.backend = backend;
        Ok(self)
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

impl<'a> RopeBuilder<'a> {
    /// Rotate only the first `rotary_dim` channels of each head (partial rotary, as in
    /// GPT-NeoX, GPT-J, Phi, StableLM); the rest pass through untouched. Frequencies are
    /// computed over `rotary_dim`.
    pub fn rotary_dim(mut self, rotary_dim: usize) -> Self {
        self.rotary_dim = Some(rotary_dim);
        self
    }

    /// The frequency base theta (10000 for Llama 2, 500000 for Llama 3, 1e6 for Qwen2).
    pub fn base(mut self, base: f64) -> Self {
        self.base = base;
        self
    }

    /// The pair layout.
    pub fn layout(mut self, layout: PairLayout) -> Self {
        self.layout = layout;
        self
    }

    /// A magnitude factor applied to cos and sin (YaRN's `mscale` / attention factor), in
    /// `[1/MAX_SCALE, MAX_SCALE]`.
    pub fn scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }

    /// Use these inverse frequencies (radians per position, one per pair, `rotary_dim/2` of
    /// them, each in `[0, 2pi]`) instead of the default schedule; `base` is then ignored.
    pub fn inv_freqs(mut self, inv_freq: &'a [f64]) -> Self {
        self.inv_freq = Some(inv_freq);
        self
    }

    /// Run on this backend instead of the best one detected.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Validate and build.
    ///
    /// # Errors
    /// - [`RopeError::ZeroDim`], [`RopeError::OddDim`]: `head_dim` or `rotary_dim` zero or odd;
    /// - [`RopeError::RotaryDimTooLarge`], [`RopeError::RotaryDimOverMax`];
    /// - [`RopeError::BadBase`]: base not finite or <= 1 (when frequencies are not given);
    /// - [`RopeError::BadScale`]: scale not in `[1/MAX_SCALE, MAX_SCALE]`;
    /// - [`RopeError::WrongLength`], [`RopeError::BadFrequency`]: given frequencies of the
    ///   wrong count, or one outside `[0, 2pi]` or NaN;
    /// - [`RopeError::BackendUnavailable`]: a forced backend this CPU lacks.
    pub fn build(self) -> Result<Rope, RopeError> {
        let head_dim = self.head_dim;
        let rotary_dim = self.rotary_dim.unwrap_or(head_dim);
        for (what, value) in [("head_dim", head_dim), ("rotary_dim", rotary_dim)] {
            if value == 0 {
                return Err(RopeError::ZeroDim { what });
            }
            if !value.is_multiple_of(2) {
                return Err(RopeError::OddDim { what, value });
            }
        }
        if rotary_dim > head_dim {
            return Err(RopeError::RotaryDimTooLarge {
                rotary_dim,
                head_dim,
            });
        }
        if rotary_dim > MAX_ROTARY_DIM {
            return Err(RopeError::RotaryDimOverMax {
                rotary_dim,
                max: MAX_ROTARY_DIM,
            });
        }
        if !(self.scale >= 1.0 / MAX_SCALE && self.scale <= MAX_SCALE) {
            return Err(RopeError::BadScale {
                what: "scale",
                value: self.scale,
            });
        }
        let pairs = rotary_dim / 2;
        let mut inv_freq = [0.0; MAX_PAIRS];
        match self.inv_freq {
            Some(given) => {
                crate::error::check_len("inv_freqs", pairs, given.len())?;
                // Above 2pi a frequency only aliases a lower one at integer positions, and
                // the exact angle reduction (see `trig`) is exact up to 2pi * 2^53 turns.
                if let Some((index, &value)) = given
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !(**v >= 0.0 && **v <= core::f64::consts::TAU))
                {
                    return Err(RopeError::BadFrequency { index, value });
                }
                inv_freq[..pairs].copy_from_slice(given);
            }
            None => {
                if !(self.base.is_finite() && self.base > 1.0) {
                    return Err(RopeError::BadBase { base: self.base });
                }
                for (i, f) in inv_freq[..pairs].iter_mut().enumerate() {
                    *f = default_inv_freq(self.base, rotary_dim, i);
                }
            }
        }
        let backend = match self.backend {
            Some(b) => {
                b.check()?;
                b
            }
            None => Backend::detect(),
        };
        let (mut turn_hi, mut turn_lo) = ([0.0; MAX_PAIRS], [0.0; MAX_PAIRS]);
        for (i, &f) in inv_freq[..pairs].iter().enumerate() {
            (turn_hi[i], turn_lo[i]) = Turns::from_inv_freq(f).parts();
        }
        Ok(Rope {
            head_dim,
            rotary_dim,
            layout: self.layout,
            scale: self.scale,
            backend,
            inv_freq,
            turn_hi,
            turn_lo,
        })
    }
}
