//! ggml's RoPE as a GGUF runtime runs it: `ggml_rope_ext`'s parameters ([`Ggml`]) and
//! `ggml_rope_multi`'s modes ([`GgmlMode`]), computed in f64 with ggml's formulas.

use core::f64::consts::PI;
use core::mem::MaybeUninit;

use crate::axes::Axes;
use crate::config::{PairLayout, Rope, MAX_PAIRS, MAX_ROTARY_DIM};
use crate::error::RopeError;
use crate::schedule::{bad, default_freq, factor_list, positive, positive_len};

/// ggml's RoPE parameters (`ggml_rope_ext`), for runtimes that read them from GGUF
/// metadata: build with [`Rope::ggml`](crate::Rope::ggml).
///
/// ggml computes, for pair `i` (`theta_extrap = base^(-2i/n_dims) / freq_factors[i]`):
/// `theta_interp = freq_scale * theta_extrap`; when `ext_factor != 0`,
/// `mix = (1 - clamp((i - lo) / max(0.001, hi - lo), 0, 1)) * ext_factor` with
/// `lo = max(0, floor(c(beta_fast)))`, `hi = min(n_dims - 1, ceil(c(beta_slow)))`,
/// `c(b) = n_dims * ln(n_ctx_orig / (2 pi b)) / (2 ln base)`, the frequency is
/// `theta_interp * (1 - mix) + theta_extrap * mix` and the magnitude
/// `attn_factor * (1 + 0.1 ln(1 / freq_scale))`; otherwise the frequency is `theta_interp`
/// and the magnitude `attn_factor`.
///
/// Where the results differ from ggml's: ggml evaluates all of this in f32, forms
/// `theta_i` by multiplying `theta_scale = base^(-2/n_dims)` `i` times (an error growing
/// with `i`, about `i` f32 ulps), and takes f32 `cosf`/`sinf` of the f32 product
/// `position * theta`. Here every step is f64 and the angle exact (see the crate docs), so
/// outputs agree with ggml to its own f32 error, which grows with the position.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Ggml<'a> {
    /// `n_dims` (`n_rot`): rotated channels per head.
    pub n_dims: usize,
    /// `freq_base` (`rope.freq_base`).
    pub freq_base: f64,
    /// `freq_scale` (1 / `rope.scaling.factor`; in `(0, 1]` for context extension).
    pub freq_scale: f64,
    /// `ext_factor`: 0 disables YaRN; llama.cpp passes 1 for YaRN models.
    pub ext_factor: f64,
    /// `attn_factor` (magnitude, usually 1).
    pub attn_factor: f64,
    /// `beta_fast` (32 in llama.cpp).
    pub beta_fast: f64,
    /// `beta_slow` (1 in llama.cpp).
    pub beta_slow: f64,
    /// `n_ctx_orig` (`rope.scaling.original_context_length`).
    pub n_ctx_orig: u64,
    /// `freq_factors` (the `rope_freqs` tensor), one per pair, dividing each frequency.
    pub freq_factors: Option<&'a [f64]>,
    /// `n_offs` (`ggml_rope_set_offset`): channels before the rotated ones (even; 0 but
    /// for models that rotate a slice of each head). See [`RopeBuilder::channel_offset`].
    ///
    /// [`RopeBuilder::channel_offset`]: crate::RopeBuilder::channel_offset
    pub n_offs: usize,
}

impl Ggml<'_> {
    /// Plain RoPE as ggml describes it: the given base and rotated channels, `freq_scale`
    /// 1, YaRN off (`ext_factor` 0), `attn_factor` 1, betas 32 / 1, `n_ctx_orig` 0, no
    /// channel offset.
    ///
    /// ```
    /// use rope_simd::{Ggml, PairLayout, Rope};
    /// let g = Ggml::new(128, 1e6); // rope.dimension_count 128, rope.freq_base 1e6
    /// let rope = Rope::ggml(128, PairLayout::HalfSplit, &g)?;
    /// assert_eq!(rope.scale(), 1.0);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn new(n_dims: usize, freq_base: f64) -> Self {
        Ggml {
            n_dims,
            freq_base,
            freq_scale: 1.0,
            ext_factor: 0.0,
            attn_factor: 1.0,
            beta_fast: 32.0,
            beta_slow: 1.0,
            n_ctx_orig: 0,
            freq_factors: None,
            n_offs: 0,
        }
    }
}

setters!(Ggml<'a> {
    n_dims: usize,
    freq_base: f64,
    freq_scale: f64,
    ext_factor: f64,
    attn_factor: f64,
    beta_fast: f64,
    beta_slow: f64,
    n_ctx_orig: u64,
    freq_factors: &'a [f64] => Some,
    n_offs: usize,
});

/// ggml's RoPE `mode`: how pairs are laid out and which position coordinate each turns by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GgmlMode {
    /// `GGML_ROPE_TYPE_NORMAL` (0): pairs `(x[2i], x[2i+1])`, one position per token;
    /// [`PairLayout::Interleaved`].
    Normal,
    /// `GGML_ROPE_TYPE_NEOX` (2): pairs `(x[i], x[i + n_dims/2])`, one position;
    /// [`PairLayout::HalfSplit`].
    Neox,
    /// `GGML_ROPE_TYPE_MROPE` (8): NeoX pairs, four position coordinates by section
    /// ([`Axes::GgmlMRope`]).
    MRope,
    /// `GGML_ROPE_TYPE_IMROPE` (40): NeoX pairs, sections interleaved
    /// ([`Axes::GgmlIMRope`]).
    IMRope,
    /// `GGML_ROPE_TYPE_VISION` (24): `n_dims` is half the head, pairs
    /// `(x[i], x[i + n_dims])` over the whole head, each section's frequencies starting
    /// from the first ([`Axes::GgmlVision`]).
    Vision,
}

impl GgmlMode {
    /// The mode of ggml's integer `mode`, or `None` for another value.
    ///
    /// ```
    /// use rope_simd::GgmlMode;
    /// assert_eq!(GgmlMode::from_ggml(40), Some(GgmlMode::IMRope));
    /// assert_eq!(GgmlMode::from_ggml(1), None);
    /// ```
    pub fn from_ggml(mode: i32) -> Option<GgmlMode> {
        match mode {
            0 => Some(GgmlMode::Normal),
            2 => Some(GgmlMode::Neox),
            8 => Some(GgmlMode::MRope),
            40 => Some(GgmlMode::IMRope),
            24 => Some(GgmlMode::Vision),
            _ => None,
        }
    }
}

impl Rope {
    /// A `Rope` from ggml's parameters (`ggml_rope_ext`, as a GGUF runtime reads them):
    /// `n_dims` rotated channels of `head_dim`, ggml's frequency and YaRN formulas in f64
    /// (see [`Ggml`] for the formulas and where ggml's f32 rounding differs), and its
    /// magnitude as the scale. ggml's `mode` is the layout: "normal" is
    /// [`PairLayout::Interleaved`], "neox" is [`PairLayout::HalfSplit`].
    ///
    /// ```
    /// use rope_simd::{Ggml, PairLayout, Rope};
    /// // A YaRN model as llama.cpp runs it: scaling factor 4 over 32768 positions.
    /// let g = Ggml::new(128, 1e6).freq_scale(0.25).ext_factor(1.0).n_ctx_orig(32_768);
    /// let rope = Rope::ggml(128, PairLayout::HalfSplit, &g)?;
    /// assert!((rope.scale() - (1.0 + 0.1 * 4f64.ln())).abs() < 1e-15);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`RopeBuilder::build`](crate::RopeBuilder::build), and [`RopeError::BadParameter`] for a non-positive or
    /// non-finite `freq_scale`, `attn_factor`, beta, `n_ctx_orig` (when YaRN is on) or
    /// freq factor.
    pub fn ggml(head_dim: usize, layout: PairLayout, g: &Ggml<'_>) -> Result<Self, RopeError> {
        let mut slot = MaybeUninit::uninit();
        Ok(Self::ggml_in_place(head_dim, layout, g, &mut slot)?.clone())
    }

    /// [`Rope::ggml`] built in `slot` (see [`RopeBuilder::build_in_place`](crate::RopeBuilder::build_in_place)).
    fn ggml_in_place<'s>(
        head_dim: usize,
        layout: PairLayout,
        g: &Ggml<'_>,
        slot: &'s mut MaybeUninit<Rope>,
    ) -> Result<&'s mut Rope, RopeError> {
        let mut inv = [0.0; MAX_PAIRS];
        let pairs = g.n_dims / 2;
        if g.n_dims == 0 || g.n_dims > MAX_ROTARY_DIM || !g.n_dims.is_multiple_of(2) {
            // Let the builder name the problem.
            return Self::builder(head_dim)
                .rotary_dim(g.n_dims)
                .build_in_place(slot);
        }
        let magnitude = schedule(g, |i| i, &mut inv[..pairs])?;
        Self::builder(head_dim)
            .rotary_dim(g.n_dims)
            .channel_offset(g.n_offs)
            .layout(layout)
            .inv_freqs(&inv[..pairs])
            .scale(magnitude)
            .build_in_place(slot)
    }

    /// A `Rope` for any ggml mode, with `ggml_rope_multi`'s four sections for the
    /// multi-axis ones (`rope.dimension_sections` in a GGUF file; ignored for
    /// [`GgmlMode::Normal`] and [`GgmlMode::Neox`]): ggml's frequencies and magnitude as in
    /// [`Rope::ggml`], its layout, and the [`Axes`] that pick each pair's coordinate. Pass
    /// multi-axis positions as [`Positions::Axes`](crate::Positions::Axes) with four
    /// coordinates per token (ggml's `pos[i]`, `pos[i + n]`, `pos[i + 2n]`, `pos[i + 3n]`).
    ///
    /// ```
    /// use rope_simd::{Ggml, GgmlMode, Positions, Rope, Rotate};
    /// // Qwen2-VL as llama.cpp runs it: M-RoPE over 128 channels, sections [16, 24, 24, 0].
    /// let rope = Rope::ggml_multi(128, GgmlMode::MRope, [16, 24, 24, 0], &Ggml::new(128, 1e6))?;
    /// let mut q = vec![0.5f32; 28 * 128];
    /// rope.rotate(&mut q, 28, Positions::Axes(&[7, 3, 5, 0]))?; // one token's t, h, w, e
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rope::ggml`]; [`RopeError::BadSections`] for sections summing to 0 (multi-axis
    /// modes), [`RopeError::Conflict`] for [`GgmlMode::Vision`] when `n_dims` is not half
    /// of `head_dim` (the only shape ggml defines).
    pub fn ggml_multi(
        head_dim: usize,
        mode: GgmlMode,
        sections: [u32; 4],
        g: &Ggml<'_>,
    ) -> Result<Self, RopeError> {
        let mut slot = MaybeUninit::uninit();
        Ok(Self::ggml_multi_in_place(head_dim, mode, sections, g, &mut slot)?.clone())
    }

    /// [`Rope::ggml_multi`] built in `slot` (a static, memory the caller owns): no copy
    /// of the `Rope` on the stack (see [`RopeBuilder::build_in_place`](crate::RopeBuilder::build_in_place)).
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use rope_simd::{Ggml, GgmlMode, Rope};
    /// let mut slot = MaybeUninit::uninit();
    /// let g = Ggml::new(128, 1e6);
    /// let rope = Rope::ggml_multi_in_place(128, GgmlMode::Neox, [0; 4], &g, &mut slot)?;
    /// assert_eq!(rope.pairs(), 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rope::ggml_multi`].
    pub fn ggml_multi_in_place<'s>(
        head_dim: usize,
        mode: GgmlMode,
        sections: [u32; 4],
        g: &Ggml<'_>,
        slot: &'s mut MaybeUninit<Rope>,
    ) -> Result<&'s mut Rope, RopeError> {
        let (axes, layout, rotary_dim, pairs) = match mode {
            GgmlMode::Normal => {
                return Self::ggml_in_place(head_dim, PairLayout::Interleaved, g, slot)
            }
            GgmlMode::Neox => return Self::ggml_in_place(head_dim, PairLayout::HalfSplit, g, slot),
            GgmlMode::MRope => (
                Axes::GgmlMRope(sections),
                PairLayout::HalfSplit,
                g.n_dims,
                g.n_dims / 2,
            ),
            GgmlMode::IMRope => (
                Axes::GgmlIMRope(sections),
                PairLayout::HalfSplit,
                g.n_dims,
                g.n_dims / 2,
            ),
            GgmlMode::Vision => {
                if 2 * g.n_dims != head_dim || g.n_offs != 0 {
                    return Err(RopeError::Conflict {
                        what: "GgmlMode::Vision with n_dims other than head_dim / 2, or n_offs",
                    });
                }
                (
                    Axes::GgmlVision(sections),
                    PairLayout::HalfSplit,
                    head_dim,
                    g.n_dims,
                )
            }
        };
        if pairs == 0 || 2 * pairs > MAX_ROTARY_DIM || !rotary_dim.is_multiple_of(2) {
            // Let the builder name the problem.
            return Self::builder(head_dim)
                .rotary_dim(rotary_dim)
                .build_in_place(slot);
        }
        axes.check(pairs)?;
        let mut inv = [0.0; MAX_PAIRS];
        let magnitude = schedule(g, |i| axes.frequency_index(i), &mut inv[..pairs])?;
        Self::builder(head_dim)
            .rotary_dim(rotary_dim)
            .channel_offset(g.n_offs)
            .layout(layout)
            .axes(axes)
            .inv_freqs(&inv[..pairs])
            .scale(magnitude)
            .build_in_place(slot)
    }
}

/// ggml's schedule (see [`Ggml`]) for `out.len()` pairs, pair `i`'s frequency exponent
/// being `index(i)` (itself, but for the vision mode); returns the magnitude.
fn schedule(
    g: &Ggml<'_>,
    index: impl Fn(usize) -> usize,
    out: &mut [f64],
) -> Result<f64, RopeError> {
    let pairs = out.len();
    let base = g.freq_base;
    if !(base.is_finite() && base > 1.0) {
        return Err(RopeError::BadBase { base });
    }
    let freq_scale = positive("freq_scale", g.freq_scale)?;
    let attn = positive("attn_factor", g.attn_factor)?;
    let ext = g.ext_factor;
    if !ext.is_finite() {
        return Err(bad("ext_factor", ext));
    }
    if let Some(ff) = g.freq_factors {
        factor_list("freq_factors", ff, pairs)?;
    }
    let n = g.n_dims as f64;
    let (mut lo, mut hi) = (0.0, 0.0);
    if ext != 0.0 {
        let beta_fast = positive("beta_fast", g.beta_fast)?;
        let beta_slow = positive("beta_slow", g.beta_slow)?;
        let orig = positive_len("n_ctx_orig", g.n_ctx_orig)?;
        let corr = |b: f64| n * libm::log(orig / (b * 2.0 * PI)) / (2.0 * libm::log(base));
        lo = libm::floor(corr(beta_fast)).max(0.0);
        hi = libm::ceil(corr(beta_slow)).min(n - 1.0);
    }
    for (i, o) in out.iter_mut().enumerate() {
        let mut extrap = default_freq(base, g.n_dims, index(i));
        if let Some(ff) = g.freq_factors {
            extrap /= ff[i];
        }
        let interp = freq_scale * extrap;
        *o = if ext != 0.0 {
            let y = (i as f64 - lo) / (hi - lo).max(0.001);
            let mix = (1.0 - y.clamp(0.0, 1.0)) * ext;
            interp * (1.0 - mix) + extrap * mix
        } else {
            interp
        };
    }
    Ok(if ext != 0.0 {
        attn * (1.0 + 0.1 * libm::log(1.0 / freq_scale))
    } else {
        attn
    })
}
