//! A Hugging Face transformers `config.json`'s RoPE fields, and the [`Rope`] they describe,
//! following transformers' rules where its code leaves them implicit (which field wins,
//! what a missing value defaults to). [`HfConfig::from_json`] reads the file (`json.rs`); with
//! the `serde` feature [`HfConfig`] also deserializes from it (`hf_serde.rs`).

use crate::axes::Axes;
use crate::builder::RopeBuilder;
use crate::config::{PairLayout, Rope, MAX_PAIRS};
use crate::error::RopeError;
use crate::schedule::{ContextLengths, Llama3, LongRope, LongRopeChoice, Scaling, Yarn};

/// transformers' `rope_type` (`type` in older configs): which schedule a model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RopeType {
    /// `"default"` (and Qwen2-VL's older `"mrope"`): `base^(-2i/d)`.
    #[default]
    Default,
    /// `"linear"`: [`Scaling::Linear`].
    Linear,
    /// `"dynamic"`: [`Scaling::DynamicNtk`].
    Dynamic,
    /// `"yarn"`: [`Scaling::Yarn`].
    Yarn,
    /// `"longrope"` (and Phi-3's older `"su"`): [`Scaling::LongRope`].
    LongRope,
    /// `"llama3"`: [`Scaling::Llama3`].
    Llama3,
    /// `"proportional"`: [`RopeBuilder::proportional_rotary`] (Gemma 4).
    Proportional,
    /// `"axial"`: 2-D axial RoPE of vision encoders ([`Axes::Axial2d`]).
    Axial,
}

impl RopeType {
    /// The names transformers writes, each with its type.
    pub const NAMES: [(&'static str, RopeType); 10] = [
        ("default", RopeType::Default),
        ("mrope", RopeType::Default),
        ("linear", RopeType::Linear),
        ("dynamic", RopeType::Dynamic),
        ("yarn", RopeType::Yarn),
        ("longrope", RopeType::LongRope),
        ("su", RopeType::LongRope),
        ("llama3", RopeType::Llama3),
        ("proportional", RopeType::Proportional),
        ("axial", RopeType::Axial),
    ];

    /// The type a config's `rope_type` names, or `None` for a name transformers does not
    /// know.
    ///
    /// ```
    /// use rope_simd::RopeType;
    /// assert_eq!(RopeType::from_name("llama3"), Some(RopeType::Llama3));
    /// assert_eq!(RopeType::from_name("su"), Some(RopeType::LongRope));
    /// assert_eq!(RopeType::from_name("xpos"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<RopeType> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, t)| t)
    }
}

/// A per-pair factor list from a config (LongRoPE's `short_factor` / `long_factor`), held
/// inline so that a config needs no allocator: at most `MAX_ROTARY_DIM / 2` values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FactorList {
    values: [f64; MAX_PAIRS],
    len: usize,
}

impl FactorList {
    /// A copy of `values`, or [`RopeError::WrongLength`] if there are more than
    /// `MAX_ROTARY_DIM / 2`.
    ///
    /// ```
    /// use rope_simd::FactorList;
    /// let list = FactorList::new(&[1.0, 1.5, 2.0])?;
    /// assert_eq!(list.as_slice(), [1.0, 1.5, 2.0]);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn new(values: &[f64]) -> Result<Self, RopeError> {
        if values.len() > MAX_PAIRS {
            return Err(RopeError::WrongLength {
                what: "factor list (at most MAX_ROTARY_DIM / 2 values)",
                expected: MAX_PAIRS,
                got: values.len(),
            });
        }
        let mut list = FactorList {
            values: [0.0; MAX_PAIRS],
            len: values.len(),
        };
        list.values[..values.len()].copy_from_slice(values);
        Ok(list)
    }

    /// The values.
    ///
    /// ```
    /// use rope_simd::FactorList;
    /// assert_eq!(FactorList::new(&[1.0, 2.0])?.as_slice(), [1.0, 2.0]);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn as_slice(&self) -> &[f64] {
        &self.values[..self.len]
    }
}

/// One set of RoPE parameters: transformers' `rope_parameters` (`rope_scaling` before
/// transformers 5) with `rope_theta`. A field a config does not give is `None` and takes
/// transformers' default when the [`Rope`] is built.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
pub struct HfRopeParameters {
    /// `rope_type` (or `type`).
    pub rope_type: RopeType,
    /// `rope_theta` (default 10000).
    pub rope_theta: Option<f64>,
    /// `factor`.
    pub factor: Option<f64>,
    /// `original_max_position_embeddings` inside the parameters.
    pub original_max_position_embeddings: Option<u64>,
    /// `low_freq_factor` (Llama 3).
    pub low_freq_factor: Option<f64>,
    /// `high_freq_factor` (Llama 3).
    pub high_freq_factor: Option<f64>,
    /// `beta_fast` (YaRN; 32 when absent or 0, as transformers' `or 32`).
    pub beta_fast: Option<f64>,
    /// `beta_slow` (YaRN; 1 when absent or 0).
    pub beta_slow: Option<f64>,
    /// `mscale` (DeepSeek's YaRN).
    pub mscale: Option<f64>,
    /// `mscale_all_dim` (DeepSeek's YaRN).
    pub mscale_all_dim: Option<f64>,
    /// `attention_factor` (YaRN, LongRoPE).
    pub attention_factor: Option<f64>,
    /// `truncate` (YaRN; default `true`).
    pub truncate: Option<bool>,
    /// `partial_rotary_factor` inside the parameters (transformers 5 puts it there).
    pub partial_rotary_factor: Option<f64>,
}

impl HfRopeParameters {
    /// Parameters of this type with nothing else set.
    ///
    /// ```
    /// use rope_simd::{HfRopeParameters, RopeType};
    /// let mut p = HfRopeParameters::new(RopeType::Linear);
    /// p.factor = Some(8.0);
    /// assert_eq!(p.rope_type, RopeType::Linear);
    /// ```
    pub fn new(rope_type: RopeType) -> Self {
        HfRopeParameters {
            rope_type,
            ..Self::default()
        }
    }
}

/// Which attention layers' RoPE to build, for models whose layers differ (Gemma 3:
/// `full_attention` layers with theta 1e6 and linear scaling, `sliding_attention` layers
/// with theta 10000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerKind {
    /// Global (full) attention: the config's main RoPE parameters.
    Full,
    /// Sliding-window (local) attention: `rope_parameters.sliding_attention`, or
    /// `rope_local_base_freq` in transformers 4 configs; the main parameters when the
    /// config has neither.
    Sliding,
}

/// The RoPE-relevant fields of a transformers model configuration (`config.json`), in both
/// spellings transformers has used: `rope_scaling` with a top-level `rope_theta`
/// (transformers 4) and `rope_parameters` with `rope_theta` inside (transformers 5), `type`
/// or `rope_type`, a multimodal model's `text_config`, and per-layer-type parameters.
///
/// [`HfConfig::from_json`] reads it from the file's bytes (no allocator); with the `serde`
/// feature it also deserializes (`serde_json::from_str`, the same result); or start from
/// [`HfConfig::new`] and set the fields. [`HfConfig::rope`] builds
/// the [`Rope`] for a sequence length.
///
/// ```
/// use rope_simd::{HfConfig, HfRopeParameters, LayerKind, PairLayout, RopeType};
/// // Llama 3.1 8B's config.json: rope_theta 500000, rope_scaling llama3.
/// let mut config = HfConfig::new(PairLayout::HalfSplit);
/// config.hidden_size = Some(4096);
/// config.num_attention_heads = Some(32);
/// config.max_position_embeddings = Some(131_072);
/// config.rope = HfRopeParameters::new(RopeType::Llama3);
/// config.rope.rope_theta = Some(500_000.0);
/// config.rope.factor = Some(8.0);
/// config.rope.low_freq_factor = Some(1.0);
/// config.rope.high_freq_factor = Some(4.0);
/// config.rope.original_max_position_embeddings = Some(8192);
/// let rope = config.rope(LayerKind::Full, 4096)?;
/// assert_eq!((rope.head_dim(), rope.inv_freqs()[0]), (128, 1.0));
/// # Ok::<(), rope_simd::RopeError>(())
/// ```
///
/// **Which fields win**, as in transformers: `rope_theta` and `partial_rotary_factor`
/// inside the parameters before the top-level ones; for `llama3`, `yarn` and `longrope`,
/// a top-level `original_max_position_embeddings` (Phi-3) before the one in the
/// parameters, then `max_position_embeddings`; YaRN's and LongRoPE's missing `factor` is
/// `max_position_embeddings / original_max_position_embeddings`. The head is
/// `qk_rope_head_dim` (DeepSeek's rope head), else `head_dim`, else `hidden_size /
/// num_attention_heads`; the rotated channels are GPT-J's `rotary_dim`, else
/// `int(head_dim * partial_rotary_factor)` (GPT-NeoX's `rotary_pct` is that factor).
///
/// **State the caller keeps.** LongRoPE picks its factor list by sequence length, and
/// dynamic NTK recomputes its base for the longest sequence transformers has cached:
/// track that length with [`HfConfig::dynamic_ntk_len`] and build a new `Rope` when it
/// changes (cheap: one `pow` per pair).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HfConfig {
    /// The pair layout: from `model_type` ([`HfConfig::layout_of`]) and DeepSeek's
    /// `rope_interleave`.
    pub layout: PairLayout,
    /// `head_dim`.
    pub head_dim: Option<usize>,
    /// `hidden_size`.
    pub hidden_size: Option<usize>,
    /// `num_attention_heads`.
    pub num_attention_heads: Option<usize>,
    /// `qk_rope_head_dim` (DeepSeek-V2/V3: the rope part of each head).
    pub qk_rope_head_dim: Option<usize>,
    /// `rotary_dim` (GPT-J: rotated channels per head).
    pub rotary_dim: Option<usize>,
    /// Top-level `partial_rotary_factor` (or GPT-NeoX's `rotary_pct`).
    pub partial_rotary_factor: Option<f64>,
    /// `max_position_embeddings`.
    pub max_position_embeddings: Option<u64>,
    /// Top-level `original_max_position_embeddings` (Phi-3).
    pub original_max_position_embeddings: Option<u64>,
    /// Top-level `rope_theta` (or GPT-NeoX's `rotary_emb_base`).
    pub rope_theta: Option<f64>,
    /// The main RoPE parameters (`rope_parameters`, `rope_scaling`, or
    /// `rope_parameters.full_attention`).
    pub rope: HfRopeParameters,
    /// Sliding-attention layers' parameters, where they differ.
    pub sliding: Option<HfRopeParameters>,
    /// LongRoPE's `short_factor`.
    pub short_factor: Option<FactorList>,
    /// LongRoPE's `long_factor`.
    pub long_factor: Option<FactorList>,
    /// `mrope_section` (Qwen2-VL, Qwen3-VL): pairs per temporal, height, width axis.
    pub mrope_section: Option<[u32; 3]>,
    /// `mrope_interleaved` (Qwen3-VL).
    pub mrope_interleaved: bool,
}

impl HfConfig {
    /// A config with this layout and nothing else set (default RoPE, theta 10000).
    ///
    /// ```
    /// use rope_simd::{HfConfig, LayerKind, PairLayout};
    /// let mut config = HfConfig::new(PairLayout::HalfSplit);
    /// config.head_dim = Some(64);
    /// config.rope_theta = Some(1e6);
    /// assert_eq!(config.rope(LayerKind::Full, 1)?.head_dim(), 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn new(layout: PairLayout) -> Self {
        HfConfig {
            layout,
            head_dim: None,
            hidden_size: None,
            num_attention_heads: None,
            qk_rope_head_dim: None,
            rotary_dim: None,
            partial_rotary_factor: None,
            max_position_embeddings: None,
            original_max_position_embeddings: None,
            rope_theta: None,
            rope: HfRopeParameters::default(),
            sliding: None,
            short_factor: None,
            long_factor: None,
            mrope_section: None,
            mrope_interleaved: false,
        }
    }

    /// The pair layout of a transformers `model_type`: interleaved for the models whose
    /// code rotates `(x[2i], x[2i+1])` (GPT-J, CodeGen, Cohere, GLM, GLM-4, ERNIE 4.5,
    /// Helium, DeepSeek-V2), DeepSeek-V3's [`PairLayout::InterleavedToHalfSplit`] when
    /// `rope_interleave` is true (its default), half-split for every other model
    /// (Llama, Mistral, Qwen, Phi, Gemma, GPT-NeoX, gpt-oss, ...).
    ///
    /// ```
    /// use rope_simd::{HfConfig, PairLayout};
    /// assert_eq!(HfConfig::layout_of("gptj", None), PairLayout::Interleaved);
    /// assert_eq!(HfConfig::layout_of("deepseek_v3", None), PairLayout::InterleavedToHalfSplit);
    /// assert_eq!(HfConfig::layout_of("llama", None), PairLayout::HalfSplit);
    /// ```
    pub fn layout_of(model_type: &str, rope_interleave: Option<bool>) -> PairLayout {
        const INTERLEAVED: [&str; 11] = [
            "gptj",
            "codegen",
            "cohere",
            "cohere2",
            "cohere2_moe",
            "glm",
            "glm4",
            "ernie4_5",
            "ernie4_5_moe",
            "helium",
            "deepseek_v2",
        ];
        match (model_type, rope_interleave) {
            (_, Some(true)) | ("deepseek_v3", None) => PairLayout::InterleavedToHalfSplit,
            (t, _) if INTERLEAVED.contains(&t) => PairLayout::Interleaved,
            _ => PairLayout::HalfSplit,
        }
    }

    /// The sequence length whose frequencies transformers' dynamic NTK uses after a
    /// forward pass over `seq_len` positions (the largest position + 1), given the length
    /// `cached` from the previous pass (start from `max_position_embeddings`): it grows to
    /// any longer sequence, and goes back to `max_position_embeddings` when a sequence is
    /// shorter than that after having grown. Build a new `Rope` when it changes.
    ///
    /// ```
    /// use rope_simd::HfConfig;
    /// let mut config = HfConfig::new(rope_simd::PairLayout::HalfSplit);
    /// config.max_position_embeddings = Some(4096);
    /// assert_eq!(config.dynamic_ntk_len(4096, 6000), 6000); // grows
    /// assert_eq!(config.dynamic_ntk_len(6000, 5000), 6000); // kept
    /// assert_eq!(config.dynamic_ntk_len(6000, 100), 4096); // reset
    /// ```
    pub fn dynamic_ntk_len(&self, cached: u64, seq_len: u64) -> u64 {
        let original = self.max_position_embeddings.unwrap_or(0);
        if seq_len > cached {
            seq_len
        } else if seq_len < original && cached > original {
            original
        } else {
            cached
        }
    }

    /// The parameters of `layer`.
    fn parameters(&self, layer: LayerKind) -> &HfRopeParameters {
        match (layer, &self.sliding) {
            (LayerKind::Sliding, Some(p)) => p,
            _ => &self.rope,
        }
    }

    /// The RoPE head: `qk_rope_head_dim`, `head_dim`, or `hidden_size / num_attention_heads`.
    ///
    /// ```
    /// use rope_simd::{HfConfig, PairLayout};
    /// let mut deepseek = HfConfig::new(PairLayout::InterleavedToHalfSplit);
    /// deepseek.head_dim = Some(192);
    /// deepseek.qk_rope_head_dim = Some(64); // the rope part of each head
    /// assert_eq!(deepseek.rope_head_dim()?, 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn rope_head_dim(&self) -> Result<usize, RopeError> {
        self.qk_rope_head_dim
            .or(self.head_dim)
            .or(match (self.hidden_size, self.num_attention_heads) {
                (Some(h), Some(n)) if n > 0 => Some(h / n),
                _ => None,
            })
            .ok_or(RopeError::MissingField {
                what: "head_dim (or hidden_size and num_attention_heads)",
            })
    }

    /// The [`Rope`] of `layer` for a sequence of `seq_len` positions (the largest position
    /// + 1; only LongRoPE and dynamic NTK depend on it), on the best backend.
    ///
    /// ```
    /// use rope_simd::{HfConfig, LayerKind, PairLayout};
    /// let mut config = HfConfig::new(PairLayout::HalfSplit);
    /// (config.hidden_size, config.num_attention_heads) = (Some(2048), Some(16));
    /// let rope = config.rope(LayerKind::Full, 4096)?;
    /// assert_eq!((rope.head_dim(), rope.inv_freqs()[0]), (128, 1.0));
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::MissingField`] for a value the schedule needs that the config lacks
    /// (Llama 3's `factor`, dynamic NTK's `max_position_embeddings`, LongRoPE's factor
    /// lists, ...); otherwise as [`RopeBuilder::build`].
    pub fn rope(&self, layer: LayerKind, seq_len: u64) -> Result<Rope, RopeError> {
        self.builder(layer, seq_len)?.build()
    }

    /// The builder [`HfConfig::rope`] uses, to set a backend or a scale before building.
    ///
    /// ```
    /// use rope_simd::{Backend, HfConfig, LayerKind, PairLayout};
    /// let mut config = HfConfig::new(PairLayout::HalfSplit);
    /// config.head_dim = Some(64);
    /// let rope = config.builder(LayerKind::Full, 1)?.backend(Backend::Scalar).build()?;
    /// assert_eq!(rope.backend(), Backend::Scalar);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`HfConfig::rope`], for the fields it reads.
    pub fn builder(&self, layer: LayerKind, seq_len: u64) -> Result<RopeBuilder<'_>, RopeError> {
        let p = self.parameters(layer);
        let head_dim = self.rope_head_dim()?;
        let base = p.rope_theta.or(self.rope_theta).unwrap_or(10_000.0);
        let partial = p.partial_rotary_factor.or(self.partial_rotary_factor);
        let mut b = Rope::builder(head_dim).base(base).layout(self.layout);
        if let Some(s) = self.mrope_section {
            b = b.axes(if self.mrope_interleaved {
                Axes::MRopeInterleaved(s)
            } else {
                Axes::MRope(s)
            });
        }
        if p.rope_type == RopeType::Axial {
            b = b.axes(Axes::Axial2d);
        }
        // transformers' `int(head_dim * partial_rotary_factor)`.
        let fraction = |f: f64| (head_dim as f64 * f) as usize;
        if p.rope_type == RopeType::Proportional {
            // `rope_angles = int(partial_rotary_factor * head_dim // 2)` pairs turn.
            let angles = (partial.unwrap_or(1.0) * head_dim as f64 / 2.0) as usize;
            b = b.proportional_rotary(angles.saturating_mul(2));
        } else if let Some(r) = self.rotary_dim {
            b = b.rotary_dim(r);
        } else if let Some(f) = partial {
            b = b.rotary_dim(fraction(f));
        }
        let need = |v: Option<f64>, what: &'static str| v.ok_or(RopeError::MissingField { what });
        let max_pos = self.max_position_embeddings;
        // llama3, yarn and longrope: Phi-3's top-level value first, as transformers does.
        let original = self
            .original_max_position_embeddings
            .or(p.original_max_position_embeddings)
            .or(max_pos)
            .ok_or(RopeError::MissingField {
                what: "original_max_position_embeddings (or max_position_embeddings)",
            });
        // YaRN and LongRoPE: no factor means the ratio of the two lengths.
        let ratio = |original: u64| match (p.factor, max_pos) {
            (Some(f), _) => Ok(f),
            (None, Some(m)) if original > 0 => Ok(m as f64 / original as f64),
            _ => Err(RopeError::MissingField { what: "factor" }),
        };
        let scaling = match p.rope_type {
            RopeType::Default | RopeType::Axial => Scaling::None,
            RopeType::Linear => Scaling::Linear {
                factor: need(p.factor, "factor")?,
            },
            RopeType::Proportional => match p.factor {
                Some(f) if f != 1.0 => Scaling::Linear { factor: f },
                _ => Scaling::None,
            },
            RopeType::Dynamic => Scaling::DynamicNtk {
                factor: need(p.factor, "factor")?,
                max_position_embeddings: max_pos.ok_or(RopeError::MissingField {
                    what: "max_position_embeddings",
                })?,
                seq_len,
            },
            RopeType::Llama3 => Scaling::Llama3(Llama3::new(
                need(p.factor, "factor")?,
                need(p.low_freq_factor, "low_freq_factor")?,
                need(p.high_freq_factor, "high_freq_factor")?,
                original?,
            )),
            RopeType::Yarn => {
                let original = original?;
                let nonzero = |v: Option<f64>| v.filter(|&v| v != 0.0);
                Scaling::Yarn(Yarn {
                    beta_fast: nonzero(p.beta_fast).unwrap_or(32.0),
                    beta_slow: nonzero(p.beta_slow).unwrap_or(1.0),
                    mscale: p.mscale,
                    mscale_all_dim: p.mscale_all_dim,
                    attention_factor: p.attention_factor,
                    truncate: p.truncate.unwrap_or(true),
                    ..Yarn::new(ratio(original)?, original)
                })
            }
            RopeType::LongRope => {
                let original = original?;
                let (short, long) = match (&self.short_factor, &self.long_factor) {
                    (Some(s), Some(l)) => (s.as_slice(), l.as_slice()),
                    (None, _) => {
                        return Err(RopeError::MissingField {
                            what: "short_factor",
                        })
                    }
                    (_, None) => {
                        return Err(RopeError::MissingField {
                            what: "long_factor",
                        })
                    }
                };
                Scaling::LongRope(LongRope {
                    factor: Some(ratio(original)?),
                    attention_factor: p.attention_factor,
                    ..LongRope::new(
                        short,
                        long,
                        ContextLengths {
                            original,
                            extended: max_pos.unwrap_or(original),
                        },
                        LongRopeChoice::SeqLen(seq_len),
                    )
                })
            }
        };
        Ok(b.scaling(scaling))
    }
}
