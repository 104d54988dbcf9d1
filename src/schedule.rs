//! Frequency schedules real models ship with, computed once in f64 with the parameter
//! semantics of Hugging Face transformers (`modeling_rope_utils`), and ggml's.
//!
//! A schedule turns `(base, rotary_dim, parameters)` into one inverse frequency per pair
//! and an *attention factor* (a magnitude multiplied into cos and sin: YaRN's mscale,
//! LongRoPE's scaling). [`RopeBuilder::scaling`](crate::RopeBuilder::scaling) takes a
//! [`Scaling`]; the attention factor multiplies the builder's `scale` (1 unless set), and
//! [`Rope::scale`](crate::Rope::scale) reports the product.
//!
//! Throughout, `d` is the rotary dimension (`rotary_dim`, transformers'
//! `int(head_dim * partial_rotary_factor)`) and pair `i` has the default inverse frequency
//! `base^(-2i/d)`.

use crate::config::MAX_PAIRS;
use crate::error::RopeError;
use core::f64::consts::PI;

/// How a model rescales the default frequencies for long contexts.
///
/// Each variant names the models that use it and the transformers `rope_type` it
/// reproduces; the formulas are transformers', evaluated in f64.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Scaling<'a> {
    /// The default schedule `base^(-2i/d)` (transformers `"default"`): Llama 2, Mistral,
    /// Qwen2 without YaRN, GPT-J, GPT-NeoX, Gemma.
    None,
    /// Linear scaling / position interpolation (transformers `"linear"`, Chen et al. 2023):
    /// every frequency divided by `factor` (positions squeezed by `factor`).
    Linear {
        /// The interpolation factor (> 0; models ship values >= 1).
        factor: f64,
    },
    /// Static NTK-aware scaling (the "NTK-aware" base change, bloc97 2023): the base
    /// becomes `base * alpha^(d / (d - 2))`. Needs `d > 2`.
    NtkAware {
        /// The scaling `alpha` (> 0).
        alpha: f64,
    },
    /// Dynamic NTK (transformers `"dynamic"`): NTK-aware with a base that grows with the
    /// current sequence length `L = max(seq_len, max_position_embeddings)`:
    /// `base * (factor * L / max_position_embeddings - (factor - 1))^(d / (d - 2))`.
    /// At or below `max_position_embeddings` it is the default schedule. The runtime
    /// builds a new [`Rope`](crate::Rope) when the length grows (64 `pow` calls for
    /// head_dim 128); keys already cached keep the rotation they were given, as in
    /// transformers. Needs `d > 2`.
    DynamicNtk {
        /// `factor` from the model's `rope_scaling` (> 0).
        factor: f64,
        /// transformers uses the config's `max_position_embeddings` here (> 0).
        max_position_embeddings: u64,
        /// The current sequence length (the largest position + 1).
        seq_len: u64,
    },
    /// YaRN (transformers `"yarn"`, Peng et al. 2023): Qwen2.5 long context, DeepSeek-V2/V3,
    /// GPT-OSS. See [`Yarn`].
    Yarn(Yarn),
    /// Llama 3.1 / 3.2 / 3.3 (transformers `"llama3"`). See [`Llama3`].
    Llama3(Llama3),
    /// LongRoPE (transformers `"longrope"`): Phi-3 / Phi-3.5 / Phi-4-mini long context.
    /// See [`LongRope`].
    LongRope(LongRope<'a>),
}

/// YaRN parameters (transformers `rope_type: "yarn"`). Start from [`Yarn::new`] (the
/// defaults transformers applies) and set the fields a config gives:
/// `Yarn::new(32.0, 4096).beta_fast(16.0).truncate(false)`.
///
/// Frequencies: `ramp_i = clamp((i - low) / (high - low), 0, 1)` over the pair index `i`,
/// where `low`/`high` are the pair indices at which a frequency turns `beta_fast` /
/// `beta_slow` times over `original_max_position_embeddings` positions
/// (`d * ln(L_orig / (2 pi beta)) / (2 ln base)`), floored/ceiled when `truncate`, then
/// clamped to `[0, d - 1]`; pair `i` gets
/// `base_i / factor * ramp_i + base_i * (1 - ramp_i)` (high frequencies kept, low ones
/// interpolated).
///
/// Attention factor (the magnitude multiplied into cos/sin), with transformers'
/// precedence: `attention_factor` if given; otherwise, if **both** `mscale` and
/// `mscale_all_dim` are given and non-zero, `m(factor, mscale) / m(factor, mscale_all_dim)`
/// (DeepSeek-V2/V3, where both are usually equal and the ratio is 1 — DeepSeek applies its
/// mscale to the softmax scale instead); otherwise `m(factor, 1)`, where
/// `m(s, k) = 1 + 0.1 k ln s` for `s > 1` and 1 otherwise. A lone `mscale` is ignored,
/// exactly as transformers ignores it.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Yarn {
    /// The context extension factor (> 0). transformers takes
    /// `max_position_embeddings / original_max_position_embeddings` when a config has none.
    pub factor: f64,
    /// The context length the model was pretrained with (> 0).
    pub original_max_position_embeddings: u64,
    /// Rotations above which a frequency is kept (default 32).
    pub beta_fast: f64,
    /// Rotations below which a frequency is interpolated (default 1; <= `beta_fast`).
    pub beta_slow: f64,
    /// DeepSeek's `mscale` (see the type docs for when it counts).
    pub mscale: Option<f64>,
    /// DeepSeek's `mscale_all_dim`.
    pub mscale_all_dim: Option<f64>,
    /// An explicit attention factor; takes precedence over `mscale`/`mscale_all_dim`.
    pub attention_factor: Option<f64>,
    /// Round the ramp's ends to whole pairs (default `true`; GPT-OSS configs set `false`).
    pub truncate: bool,
}

impl Yarn {
    /// YaRN with transformers' defaults: `beta_fast = 32`, `beta_slow = 1`, no
    /// `mscale`/`mscale_all_dim`/`attention_factor`, `truncate = true`.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope, Scaling, Yarn};
    /// // Qwen2.5-7B-Instruct with YaRN for 128k: factor 4 over 32768 positions.
    /// let rope = Rope::builder(128)
    ///     .base(1_000_000.0)
    ///     .scaling(Scaling::Yarn(Yarn::new(4.0, 32_768)))
    ///     .build()?;
    /// assert!((rope.scale() - (1.0 + 0.1 * 4f64.ln())).abs() < 1e-15);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn new(factor: f64, original_max_position_embeddings: u64) -> Self {
        Yarn {
            factor,
            original_max_position_embeddings,
            beta_fast: 32.0,
            beta_slow: 1.0,
            mscale: None,
            mscale_all_dim: None,
            attention_factor: None,
            truncate: true,
        }
    }
}

/// Llama 3.1 parameters (transformers `rope_type: "llama3"`): wavelengths `2 pi / theta_i`
/// longer than `L_orig / low_freq_factor` are divided by `factor`, those shorter than
/// `L_orig / high_freq_factor` kept, and those between blended with
/// `s = (L_orig / wavelength - low_freq_factor) / (high_freq_factor - low_freq_factor)`:
/// `(1 - s) * theta / factor + s * theta`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Llama3 {
    /// 8 in Llama 3.1 (32 in Llama 3.2 1B/3B).
    pub factor: f64,
    /// 1 in Llama 3.1.
    pub low_freq_factor: f64,
    /// 4 in Llama 3.1 (must exceed `low_freq_factor`).
    pub high_freq_factor: f64,
    /// 8192 in Llama 3.1.
    pub original_max_position_embeddings: u64,
}

impl Llama3 {
    /// Llama 3.1's published values: factor 8, low 1, high 4, original length 8192.
    ///
    /// ```
    /// use rope_simd::{Llama3, PairLayout, Rope, Scaling};
    /// let rope = Rope::builder(128)
    ///     .base(500_000.0)
    ///     .scaling(Scaling::Llama3(Llama3::llama_3_1()))
    ///     .build()?;
    /// assert_eq!(rope.inv_freqs()[0], 1.0); // short wavelengths are kept
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn llama_3_1() -> Self {
        Llama3::new(8.0, 1.0, 4.0, 8192)
    }

    /// Any parameters (Llama 3.2 1B/3B: factor 32, 1, 4, 8192).
    ///
    /// ```
    /// use rope_simd::{Llama3, Rope, Scaling};
    /// // Llama 3.2 1B / 3B: factor 32.
    /// let rope = Rope::builder(64)
    ///     .base(500_000.0)
    ///     .scaling(Scaling::Llama3(Llama3::new(32.0, 1.0, 4.0, 8192)))
    ///     .build()?;
    /// assert_eq!(rope.inv_freqs()[0], 1.0);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn new(
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: u64,
    ) -> Self {
        Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        }
    }
}

/// Which of LongRoPE's two factor lists to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LongRopeChoice {
    /// `short_factor`.
    Short,
    /// `long_factor`.
    Long,
    /// transformers' rule for a sequence of this length (largest position + 1): long
    /// factors when `seq_len > original_max_position_embeddings`, else short.
    SeqLen(u64),
}

/// LongRoPE parameters (transformers `rope_type: "longrope"`): pair `i` gets
/// `base_i / ext_i`, with `ext` the short or the long factor list (one per pair).
///
/// Attention factor: `attention_factor` if given, else, with
/// `factor = factor.unwrap_or(max_position_embeddings / original_max_position_embeddings)`,
/// 1 when `factor <= 1` and `sqrt(1 + ln(factor) / ln(original_max_position_embeddings))`
/// otherwise (Phi-3-mini-128k: factor 32, original 4096 -> 1.19024).
///
/// transformers switches the whole model to the long factors once a sequence is longer
/// than the original length; keys cached with the short ones can be moved to the long ones
/// with [`Rope::rerotation`](crate::Rope::rerotation) instead of being recomputed.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct LongRope<'a> {
    /// `short_factor`: `rotary_dim / 2` values, each > 0.
    pub short_factor: &'a [f64],
    /// `long_factor`: `rotary_dim / 2` values, each > 0.
    pub long_factor: &'a [f64],
    /// The pretraining length (4096 for Phi-3); > 1.
    pub original_max_position_embeddings: u64,
    /// The config's `max_position_embeddings` (131072 for Phi-3-128k).
    pub max_position_embeddings: u64,
    /// An explicit `factor` (overrides the ratio of the two lengths).
    pub factor: Option<f64>,
    /// An explicit attention factor.
    pub attention_factor: Option<f64>,
    /// Which list to use.
    pub choice: LongRopeChoice,
}

/// LongRoPE's two context lengths, named so that they cannot be swapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContextLengths {
    /// `original_max_position_embeddings`: the pretraining length (4096 for Phi-3).
    pub original: u64,
    /// `max_position_embeddings`: the extended length (131072 for Phi-3-128k).
    pub extended: u64,
}

impl<'a> LongRope<'a> {
    /// LongRoPE with the factor lists, the two lengths and the choice; no explicit
    /// `factor` or `attention_factor`.
    ///
    /// ```
    /// use rope_simd::{ContextLengths, LongRope, LongRopeChoice, Rope, Scaling};
    /// let (short, long) = ([1.0; 48], [4.0; 48]);
    /// let lengths = ContextLengths { original: 4096, extended: 131_072 };
    /// let lr = LongRope::new(&short, &long, lengths, LongRopeChoice::SeqLen(10_000));
    /// let rope = Rope::builder(96).scaling(Scaling::LongRope(lr)).build()?;
    /// assert!(lr.uses_long() && rope.scale() > 1.19);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn new(
        short_factor: &'a [f64],
        long_factor: &'a [f64],
        lengths: ContextLengths,
        choice: LongRopeChoice,
    ) -> Self {
        LongRope {
            short_factor,
            long_factor,
            original_max_position_embeddings: lengths.original,
            max_position_embeddings: lengths.extended,
            factor: None,
            attention_factor: None,
            choice,
        }
    }

    /// `true` if `choice` selects the long factors.
    ///
    /// ```
    /// use rope_simd::{ContextLengths, LongRope, LongRopeChoice};
    /// let lengths = ContextLengths { original: 4096, extended: 131_072 };
    /// let lr = LongRope::new(&[1.0], &[2.0], lengths, LongRopeChoice::SeqLen(4096));
    /// assert!(!lr.uses_long()); // long factors only past the original length
    /// assert!(lr.choice(LongRopeChoice::SeqLen(4097)).uses_long());
    /// ```
    pub fn uses_long(&self) -> bool {
        match self.choice {
            LongRopeChoice::Short => false,
            LongRopeChoice::Long => true,
            LongRopeChoice::SeqLen(n) => n > self.original_max_position_embeddings,
        }
    }
}

setters!(Yarn {
    beta_fast: f64,
    beta_slow: f64,
    mscale: f64 => Some,
    mscale_all_dim: f64 => Some,
    attention_factor: f64 => Some,
    truncate: bool,
});

setters!(LongRope<'a> {
    factor: f64 => Some,
    attention_factor: f64 => Some,
    choice: LongRopeChoice,
});

pub(crate) fn bad(what: &'static str, value: f64) -> RopeError {
    RopeError::BadParameter { what, value }
}

/// `value` finite and > 0.
pub(crate) fn positive(what: &'static str, value: f64) -> Result<f64, RopeError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(bad(what, value))
    }
}

/// A per-pair factor list: `pairs` values, each finite and > 0.
pub(crate) fn factor_list(what: &'static str, list: &[f64], pairs: usize) -> Result<(), RopeError> {
    crate::error::check_len(what, pairs, list.len())?;
    list.iter().try_for_each(|&f| positive(what, f).map(|_| ()))
}

pub(crate) fn positive_len(what: &'static str, value: u64) -> Result<f64, RopeError> {
    if value == 0 {
        Err(bad(what, 0.0))
    } else {
        Ok(value as f64)
    }
}

/// The default schedule: `base^(-2i / dim)`.
pub(crate) fn default_freq(base: f64, dim: usize, i: usize) -> f64 {
    default_inv_freq(base, dim, i)
}

/// The NTK exponent `d / (d - 2)`.
fn ntk_exponent(dim: usize) -> Result<f64, RopeError> {
    if dim <= 2 {
        return Err(bad(
            "rotary_dim (NTK scaling needs more than 2)",
            dim as f64,
        ));
    }
    Ok(dim as f64 / (dim as f64 - 2.0))
}

/// How a builder computes its frequencies: [`compute`] once a scaling is set
/// (`RopeBuilder::scaling`), else [`unscaled`], so that a program that never sets one
/// links none of the scalings' code (a Cortex-M program's size, `sizes.txt`).
pub(crate) type Schedule =
    fn(&Scaling<'_>, f64, usize, Option<&[f64]>, &mut [f64]) -> Result<f64, RopeError>;

/// The checks every schedule starts with: the base, and the `freq_factors` count and
/// values.
fn check_inputs(base: f64, freq_factors: Option<&[f64]>, pairs: usize) -> Result<(), RopeError> {
    if !(base.is_finite() && base > 1.0) {
        return Err(RopeError::BadBase { base });
    }
    if let Some(ff) = freq_factors {
        factor_list("freq_factors", ff, pairs)?;
    }
    Ok(())
}

/// [`compute`] for [`Scaling::None`], the builder's default: the default frequencies,
/// each divided by its `freq_factors` entry; attention factor 1.
pub(crate) fn unscaled(
    scaling: &Scaling<'_>,
    base: f64,
    dim: usize,
    freq_factors: Option<&[f64]>,
    out: &mut [f64],
) -> Result<f64, RopeError> {
    debug_assert!(
        *scaling == Scaling::None,
        "a scaling set without its schedule"
    );
    check_inputs(base, freq_factors, out.len())?;
    for (i, o) in out.iter_mut().enumerate() {
        let f = default_freq(base, dim, i);
        *o = freq_factors.map_or(f, |ff| f / ff[i]);
    }
    Ok(1.0)
}

/// Fill `out` (one per pair) with the inverse frequencies of `scaling` over `dim`
/// channels (`out.len() <= dim / 2`), each base frequency first divided by its
/// `freq_factors` entry. Returns the attention factor.
pub(crate) fn compute(
    scaling: &Scaling<'_>,
    base: f64,
    dim: usize,
    freq_factors: Option<&[f64]>,
    out: &mut [f64],
) -> Result<f64, RopeError> {
    let pairs = out.len();
    debug_assert!(pairs <= MAX_PAIRS && 2 * pairs <= dim);
    if *scaling == Scaling::None {
        return unscaled(scaling, base, dim, freq_factors, out);
    }
    check_inputs(base, freq_factors, pairs)?;
    let divide = |i: usize, f: f64| match freq_factors {
        Some(ff) => f / ff[i],
        None => f,
    };
    let mut attention = 1.0;
    match *scaling {
        Scaling::None => unreachable!("handled above"),
        Scaling::Linear { factor } => {
            let factor = positive("linear factor", factor)?;
            for (i, o) in out.iter_mut().enumerate() {
                *o = divide(i, default_freq(base, dim, i)) / factor;
            }
        }
        Scaling::NtkAware { alpha } => {
            let alpha = positive("NTK alpha", alpha)?;
            let base = base * libm::pow(alpha, ntk_exponent(dim)?);
            for (i, o) in out.iter_mut().enumerate() {
                *o = divide(i, default_freq(base, dim, i));
            }
        }
        Scaling::DynamicNtk {
            factor,
            max_position_embeddings,
            seq_len,
        } => {
            let factor = positive("dynamic NTK factor", factor)?;
            let max = positive_len("max_position_embeddings", max_position_embeddings)?;
            let len = (seq_len as f64).max(max);
            let grow = factor * len / max - (factor - 1.0);
            let base = base * libm::pow(positive("dynamic NTK growth", grow)?, ntk_exponent(dim)?);
            for (i, o) in out.iter_mut().enumerate() {
                *o = divide(i, default_freq(base, dim, i));
            }
        }
        Scaling::Yarn(y) => {
            attention = yarn(&y, base, dim, &divide, out)?;
        }
        Scaling::Llama3(l) => llama3(&l, base, dim, &divide, out)?,
        Scaling::LongRope(l) => {
            factor_list("short_factor", l.short_factor, pairs)?;
            factor_list("long_factor", l.long_factor, pairs)?;
            let orig = positive_len(
                "original_max_position_embeddings",
                l.original_max_position_embeddings,
            )?;
            if orig <= 1.0 {
                return Err(bad("original_max_position_embeddings", orig));
            }
            let factor = match l.factor {
                Some(f) => positive("longrope factor", f)?,
                None => positive_len("max_position_embeddings", l.max_position_embeddings)? / orig,
            };
            attention = match l.attention_factor {
                Some(a) => positive("attention_factor", a)?,
                None if factor <= 1.0 => 1.0,
                None => libm::sqrt(1.0 + libm::log(factor) / libm::log(orig)),
            };
            let ext = if l.uses_long() {
                l.long_factor
            } else {
                l.short_factor
            };
            for (i, o) in out.iter_mut().enumerate() {
                *o = divide(i, default_freq(base, dim, i)) / ext[i];
            }
        }
    }
    Ok(attention)
}

/// YaRN's `get_mscale`.
fn yarn_mscale(scale: f64, mscale: f64) -> f64 {
    if scale <= 1.0 {
        1.0
    } else {
        0.1 * mscale * libm::log(scale) + 1.0
    }
}

fn yarn(
    y: &Yarn,
    base: f64,
    dim: usize,
    divide: &dyn Fn(usize, f64) -> f64,
    out: &mut [f64],
) -> Result<f64, RopeError> {
    let factor = positive("yarn factor", y.factor)?;
    let orig = positive_len(
        "original_max_position_embeddings",
        y.original_max_position_embeddings,
    )?;
    let beta_fast = positive("beta_fast", y.beta_fast)?;
    let beta_slow = positive("beta_slow", y.beta_slow)?;
    if beta_fast < beta_slow {
        return Err(bad("beta_fast (must be >= beta_slow)", beta_fast));
    }
    for (what, v) in [("mscale", y.mscale), ("mscale_all_dim", y.mscale_all_dim)] {
        if let Some(v) = v.filter(|v| !v.is_finite()) {
            return Err(bad(what, v));
        }
    }
    let attention = match (y.attention_factor, y.mscale, y.mscale_all_dim) {
        (Some(a), _, _) => positive("attention_factor", a)?,
        (None, Some(m), Some(all)) if m != 0.0 && all != 0.0 => {
            yarn_mscale(factor, m) / yarn_mscale(factor, all)
        }
        _ => yarn_mscale(factor, 1.0),
    };
    let d = dim as f64;
    let correction =
        |rotations: f64| d * libm::log(orig / (rotations * 2.0 * PI)) / (2.0 * libm::log(base));
    let (mut low, mut high) = (correction(beta_fast), correction(beta_slow));
    if y.truncate {
        low = libm::floor(low);
        high = libm::ceil(high);
    }
    let low = low.max(0.0);
    let mut high = high.min(d - 1.0);
    if low == high {
        high += 0.001; // transformers' guard against a zero-width ramp
    }
    for (i, o) in out.iter_mut().enumerate() {
        let extrapolation = divide(i, default_freq(base, dim, i));
        let interpolation = extrapolation / factor;
        let ramp = ((i as f64 - low) / (high - low)).clamp(0.0, 1.0);
        let keep = 1.0 - ramp; // transformers' inv_freq_extrapolation_factor
        *o = interpolation * (1.0 - keep) + extrapolation * keep;
    }
    Ok(attention)
}

fn llama3(
    l: &Llama3,
    base: f64,
    dim: usize,
    divide: &dyn Fn(usize, f64) -> f64,
    out: &mut [f64],
) -> Result<(), RopeError> {
    let factor = positive("llama3 factor", l.factor)?;
    let low = positive("low_freq_factor", l.low_freq_factor)?;
    let high = positive("high_freq_factor", l.high_freq_factor)?;
    if high <= low {
        return Err(bad("high_freq_factor (must exceed low_freq_factor)", high));
    }
    let old = positive_len(
        "original_max_position_embeddings",
        l.original_max_position_embeddings,
    )?;
    let (low_wavelen, high_wavelen) = (old / low, old / high);
    for (i, o) in out.iter_mut().enumerate() {
        let f = divide(i, default_freq(base, dim, i));
        let wavelen = 2.0 * PI / f;
        *o = if wavelen > low_wavelen {
            f / factor
        } else if wavelen < high_wavelen {
            f
        } else {
            let smooth = (old / wavelen - low) / (high - low);
            (1.0 - smooth) * f / factor + smooth * f
        };
    }
    Ok(())
}

/// The default RoPE schedule (RoFormer): `theta_i = base^(-2i / rotary_dim)` for pair `i`.
///
/// Computed in f64 with `libm::pow`, so it is the same on every target.
///
/// ```
/// assert_eq!(rope_simd::default_inv_freq(10_000.0, 4, 1), 0.01);
/// ```
pub fn default_inv_freq(base: f64, rotary_dim: usize, pair: usize) -> f64 {
    libm::pow(base, -((2 * pair) as f64) / rotary_dim as f64)
}
