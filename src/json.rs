//! A transformers `config.json` read into [`HfConfig`] with neither serde nor an allocator
//! ([`HfConfig::from_json`]), so that `no_std` builds and the C and wasm libraries read a
//! model's config in one call without carrying a JSON library.
//!
//! Two passes over the bytes. The first checks the whole document: JSON syntax, and every
//! field `HfConfig` reads has its type (other fields are skipped; a field given twice is an
//! error). The second reads the fields where the first found them, with the serde
//! reader's precedence (`hf_serde.rs`): `text_config` before the top level,
//! `rope_parameters` before `rope_scaling`, a `full_attention` block before the flat
//! parameters beside it. The stack holds one table of value offsets per object being read;
//! nesting is the schema's (four levels), values skipped are walked with a depth count.
//! JSON itself (strings, numbers, skipping, walking an object) is in `json/reader.rs`, a
//! number's text to its f64 in `json/float.rs`; this
//! file has the schema of the fields read and how they become an `HfConfig`.

mod float;
mod reader;

use reader::{Fail, Fields, Kind, Reader, Schema, NAME};

use crate::config::{PairLayout, MAX_PAIRS};
use crate::error::RopeError;
use crate::hf::{FactorList, HfConfig, HfRopeParameters, RopeType};

/// The RoPE parameter fields, in this order at the start of `PARAMS` too.
const LEAF: Schema = &[
    (&["rope_type"], Kind::RopeType),
    (&["type"], Kind::RopeType),
    (&["rope_theta"], Kind::Float),
    (&["factor"], Kind::Float),
    (&["original_max_position_embeddings"], Kind::U64),
    (&["low_freq_factor"], Kind::Float),
    (&["high_freq_factor"], Kind::Float),
    (&["beta_fast"], Kind::Float),
    (&["beta_slow"], Kind::Float),
    (&["mscale"], Kind::Float),
    (&["mscale_all_dim"], Kind::Float),
    (&["attention_factor"], Kind::Float),
    (&["truncate"], Kind::Bool),
    (&["partial_rotary_factor"], Kind::Float),
    (&["short_factor"], Kind::List),
    (&["long_factor"], Kind::List),
    (&["mrope_section"], Kind::Sections),
    (&["mrope_interleaved"], Kind::Bool),
];
// Slots of `LEAF` (and of `PARAMS`, which starts with it).
const ROPE_TYPE: usize = 0;
const TYPE: usize = 1;
const SHORT: usize = 14;
const LONG: usize = 15;
const SECTIONS: usize = 16;
const MROPE_INTERLEAVED: usize = 17;

/// `LEAF`, then the blocks by layer type (transformers 5, Gemma 3).
const PARAMS: Schema = &[
    LEAF[0],
    LEAF[1],
    LEAF[2],
    LEAF[3],
    LEAF[4],
    LEAF[5],
    LEAF[6],
    LEAF[7],
    LEAF[8],
    LEAF[9],
    LEAF[10],
    LEAF[11],
    LEAF[12],
    LEAF[13],
    LEAF[14],
    LEAF[15],
    LEAF[16],
    LEAF[17],
    (&["full_attention"], Kind::Object(LEAF)),
    (&["sliding_attention"], Kind::Object(LEAF)),
];
const FULL: usize = 18;
const SLIDING: usize = 19;

/// The model-level fields (`TOP` adds `text_config`). GPT-J and GPT-2-style configs name
/// three of them `n_embd`, `n_head`, `n_positions`.
const TEXT: Schema = &[
    (&["model_type"], Kind::ModelType),
    (&["rope_interleave"], Kind::Bool),
    (&["head_dim"], Kind::Usize),
    (&["hidden_size", "n_embd"], Kind::Usize),
    (&["num_attention_heads", "n_head"], Kind::Usize),
    (&["qk_rope_head_dim"], Kind::Usize),
    (&["rotary_dim"], Kind::Usize),
    (&["partial_rotary_factor"], Kind::Float),
    (&["rotary_pct"], Kind::Float),
    (&["max_position_embeddings", "n_positions"], Kind::U64),
    (&["original_max_position_embeddings"], Kind::U64),
    (&["rope_theta"], Kind::Float),
    (&["rotary_emb_base"], Kind::Float),
    (&["rope_local_base_freq"], Kind::Float),
    (&["rope_scaling"], Kind::Object(PARAMS)),
    (&["rope_parameters"], Kind::Object(PARAMS)),
];
const TOP: Schema = &[
    TEXT[0],
    TEXT[1],
    TEXT[2],
    TEXT[3],
    TEXT[4],
    TEXT[5],
    TEXT[6],
    TEXT[7],
    TEXT[8],
    TEXT[9],
    TEXT[10],
    TEXT[11],
    TEXT[12],
    TEXT[13],
    TEXT[14],
    TEXT[15],
    (&["text_config"], Kind::Object(TEXT)),
];
// Slots of `TEXT` (and of `TOP`).
const MODEL_TYPE: usize = 0;
const ROPE_INTERLEAVE: usize = 1;
const HEAD_DIM: usize = 2;
const HIDDEN_SIZE: usize = 3;
const HEADS: usize = 4;
const QK_ROPE_HEAD_DIM: usize = 5;
const ROTARY_DIM: usize = 6;
const PARTIAL: usize = 7;
const ROTARY_PCT: usize = 8;
const MAX_POSITIONS: usize = 9;
const ORIGINAL_MAX: usize = 10;
const ROPE_THETA: usize = 11;
const ROTARY_EMB_BASE: usize = 12;
const LOCAL_BASE: usize = 13;
const ROPE_SCALING: usize = 14;
const ROPE_PARAMETERS: usize = 15;
const TEXT_CONFIG: usize = 16;

impl Fields<'_> {
    /// The RoPE parameters of a `LEAF` (or the start of a `PARAMS`).
    fn parameters(&self) -> Result<HfRopeParameters, Fail> {
        let rope_type = self.rope_type(ROPE_TYPE)?.or(self.rope_type(TYPE)?);
        Ok(HfRopeParameters {
            rope_type: rope_type.unwrap_or_default(),
            rope_theta: self.float(2)?,
            factor: self.float(3)?,
            original_max_position_embeddings: self.u64(4)?,
            low_freq_factor: self.float(5)?,
            high_freq_factor: self.float(6)?,
            beta_fast: self.float(7)?,
            beta_slow: self.float(8)?,
            mscale: self.float(9)?,
            mscale_all_dim: self.float(10)?,
            attention_factor: self.float(11)?,
            truncate: self.boolean(12)?,
            partial_rotary_factor: self.float(13)?,
        })
    }

    /// A factor list, checked against the most a `FactorList` holds.
    fn factors(&self, slot: usize) -> Result<Option<FactorList>, Fail> {
        let Some(mut r) = self.value(slot) else {
            return Ok(None);
        };
        let (mut values, mut n) = ([0.0; MAX_PAIRS], 0usize);
        r.list(LEAF[slot].0[0], &mut |v| {
            if n < MAX_PAIRS {
                values[n] = v;
            }
            n += 1;
        })?;
        if n > MAX_PAIRS {
            return Err((
                self.table.at[slot].unwrap_or(0),
                LEAF[slot].0[0],
                "more factors than MAX_ROTARY_DIM / 2",
            ));
        }
        // At most `MAX_PAIRS` values: `new` accepts them.
        Ok(FactorList::new(&values[..n]).ok())
    }
}

impl HfConfig {
    /// Read a transformers `config.json` (its bytes, UTF-8), without serde or an
    /// allocator: the fields [`HfConfig::rope`] needs, read as the serde reader reads them
    /// (the same result; a multimodal model's `text_config` first).
    ///
    /// ```
    /// use rope_simd::{HfConfig, LayerKind};
    /// let json = br#"{"model_type": "llama", "head_dim": 128, "rope_theta": 500000.0,
    ///     "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
    ///     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}"#;
    /// let config = HfConfig::from_json(json)?;
    /// assert_eq!(config.head_dim, Some(128));
    /// let rope = config.rope(LayerKind::Full, 4096)?;
    /// assert_eq!(rope.head_dim(), 128);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::BadJson`] for text that is not JSON, a known field of the wrong type
    /// (`"head_dim": "big"`, a negative or fractional integer, a number out of range), a
    /// field given twice, an unknown `rope_type`, or a factor list longer than
    /// `MAX_ROTARY_DIM / 2`: with the byte offset and the field.
    pub fn from_json(json: &[u8]) -> Result<HfConfig, RopeError> {
        Ok(read(json)?)
    }
}

fn read(s: &[u8]) -> Result<HfConfig, Fail> {
    // Pass 1: the whole document.
    let mut r = Reader::at(s, 0);
    r.space();
    let start = r.i;
    r.object(TOP, "", 0)?;
    if r.peek().is_some() {
        return r.fail("", "text after the JSON object");
    }
    // Pass 2: the fields, `text_config`'s before the top level's.
    let top = Fields::of(s, start, TOP)?;
    let text = top.object(TEXT_CONFIG, TEXT)?;
    let levels = [text.as_ref(), Some(&top)];
    let pick = |slot: usize| levels.iter().flatten().find(|f| f.value(slot).is_some());
    macro_rules! get {
        ($method:ident, $slot:expr) => {
            match pick($slot) {
                Some(f) => f.$method($slot)?,
                None => None,
            }
        };
    }
    let mut model = [0u8; NAME];
    let model_type = match pick(MODEL_TYPE).and_then(|f| f.value(MODEL_TYPE)) {
        Some(mut r) => Some(r.string(&mut model, "model_type")?),
        None => None,
    };
    let interleave = get!(boolean, ROPE_INTERLEAVE);
    let layout = match model_type {
        Some(Some(n)) => HfConfig::layout_of(core::str::from_utf8(&model[..n]).unwrap_or(""), None),
        // None given, or a name longer than any known one (none of the listed models).
        Some(None) | None => PairLayout::HalfSplit,
    };
    let layout = match (model_type.is_some(), layout, interleave) {
        (_, _, Some(true)) => PairLayout::InterleavedToHalfSplit,
        (true, PairLayout::InterleavedToHalfSplit, Some(false)) => PairLayout::HalfSplit,
        (_, layout, _) => layout,
    };
    let mut config = HfConfig::new(layout);
    config.head_dim = get!(usize, HEAD_DIM);
    config.hidden_size = get!(usize, HIDDEN_SIZE);
    config.num_attention_heads = get!(usize, HEADS);
    config.qk_rope_head_dim = get!(usize, QK_ROPE_HEAD_DIM);
    config.rotary_dim = get!(usize, ROTARY_DIM);
    config.partial_rotary_factor = get!(float, PARTIAL).or(get!(float, ROTARY_PCT));
    config.max_position_embeddings = get!(u64, MAX_POSITIONS);
    config.original_max_position_embeddings = get!(u64, ORIGINAL_MAX);
    config.rope_theta = get!(float, ROPE_THETA).or(get!(float, ROTARY_EMB_BASE));
    let params = match pick(ROPE_PARAMETERS).or(pick(ROPE_SCALING)) {
        Some(f) if f.value(ROPE_PARAMETERS).is_some() => f.object(ROPE_PARAMETERS, PARAMS)?,
        Some(f) => f.object(ROPE_SCALING, PARAMS)?,
        None => None,
    };
    if let Some(p) = params {
        let full = p.object(FULL, LEAF)?;
        let main = full.as_ref().unwrap_or(&p);
        config.rope = main.parameters()?;
        config.sliding = match p.object(SLIDING, LEAF)? {
            Some(leaf) => Some(leaf.parameters()?),
            None => None,
        };
        config.short_factor = main.factors(SHORT)?;
        config.long_factor = main.factors(LONG)?;
        config.mrope_section = main.sections(SECTIONS)?;
        config.mrope_interleaved = main.boolean(MROPE_INTERLEAVED)?.unwrap_or(false);
    }
    if let (None, Some(theta)) = (&config.sliding, get!(float, LOCAL_BASE)) {
        // transformers 4's Gemma 3: local layers use the default schedule at this base.
        config.sliding = Some(HfRopeParameters {
            rope_theta: Some(theta),
            ..HfRopeParameters::new(RopeType::Default)
        });
    }
    Ok(config)
}
