//! [`RopeBuilder`]: the options of a [`Rope`], validated and turned into its frequencies.

use core::mem::MaybeUninit;

use crate::axes::Axes;
use crate::backend::{Backend, Isa};
use crate::config::{PairLayout, Rope, MAX_PAIRS, MAX_ROTARY_DIM, MAX_SCALE};
use crate::error::RopeError;
use crate::schedule::{Scaling, Schedule};
use crate::trig::Turns;

/// Builder for [`Rope`]: see [`Rope::builder`].
#[derive(Clone, Debug)]
pub struct RopeBuilder<'a> {
    pub(crate) head_dim: usize,
    pub(crate) rotary_dim: Option<usize>,
    pub(crate) base: f64,
    pub(crate) layout: PairLayout,
    pub(crate) scale: f64,
    pub(crate) inv_freq: Option<&'a [f64]>,
    pub(crate) scaling: Scaling<'a>,
    /// The function that computes `scaling` (see `schedule::Schedule`).
    pub(crate) schedule: Schedule,
    pub(crate) freq_factors: Option<&'a [f64]>,
    pub(crate) proportional: Option<usize>,
    pub(crate) axes: Axes,
    pub(crate) offset: usize,
    pub(crate) backend: Option<Backend>,
}

impl<'a> RopeBuilder<'a> {
    /// Rotate only the first `rotary_dim` channels of each head (partial rotary, as in
    /// GPT-NeoX, GPT-J, Phi, StableLM); the rest pass through untouched. Frequencies are
    /// computed over `rotary_dim`.
    ///
    /// ```
    /// use rope_simd::Rope;
    /// // Phi-2: 32 of each head's 80 channels rotated.
    /// let rope = Rope::builder(80).rotary_dim(32).build()?;
    /// assert_eq!(rope.pairs(), 16);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn rotary_dim(mut self, rotary_dim: usize) -> Self {
        self.rotary_dim = Some(rotary_dim);
        self
    }

    /// The frequency base theta (10000 for Llama 2, 500000 for Llama 3, 1e6 for Qwen2).
    ///
    /// ```
    /// use rope_simd::Rope;
    /// let rope = Rope::builder(128).base(1e6).build()?; // Qwen2
    /// assert!((rope.inv_freqs()[32] - 1e6f64.powf(-0.5)).abs() < 1e-18);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn base(mut self, base: f64) -> Self {
        self.base = base;
        self
    }

    /// The pair layout.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::builder(64).layout(PairLayout::Interleaved).build()?; // GPT-J, RoFormer
    /// assert_eq!(rope.layout(), PairLayout::Interleaved);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn layout(mut self, layout: PairLayout) -> Self {
        self.layout = layout;
        self
    }

    /// A magnitude factor applied to cos and sin (YaRN's `mscale` / attention factor), in
    /// `[1/MAX_SCALE, MAX_SCALE]`.
    ///
    /// ```
    /// use rope_simd::Rope;
    /// let rope = Rope::builder(64).scale(0.8).build()?; // ggml's attn_factor 0.8
    /// assert_eq!(rope.scale(), 0.8);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }

    /// Use these inverse frequencies (radians per position, one per pair, `rotary_dim/2` of
    /// them, each in `[0, 2pi]`) instead of the default schedule; `base` is then ignored.
    ///
    /// ```
    /// use rope_simd::Rope;
    /// let rope = Rope::builder(4).inv_freqs(&[0.5, 0.25]).build()?;
    /// assert_eq!(rope.inv_freqs(), [0.5, 0.25]);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn inv_freqs(mut self, inv_freq: &'a [f64]) -> Self {
        self.inv_freq = Some(inv_freq);
        self
    }

    /// The frequency schedule (default: [`Scaling::None`]); see [`Scaling`] for each
    /// model family's. Its attention factor multiplies `scale`.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope, Scaling};
    /// let rope = Rope::builder(128).scaling(Scaling::Linear { factor: 4.0 }).build()?;
    /// assert_eq!(rope.inv_freqs()[0], 0.25);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn scaling(mut self, scaling: Scaling<'a>) -> Self {
        self.scaling = scaling;
        self.schedule = crate::schedule::compute;
        self
    }

    /// Per-pair factors that divide each default frequency before the scaling is applied
    /// (ggml's `freq_factors` / a GGUF `rope_freqs` tensor): `rotary_dim / 2` values > 0.
    ///
    /// ```
    /// use rope_simd::Rope;
    /// // A GGUF file's rope_freqs tensor: each default frequency divided by its factor.
    /// let rope = Rope::builder(4).freq_factors(&[1.0, 4.0]).build()?;
    /// assert_eq!(rope.inv_freqs(), [1.0, 0.01 / 4.0]);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn freq_factors(mut self, factors: &'a [f64]) -> Self {
        self.freq_factors = Some(factors);
        self
    }

    /// Partial rotary in the *proportional* form (transformers `rope_type:
    /// "proportional"`, Gemma): pairs span the whole head (`rotary_dim = head_dim`, so
    /// half-split pairs are `(x[i], x[i + head_dim/2])`), the first
    /// `rotated_channels / 2` pairs get `base^(-2i / head_dim)` and the rest frequency 0
    /// (cos 1, sin 0: unchanged but for the magnitude). transformers' `rope_angles =
    /// int(partial_rotary_factor * head_dim // 2)` is `rotated_channels / 2`.
    ///
    /// This is **not** [`RopeBuilder::rotary_dim`] (the prefix form: the first
    /// `rotary_dim` channels rotated among themselves, frequencies over `rotary_dim`);
    /// the two pair different channels and use different frequencies, so they are
    /// separate options and setting both is an error. Combines with [`Scaling::None`] and
    /// [`Scaling::Linear`] (transformers' `factor`).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::builder(256).base(1e6).proportional_rotary(64).build()?;
    /// assert_eq!(rope.rotary_dim(), 256);
    /// assert_eq!(rope.inv_freqs()[32..], [0.0; 96]); // pairs 32..128 do not turn
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn proportional_rotary(mut self, rotated_channels: usize) -> Self {
        self.proportional = Some(rotated_channels);
        self
    }

    /// Rotate the `rotary_dim` channels starting at channel `offset` of each head instead
    /// of at channel 0 (ggml's `n_offs`, `ggml_rope_set_offset`): channels `0..offset` and
    /// `offset + rotary_dim..head_dim` pass through untouched. Even, and `offset +
    /// rotary_dim <= head_dim`.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// // ggml's example: n_embd 10, n_dims 4, offset 2 -> [00xxxx0000].
    /// let rope = Rope::builder(10).rotary_dim(4).channel_offset(2).build()?;
    /// let mut x = [1.0f32; 10];
    /// rope.rotate(&mut x, 1, Positions::Start(3))?;
    /// assert_eq!((&x[..2], &x[6..]), (&[1.0; 2][..], &[1.0; 4][..]));
    /// assert_ne!(x[2], 1.0);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn channel_offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// Which position coordinate each pair turns by (M-RoPE, 2-D axial); default
    /// [`Axes::Single`].
    ///
    /// ```
    /// use rope_simd::{Axes, PairLayout, Positions, Rope, Rotate};
    /// // Qwen2-VL: head_dim 128, mrope_section [16, 24, 24].
    /// let rope = Rope::builder(128).base(1e6).axes(Axes::MRope([16, 24, 24])).build()?;
    /// let mut q = vec![0.5f32; 2 * 28 * 128]; // 2 tokens, 28 heads
    /// // (t, h, w) per token: an image patch, then a text token.
    /// rope.rotate(&mut q, 28, Positions::Axes(&[4, 0, 1, 7, 7, 7]))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn axes(mut self, axes: Axes) -> Self {
        self.axes = axes;
        self
    }

    /// Run on this backend instead of the best one detected.
    ///
    /// ```
    /// use rope_simd::{Backend, Rope};
    /// let rope = Rope::builder(64).backend(Backend::Scalar).build()?;
    /// assert_eq!(rope.backend(), Backend::Scalar);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Validate and build.
    ///
    /// ```
    /// use rope_simd::{Rope, RopeError};
    /// assert!(Rope::builder(128).build().is_ok());
    /// assert_eq!(Rope::builder(7).build().unwrap_err(), RopeError::OddDim { what: "head_dim", value: 7 });
    /// ```
    ///
    /// # Errors
    /// - [`RopeError::ZeroDim`], [`RopeError::OddDim`]: `head_dim`, `rotary_dim` or the
    ///   proportional channel count zero or odd;
    /// - [`RopeError::RotaryDimTooLarge`], [`RopeError::RotaryDimOverMax`];
    /// - [`RopeError::Conflict`]: options that do not combine (`rotary_dim` with
    ///   `proportional_rotary`, given `inv_freqs` with a scaling, ...);
    /// - [`RopeError::BadSections`]: M-RoPE sections not summing to `rotary_dim / 2`, or an
    ///   odd pair count for [`Axes::Axial2d`];
    /// - [`RopeError::BadBase`]: base not finite or <= 1 (when frequencies are not given);
    /// - [`RopeError::BadParameter`]: a schedule parameter out of its domain (a factor
    ///   <= 0 or not finite, `beta_fast < beta_slow`, `high_freq_factor <=
    ///   low_freq_factor`, a zero context length, ...);
    /// - [`RopeError::WrongLength`]: given frequencies, `freq_factors` or LongRoPE factor
    ///   lists of the wrong count;
    /// - [`RopeError::BadFrequency`]: a frequency (given or computed) outside `[0, 2pi]`
    ///   or NaN;
    /// - [`RopeError::BadScale`]: scale, or scale times the schedule's attention factor,
    ///   not in `[1/MAX_SCALE, MAX_SCALE]`;
    /// - [`RopeError::BackendUnavailable`]: a forced backend this CPU lacks.
    pub fn build(self) -> Result<Rope, RopeError> {
        let mut rope = Rope::blank();
        self.build_with(|| &mut rope)?;
        Ok(rope)
    }

    /// Validate and build into `slot` (a static, a field, memory the caller owns): the
    /// `Rope` is written there directly, where [`build`](Self::build) returns it by
    /// value, which holds it on the stack once more on its way out. On a microcontroller
    /// that is the difference between about 6 KiB of stack and twice that
    /// (`firmware/`, `sizes.txt`). On an error `slot` is left as it was.
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use rope_simd::Rope;
    /// let mut slot = MaybeUninit::uninit();
    /// let rope: &mut Rope = Rope::builder(128).base(500_000.0).build_in_place(&mut slot)?;
    /// assert_eq!(rope.pairs(), 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_in_place(self, slot: &mut MaybeUninit<Rope>) -> Result<&mut Rope, RopeError> {
        // A literal of zeros is stored straight into the slot (one holding the
        // frequencies was assembled on the stack first: `firmware/`).
        self.build_with(|| slot.write(Rope::blank()))
    }

    /// Check everything and compute the frequencies, then fill the blank `Rope` that
    /// `place` gives (called only when all is valid, so that a failure writes nothing).
    fn build_with<'s>(
        self,
        place: impl FnOnce() -> &'s mut Rope,
    ) -> Result<&'s mut Rope, RopeError> {
        let head_dim = self.head_dim;
        if let (Some(_), Some(_)) = (self.proportional, self.rotary_dim) {
            return Err(RopeError::Conflict {
                what: "rotary_dim (prefix) and proportional_rotary",
            });
        }
        let rotary_dim = match self.proportional {
            Some(_) => head_dim,
            None => self.rotary_dim.unwrap_or(head_dim),
        };
        let dims = [
            ("head_dim", head_dim),
            ("rotary_dim", rotary_dim),
            ("proportional_rotary", self.proportional.unwrap_or(2)),
        ];
        for (what, value) in dims {
            if value == 0 {
                return Err(RopeError::ZeroDim { what });
            }
            if !value.is_multiple_of(2) {
                return Err(RopeError::OddDim { what, value });
            }
        }
        if !self.offset.is_multiple_of(2) {
            return Err(RopeError::OddDim {
                what: "channel_offset",
                value: self.offset,
            });
        }
        // The rotated channels, offset included, fit in the head.
        let end = rotary_dim.saturating_add(self.offset);
        if end > head_dim {
            return Err(RopeError::RotaryDimTooLarge {
                rotary_dim: end,
                head_dim,
            });
        }
        if let Some(n) = self.proportional.filter(|&n| n > head_dim) {
            return Err(RopeError::RotaryDimTooLarge {
                rotary_dim: n,
                head_dim,
            });
        }
        if rotary_dim > MAX_ROTARY_DIM {
            return Err(RopeError::RotaryDimOverMax {
                rotary_dim,
                max: MAX_ROTARY_DIM,
            });
        }
        let pairs = rotary_dim / 2;
        self.axes.check(pairs)?;
        let mut inv = [0.0; MAX_PAIRS];
        let inv_freq = &mut inv;
        let mut attention = 1.0;
        let scaled = self.scaling != Scaling::None || self.freq_factors.is_some();
        match self.inv_freq {
            Some(_) if scaled || self.proportional.is_some() || self.axes == Axes::Axial2d => {
                return Err(RopeError::Conflict {
                    what: "inv_freqs with a scaling, freq_factors, proportional or axial schedule",
                })
            }
            Some(given) => {
                crate::error::check_len("inv_freqs", pairs, given.len())?;
                inv_freq[..pairs].copy_from_slice(given);
            }
            None => {
                // (channels the exponent is over, pairs with a schedule)
                let (dim, rotated) = match (self.proportional, self.axes) {
                    (Some(_), Axes::Axial2d) => {
                        return Err(RopeError::Conflict {
                            what: "proportional_rotary with Axes::Axial2d",
                        })
                    }
                    (Some(_), _)
                        if !matches!(self.scaling, Scaling::None | Scaling::Linear { .. }) =>
                    {
                        return Err(RopeError::Conflict {
                            what: "proportional_rotary with a scaling other than Linear",
                        })
                    }
                    (Some(n), _) => (head_dim, n / 2),
                    (None, Axes::Axial2d) => (rotary_dim / 2, pairs / 2),
                    (None, _) => (rotary_dim, pairs),
                };
                attention = (self.schedule)(
                    &self.scaling,
                    self.base,
                    dim,
                    self.freq_factors,
                    &mut inv_freq[..rotated],
                )?;
                if self.axes == Axes::Axial2d {
                    inv_freq.copy_within(..rotated, rotated);
                }
            }
        }
        // Above 2pi a frequency only aliases a lower one at integer positions, and the
        // exact angle reduction (see `trig`) is exact up to 2pi * 2^53 turns.
        if let Some((index, &value)) = inv_freq[..pairs]
            .iter()
            .enumerate()
            .find(|(_, v)| !(**v >= 0.0 && **v <= core::f64::consts::TAU))
        {
            return Err(RopeError::BadFrequency { index, value });
        }
        let scale = attention * self.scale;
        for (what, value) in [("scale", self.scale), ("scale x attention factor", scale)] {
            if !(1.0 / MAX_SCALE..=MAX_SCALE).contains(&value) {
                return Err(RopeError::BadScale { what, value });
            }
        }
        let isa = Isa::of(self.backend.unwrap_or_else(Backend::detect))?;
        let rope = place();
        (rope.head_dim, rope.rotary_dim, rope.layout) = (head_dim, rotary_dim, self.layout);
        (rope.scale, rope.isa, rope.axes, rope.offset) = (scale, isa, self.axes, self.offset);
        rope.inv_freq = inv;
        for i in 0..pairs {
            (rope.turn_hi[i], rope.turn_lo[i]) = Turns::from_inv_freq(rope.inv_freq[i]).parts();
        }
        Ok(rope)
    }
}
