//! `serde::Deserialize` for [`HfConfig`]: a transformers `config.json` read into the
//! plain type. Unknown fields are skipped; an unknown `rope_type` is an error naming it.
//! Reading uses the allocator (the `serde` feature implies `alloc`) for the nested blocks
//! and factor lists, which held inline at every level a config may put them would need
//! tens of KiB of stack; the `HfConfig` that comes out holds everything inline.

use core::fmt;

use alloc::boxed::Box;
use alloc::vec::Vec;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::config::PairLayout;
use crate::hf::{FactorList, HfConfig, HfRopeParameters, RopeType};

/// Deserializes a string through `parse` without keeping it (no allocation); `parse`
/// gives the accepted names when it refuses one.
fn from_str<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: fn(&str) -> Result<T, &'static [&'static str]>,
) -> Result<T, D::Error> {
    struct V<T>(fn(&str) -> Result<T, &'static [&'static str]>);
    impl<T> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, name: &str) -> Result<T, E> {
            (self.0)(name).map_err(|known| E::unknown_variant(name, known))
        }
    }
    d.deserialize_str(V(parse))
}

impl<'de> Deserialize<'de> for RopeType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The names, for the error.
        const KNOWN: [&str; RopeType::NAMES.len()] = {
            let mut names = [""; RopeType::NAMES.len()];
            let mut i = 0;
            while i < names.len() {
                names[i] = RopeType::NAMES[i].0;
                i += 1;
            }
            names
        };
        from_str(d, |name| RopeType::from_name(name).ok_or(&KNOWN))
    }
}

/// A `model_type`, kept only as the layout it implies (see [`HfConfig::layout_of`]).
#[derive(Clone, Copy)]
struct ModelType(PairLayout);

impl<'de> Deserialize<'de> for ModelType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str(d, |name| Ok(ModelType(HfConfig::layout_of(name, None))))
    }
}

/// Declares a struct of the RoPE parameter fields, plus any others given.
macro_rules! rope_fields {
    ($name:ident { $($extra:ident : $ty:ty),* }) => {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct $name {
            rope_type: Option<RopeType>,
            #[serde(rename = "type")]
            kind: Option<RopeType>,
            rope_theta: Option<f64>,
            factor: Option<f64>,
            original_max_position_embeddings: Option<u64>,
            low_freq_factor: Option<f64>,
            high_freq_factor: Option<f64>,
            beta_fast: Option<f64>,
            beta_slow: Option<f64>,
            mscale: Option<f64>,
            mscale_all_dim: Option<f64>,
            attention_factor: Option<f64>,
            truncate: Option<bool>,
            partial_rotary_factor: Option<f64>,
            short_factor: Option<Vec<f64>>,
            long_factor: Option<Vec<f64>>,
            mrope_section: Option<[u32; 3]>,
            mrope_interleaved: Option<bool>,
            $($extra: $ty,)*
        }

        impl $name {
            fn parameters(&self) -> HfRopeParameters {
                HfRopeParameters {
                    rope_type: self.rope_type.or(self.kind).unwrap_or_default(),
                    rope_theta: self.rope_theta,
                    factor: self.factor,
                    original_max_position_embeddings: self.original_max_position_embeddings,
                    low_freq_factor: self.low_freq_factor,
                    high_freq_factor: self.high_freq_factor,
                    beta_fast: self.beta_fast,
                    beta_slow: self.beta_slow,
                    mscale: self.mscale,
                    mscale_all_dim: self.mscale_all_dim,
                    attention_factor: self.attention_factor,
                    truncate: self.truncate,
                    partial_rotary_factor: self.partial_rotary_factor,
                }
            }
        }
    };
}

rope_fields!(Leaf {});
// transformers 5 nests parameters by layer type when a model's layers differ.
rope_fields!(Params {
    full_attention: Option<Box<Leaf>>,
    sliding_attention: Option<Box<Leaf>>
});

/// Declares a struct of the model-level fields, plus any others given.
macro_rules! model_fields {
    ($name:ident { $($extra:ident : $ty:ty),* }) => {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct $name {
            model_type: Option<ModelType>,
            rope_interleave: Option<bool>,
            head_dim: Option<usize>,
            // GPT-J and GPT-2-style configs name these n_embd, n_head, n_positions.
            #[serde(alias = "n_embd")]
            hidden_size: Option<usize>,
            #[serde(alias = "n_head")]
            num_attention_heads: Option<usize>,
            qk_rope_head_dim: Option<usize>,
            rotary_dim: Option<usize>,
            partial_rotary_factor: Option<f64>,
            rotary_pct: Option<f64>,
            #[serde(alias = "n_positions")]
            max_position_embeddings: Option<u64>,
            original_max_position_embeddings: Option<u64>,
            rope_theta: Option<f64>,
            rotary_emb_base: Option<f64>,
            rope_local_base_freq: Option<f64>,
            rope_scaling: Option<Box<Params>>,
            rope_parameters: Option<Box<Params>>,
            $($extra: $ty,)*
        }
    };
}

model_fields!(Text {});
model_fields!(Top {
    text_config: Option<Box<Text>>
});

impl<'de> Deserialize<'de> for HfConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let top = Top::deserialize(d)?;
        let text = top.text_config.as_ref();
        // A multimodal model's language part is in `text_config`: its fields first.
        macro_rules! pick {
            ($field:ident) => {
                text.and_then(|t| t.$field.as_ref()).or(top.$field.as_ref())
            };
        }
        let layout = match (pick!(model_type), pick!(rope_interleave)) {
            (_, Some(true)) => PairLayout::InterleavedToHalfSplit,
            (Some(ModelType(PairLayout::InterleavedToHalfSplit)), Some(false)) => {
                PairLayout::HalfSplit
            }
            (Some(&ModelType(layout)), _) => layout,
            (None, _) => PairLayout::HalfSplit,
        };
        let params = pick!(rope_parameters).or(pick!(rope_scaling));
        let mut config = HfConfig::new(layout);
        config.head_dim = pick!(head_dim).copied();
        config.hidden_size = pick!(hidden_size).copied();
        config.num_attention_heads = pick!(num_attention_heads).copied();
        config.qk_rope_head_dim = pick!(qk_rope_head_dim).copied();
        config.rotary_dim = pick!(rotary_dim).copied();
        config.partial_rotary_factor = pick!(partial_rotary_factor).or(pick!(rotary_pct)).copied();
        config.max_position_embeddings = pick!(max_position_embeddings).copied();
        config.original_max_position_embeddings = pick!(original_max_position_embeddings).copied();
        config.rope_theta = pick!(rope_theta).or(pick!(rotary_emb_base)).copied();
        if let Some(p) = params {
            // Nested by layer type (transformers 5, Gemma 3) or one set for every layer.
            let main = p.full_attention.as_deref();
            config.rope = main.map_or_else(|| p.parameters(), Leaf::parameters);
            config.sliding = p.sliding_attention.as_deref().map(Leaf::parameters);
            let (short, long, section, interleaved) = match main {
                Some(m) => (
                    &m.short_factor,
                    &m.long_factor,
                    m.mrope_section,
                    m.mrope_interleaved,
                ),
                None => (
                    &p.short_factor,
                    &p.long_factor,
                    p.mrope_section,
                    p.mrope_interleaved,
                ),
            };
            let list = |l: &Option<Vec<f64>>| match l {
                Some(l) => FactorList::new(l).map(Some).map_err(|_| {
                    de::Error::invalid_length(l.len(), &"at most MAX_ROTARY_DIM / 2 factors")
                }),
                None => Ok(None),
            };
            config.short_factor = list(short)?;
            config.long_factor = list(long)?;
            config.mrope_section = section;
            config.mrope_interleaved = interleaved.unwrap_or(false);
        }
        if let (None, Some(&theta)) = (&config.sliding, pick!(rope_local_base_freq)) {
            // transformers 4's Gemma 3: local layers use the default schedule at this base.
            config.sliding = Some(HfRopeParameters {
                rope_theta: Some(theta),
                ..HfRopeParameters::new(RopeType::Default)
            });
        }
        Ok(config)
    }
}
