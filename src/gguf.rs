//! A GGUF file's RoPE metadata, and the [`Rope`] llama.cpp builds from it: the keys it
//! reads, the layout of each architecture (`llama_model_rope_type`), and how it turns
//! the keys into ggml's parameters (`llama_context`'s YaRN attention factor included).

use core::mem::MaybeUninit;

use crate::config::Rope;
use crate::error::RopeError;
use crate::ggml::{Ggml, GgmlMode};

/// A GGUF metadata value of the kinds RoPE keys hold, as a GGUF reader hands it over.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum GgufValue<'a> {
    /// `UINT32`.
    U32(u32),
    /// `INT32`.
    I32(i32),
    /// `UINT64`.
    U64(u64),
    /// `INT64`.
    I64(i64),
    /// `FLOAT32`.
    F32(f32),
    /// `FLOAT64`.
    F64(f64),
    /// `STRING`.
    Str(&'a str),
    /// `ARRAY` of `INT32` (`rope.dimension_sections`).
    I32s(&'a [i32]),
    /// `ARRAY` of `UINT32`.
    U32s(&'a [u32]),
}

/// How a GGUF file's `rope.scaling.type` rescales frequencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GgufScaling {
    /// `"none"`: no scaling (`freq_scale` 1 whatever the factor says).
    None,
    /// `"linear"`: every frequency times `1 / factor`.
    Linear,
    /// `"yarn"`: YaRN (`ext_factor` 1).
    Yarn,
    /// `"longrope"`: LongRoPE; the runtime passes the long or short factor tensor as
    /// [`GgufRope::freq_factors`] (llama.cpp takes the long one when a sequence can exceed
    /// `original_context_length`).
    LongRope,
}

/// The RoPE metadata of a GGUF file (keys `{arch}.rope.*` and the dimensions they depend
/// on), read with [`GgufRope::from_metadata`] or set by hand, and built into a [`Rope`]
/// with [`GgufRope::rope`] the way llama.cpp runs the model.
///
/// ```
/// use rope_simd::{GgufRope, GgufValue, PairLayout};
/// // Qwen2.5-7B-Instruct with YaRN as llama.cpp's converter writes it.
/// let metadata = |key: &str| match key {
///     "general.architecture" => Some(GgufValue::Str("qwen2")),
///     "qwen2.attention.head_count" => Some(GgufValue::U32(28)),
///     "qwen2.embedding_length" => Some(GgufValue::U32(3584)),
///     "qwen2.context_length" => Some(GgufValue::U32(131072)),
///     "qwen2.rope.freq_base" => Some(GgufValue::F32(1e6)),
///     "qwen2.rope.scaling.type" => Some(GgufValue::Str("yarn")),
///     "qwen2.rope.scaling.factor" => Some(GgufValue::F32(4.0)),
///     "qwen2.rope.scaling.original_context_length" => Some(GgufValue::U32(32768)),
///     _ => None,
/// };
/// let rope = GgufRope::from_metadata(metadata)?.rope()?;
/// assert_eq!((rope.head_dim(), rope.layout()), (128, PairLayout::HalfSplit));
/// assert!((rope.scale() - (1.0 + 0.1 * 4f64.ln())).abs() < 1e-6);
/// # Ok::<(), rope_simd::RopeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct GgufRope<'a> {
    /// `general.architecture`.
    pub arch: &'a str,
    /// `{arch}.attention.key_length`, else `{arch}.embedding_length /
    /// {arch}.attention.head_count`.
    pub head_dim: Option<usize>,
    /// `{arch}.rope.dimension_count` (ggml's `n_dims`; the whole head when absent).
    pub dimension_count: Option<usize>,
    /// `{arch}.rope.freq_base` (10000 when absent, as in llama.cpp).
    pub freq_base: Option<f64>,
    /// `{arch}.rope.scaling.type` (none when absent).
    pub scaling: GgufScaling,
    /// `{arch}.rope.scaling.factor` (or `1 / rope.scale_linear` from older files).
    pub scaling_factor: Option<f64>,
    /// `{arch}.rope.scaling.attn_factor`: a magnitude on cos and sin (Phi-3's LongRoPE
    /// attention factor).
    pub attn_factor: Option<f64>,
    /// `{arch}.rope.scaling.original_context_length` (YaRN's `n_ctx_orig`).
    pub original_context_length: Option<u64>,
    /// `{arch}.context_length` (`n_ctx_orig` when the original length is absent).
    pub context_length: Option<u64>,
    /// `{arch}.rope.scaling.yarn_beta_fast` (32 when absent).
    pub yarn_beta_fast: Option<f64>,
    /// `{arch}.rope.scaling.yarn_beta_slow` (1 when absent).
    pub yarn_beta_slow: Option<f64>,
    /// `{arch}.rope.scaling.yarn_log_multiplier` (DeepSeek's `mscale_all_dim`).
    pub yarn_log_multiplier: Option<f64>,
    /// `{arch}.rope.dimension_sections` (M-RoPE).
    pub dimension_sections: Option<[u32; 4]>,
    /// The `rope_freqs` tensor (or LongRoPE's chosen factor tensor), one per pair.
    pub freq_factors: Option<&'a [f64]>,
}

/// The longest `general.architecture` read (the keys are built on the stack).
const MAX_ARCH: usize = 48;

/// `{arch}.{suffix}` in `buf`.
fn key<'b>(buf: &'b mut [u8; MAX_ARCH + 64], arch: &str, suffix: &str) -> &'b str {
    let (a, s) = (arch.as_bytes(), suffix.as_bytes());
    buf[..a.len()].copy_from_slice(a);
    buf[a.len()] = b'.';
    buf[a.len() + 1..a.len() + 1 + s.len()].copy_from_slice(s);
    // Both parts are UTF-8 and the dot is ASCII.
    core::str::from_utf8(&buf[..a.len() + 1 + s.len()]).unwrap_or_default()
}

fn bad_type(what: &'static str) -> RopeError {
    RopeError::BadMetadata { what }
}

fn number(v: GgufValue<'_>, what: &'static str) -> Result<f64, RopeError> {
    match v {
        GgufValue::U32(x) => Ok(f64::from(x)),
        GgufValue::I32(x) => Ok(f64::from(x)),
        GgufValue::U64(x) => Ok(x as f64),
        GgufValue::I64(x) => Ok(x as f64),
        GgufValue::F32(x) => Ok(f64::from(x)),
        GgufValue::F64(x) => Ok(x),
        _ => Err(bad_type(what)),
    }
}

fn count(v: GgufValue<'_>, what: &'static str) -> Result<u64, RopeError> {
    match v {
        GgufValue::U32(x) => Ok(u64::from(x)),
        GgufValue::U64(x) => Ok(x),
        GgufValue::I32(x) => u64::try_from(x).map_err(|_| bad_type(what)),
        GgufValue::I64(x) => u64::try_from(x).map_err(|_| bad_type(what)),
        _ => Err(bad_type(what)),
    }
}

fn sections(v: GgufValue<'_>) -> Result<[u32; 4], RopeError> {
    let what = "rope.dimension_sections (up to four non-negative sections)";
    let mut out = [0u32; 4];
    let mut put = |i: usize, x: i64| -> Result<(), RopeError> {
        *out.get_mut(i).ok_or(bad_type(what))? = u32::try_from(x).map_err(|_| bad_type(what))?;
        Ok(())
    };
    match v {
        GgufValue::I32s(l) => l
            .iter()
            .enumerate()
            .try_for_each(|(i, &x)| put(i, i64::from(x)))?,
        GgufValue::U32s(l) => l
            .iter()
            .enumerate()
            .try_for_each(|(i, &x)| put(i, i64::from(x)))?,
        _ => return Err(bad_type(what)),
    }
    Ok(out)
}

impl<'a> GgufRope<'a> {
    /// Metadata for `arch` with nothing else set.
    ///
    /// ```
    /// use rope_simd::{GgmlMode, GgufRope};
    /// let mut g = GgufRope::new("qwen2");
    /// g.head_dim = Some(128);
    /// g.freq_base = Some(1e6);
    /// assert_eq!(g.mode(), Some(GgmlMode::Neox));
    /// assert_eq!(g.rope()?.head_dim(), 128);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn new(arch: &'a str) -> Self {
        GgufRope {
            arch,
            head_dim: None,
            dimension_count: None,
            freq_base: None,
            scaling: GgufScaling::None,
            scaling_factor: None,
            attn_factor: None,
            original_context_length: None,
            context_length: None,
            yarn_beta_fast: None,
            yarn_beta_slow: None,
            yarn_log_multiplier: None,
            dimension_sections: None,
            freq_factors: None,
        }
    }

    /// Read the keys through `get`, which returns a key's value (any GGUF reader's
    /// lookup, wrapped), without allocating.
    ///
    /// ```
    /// use rope_simd::{GgufRope, GgufValue};
    /// let keys = [("general.architecture", GgufValue::Str("llama")),
    ///             ("llama.attention.key_length", GgufValue::U32(64))];
    /// let g = GgufRope::from_metadata(|k| keys.iter().find(|(n, _)| *n == k).map(|(_, v)| *v))?;
    /// assert_eq!((g.arch, g.head_dim), ("llama", Some(64)));
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::MissingField`] without `general.architecture`;
    /// [`RopeError::BadMetadata`] for a key of a type it cannot be (a string base, a
    /// negative count, more than four sections), an unknown `rope.scaling.type`, or an
    /// architecture name over 48 bytes.
    pub fn from_metadata(get: impl Fn(&str) -> Option<GgufValue<'a>>) -> Result<Self, RopeError> {
        let arch = match get("general.architecture") {
            Some(GgufValue::Str(a)) if a.len() <= MAX_ARCH => a,
            Some(_) => {
                return Err(bad_type(
                    "general.architecture (a string of at most 48 bytes)",
                ))
            }
            None => {
                return Err(RopeError::MissingField {
                    what: "general.architecture",
                })
            }
        };
        let mut buf = [0u8; MAX_ARCH + 64];
        let mut read = |suffix: &str| get(key(&mut buf, arch, suffix));
        let mut g = GgufRope::new(arch);
        let num = |v: Option<GgufValue<'a>>, what| v.map(|v| number(v, what)).transpose();
        let cnt = |v: Option<GgufValue<'a>>, what| v.map(|v| count(v, what)).transpose();
        let key_length = cnt(read("attention.key_length"), "attention.key_length")?;
        let embedding = cnt(read("embedding_length"), "embedding_length")?;
        let heads = cnt(read("attention.head_count"), "attention.head_count")?;
        g.head_dim = match (key_length, embedding, heads) {
            (Some(k), _, _) => Some(k as usize),
            (None, Some(e), Some(h)) if h > 0 => Some((e / h) as usize),
            _ => None,
        };
        g.dimension_count =
            cnt(read("rope.dimension_count"), "rope.dimension_count")?.map(|v| v as usize);
        g.freq_base = num(read("rope.freq_base"), "rope.freq_base")?;
        g.scaling = match read("rope.scaling.type") {
            None | Some(GgufValue::Str("none")) => GgufScaling::None,
            Some(GgufValue::Str("linear")) => GgufScaling::Linear,
            Some(GgufValue::Str("yarn")) => GgufScaling::Yarn,
            Some(GgufValue::Str("longrope")) => GgufScaling::LongRope,
            Some(_) => {
                return Err(bad_type(
                    "rope.scaling.type (one of none, linear, yarn, longrope)",
                ))
            }
        };
        g.scaling_factor = match num(read("rope.scaling.factor"), "rope.scaling.factor")? {
            Some(f) => Some(f),
            // Older files: rope.scale_linear, the factor itself.
            None => num(read("rope.scale_linear"), "rope.scale_linear")?,
        };
        g.attn_factor = num(read("rope.scaling.attn_factor"), "rope.scaling.attn_factor")?;
        g.original_context_length = cnt(
            read("rope.scaling.original_context_length"),
            "rope.scaling.original_context_length",
        )?;
        g.context_length = cnt(read("context_length"), "context_length")?;
        g.yarn_beta_fast = num(
            read("rope.scaling.yarn_beta_fast"),
            "rope.scaling.yarn_beta_fast",
        )?;
        g.yarn_beta_slow = num(
            read("rope.scaling.yarn_beta_slow"),
            "rope.scaling.yarn_beta_slow",
        )?;
        g.yarn_log_multiplier = num(
            read("rope.scaling.yarn_log_multiplier"),
            "rope.scaling.yarn_log_multiplier",
        )?;
        g.dimension_sections = read("rope.dimension_sections").map(sections).transpose()?;
        Ok(g)
    }

    /// The ggml mode llama.cpp uses for an architecture (`llama_model_rope_type`), or
    /// `None` for one it does not rope or this table does not know. GLM-4's two
    /// architectures take M-RoPE when the file has sections.
    ///
    /// | mode | `general.architecture` |
    /// |---|---|
    /// | [`GgmlMode::Normal`] (interleaved) | llama, llama4, deci, baichuan, starcoder, internlm2, minicpm, xverse, command-r, cohere2, olmo, arctic, deepseek, deepseek2, chatglm, granite, granitemoe, chameleon, bailingmoe, plm, smollm3, arcee, ernie4_5, ernie4_5-moe, mistral3, glm4 |
    /// | [`GgmlMode::Neox`] (half-split) | falcon, grok, dbrx, bert, nomic-bert, stablelm, bitnet, qwen, qwen2, qwen2moe, qwen3, qwen3moe, olmo2, olmoe, phi2, phi3, phimoe, plamo, plamo2, gemma, gemma2, gemma3, gemma3n, starcoder2, openelm, gptneox, codeshell, orion, nemotron, exaone, exaone4, minicpm3, bailingmoe2, dots1, hunyuan-moe, hunyuan-dense, gpt-oss, lfm2, seed_oss, falcon-h1, qwen3next, glm4moe |
    /// | [`GgmlMode::MRope`] | qwen2vl (and glm4, glm4moe with sections) |
    /// | [`GgmlMode::IMRope`] | qwen3vl, qwen3vlmoe, qwen35, qwen35moe |
    ///
    /// llama.cpp's converter permutes Llama-family Q/K weights so that ggml's "normal"
    /// (interleaved) pairs apply to them; transformers applies half-split pairs to the
    /// unpermuted weights. Both are right for their own weights.
    ///
    /// ```
    /// use rope_simd::{GgmlMode, GgufRope};
    /// assert_eq!(GgufRope::new("llama").mode(), Some(GgmlMode::Normal));
    /// assert_eq!(GgufRope::new("qwen3vl").mode(), Some(GgmlMode::IMRope));
    /// assert_eq!(GgufRope::new("no-such-arch").mode(), None);
    /// ```
    pub fn mode(&self) -> Option<GgmlMode> {
        const NORMAL: [&str; 26] = [
            "llama",
            "llama4",
            "deci",
            "baichuan",
            "starcoder",
            "internlm2",
            "minicpm",
            "xverse",
            "command-r",
            "cohere2",
            "olmo",
            "arctic",
            "deepseek",
            "deepseek2",
            "chatglm",
            "granite",
            "granitemoe",
            "chameleon",
            "bailingmoe",
            "plm",
            "smollm3",
            "arcee",
            "ernie4_5",
            "ernie4_5-moe",
            "mistral3",
            "glm4",
        ];
        const NEOX: [&str; 42] = [
            "falcon",
            "grok",
            "dbrx",
            "bert",
            "nomic-bert",
            "stablelm",
            "bitnet",
            "qwen",
            "qwen2",
            "qwen2moe",
            "qwen3",
            "qwen3moe",
            "olmo2",
            "olmoe",
            "phi2",
            "phi3",
            "phimoe",
            "plamo",
            "plamo2",
            "gemma",
            "gemma2",
            "gemma3",
            "gemma3n",
            "starcoder2",
            "openelm",
            "gptneox",
            "codeshell",
            "orion",
            "nemotron",
            "exaone",
            "exaone4",
            "minicpm3",
            "bailingmoe2",
            "dots1",
            "hunyuan-moe",
            "hunyuan-dense",
            "gpt-oss",
            "lfm2",
            "seed_oss",
            "falcon-h1",
            "qwen3next",
            "glm4moe",
        ];
        let sections = self
            .dimension_sections
            .is_some_and(|s| s.iter().any(|&v| v > 0));
        match self.arch {
            "glm4" | "glm4moe" if sections => Some(GgmlMode::MRope),
            "qwen2vl" => Some(GgmlMode::MRope),
            "qwen3vl" | "qwen3vlmoe" | "qwen35" | "qwen35moe" => Some(GgmlMode::IMRope),
            a if NORMAL.contains(&a) => Some(GgmlMode::Normal),
            a if NEOX.contains(&a) => Some(GgmlMode::Neox),
            _ => None,
        }
    }

    /// ggml's parameters as llama.cpp computes them for this model (its context's
    /// defaults: no user override of base, scale or YaRN values): `freq_scale = 1 /
    /// factor` (1 without scaling), YaRN's `ext_factor` 1, and `attn_factor` such that the
    /// magnitude ggml applies is `attn_factor_key * m(factor, mscale) / m(factor,
    /// mscale_all_dim)` (`m(s, k) = 1 + 0.1 k ln s`; `mscale_all_dim` is the log multiplier,
    /// and without one the ratio is `m(factor, 1)`).
    ///
    /// ```
    /// use rope_simd::{GgufRope, GgufScaling};
    /// let mut g = GgufRope::new("qwen2");
    /// g.head_dim = Some(128);
    /// g.scaling = GgufScaling::Linear;
    /// g.scaling_factor = Some(4.0);
    /// assert_eq!(g.ggml()?.freq_scale, 0.25);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::MissingField`] without a head dimension.
    pub fn ggml(&self) -> Result<Ggml<'a>, RopeError> {
        let head_dim = self.head_dim.ok_or(RopeError::MissingField {
            what: "attention.key_length (or embedding_length and attention.head_count)",
        })?;
        let n_dims = self.dimension_count.unwrap_or(head_dim);
        let mut g = Ggml::new(n_dims, self.freq_base.unwrap_or(10_000.0));
        g.freq_factors = self.freq_factors;
        g.freq_scale = match (self.scaling, self.scaling_factor) {
            // llama.cpp: no scaling, or a factor of 0, means a frequency scale of 1.
            (GgufScaling::None, _) | (_, None) | (_, Some(0.0)) => 1.0,
            (_, Some(f)) => 1.0 / f,
        };
        g.n_ctx_orig = self
            .original_context_length
            .filter(|&n| n != 0)
            .or(self.context_length)
            .unwrap_or(0);
        g.beta_fast = self.yarn_beta_fast.unwrap_or(32.0);
        g.beta_slow = self.yarn_beta_slow.unwrap_or(1.0);
        let mut attn = 1.0;
        if self.scaling == GgufScaling::Yarn {
            g.ext_factor = 1.0;
            let m = |scale: f64, k: f64| {
                if scale <= 1.0 {
                    1.0
                } else {
                    0.1 * k * libm::log(scale) + 1.0
                }
            };
            let factor = 1.0 / g.freq_scale;
            attn = match self.yarn_log_multiplier.filter(|&v| v != 0.0) {
                Some(all) => {
                    // llama.cpp assumes mscale 1, but for DeepSeek-V2, whose configs set
                    // mscale == mscale_all_dim.
                    let mscale = if self.arch == "deepseek2" && all != 1.0 {
                        all
                    } else {
                        1.0
                    };
                    m(factor, mscale) / m(factor, all)
                }
                None => m(factor, 1.0),
            };
            // ggml multiplies its own YaRN magnitude back in: cancel it.
            attn /= 1.0 + 0.1 * libm::log(factor);
        }
        g.attn_factor = attn * self.attn_factor.unwrap_or(1.0);
        Ok(g)
    }

    /// The [`Rope`] llama.cpp runs for this model: [`GgufRope::ggml`]'s parameters in the
    /// mode of [`GgufRope::mode`], with the file's sections for the multi-axis modes.
    ///
    /// ```
    /// use rope_simd::{GgufRope, PairLayout};
    /// let mut g = GgufRope::new("llama");
    /// g.head_dim = Some(128);
    /// g.freq_base = Some(500_000.0);
    /// assert_eq!(g.rope()?.layout(), PairLayout::Interleaved); // ggml's "normal" mode
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::MissingField`] for an architecture whose mode is not known (use
    /// [`GgufRope::rope_in`]), or without a head dimension; otherwise as
    /// [`Rope::ggml_multi`].
    pub fn rope(&self) -> Result<Rope, RopeError> {
        let mut slot = MaybeUninit::uninit();
        Ok(self.rope_in_place(None, &mut slot)?.clone())
    }

    /// As [`GgufRope::rope`], in the given mode.
    ///
    /// ```
    /// use rope_simd::{GgmlMode, GgufRope, PairLayout};
    /// let mut g = GgufRope::new("my-new-arch");
    /// g.head_dim = Some(64);
    /// assert_eq!(g.rope_in(GgmlMode::Neox)?.layout(), PairLayout::HalfSplit);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`GgufRope::rope`].
    pub fn rope_in(&self, mode: GgmlMode) -> Result<Rope, RopeError> {
        let mut slot = MaybeUninit::uninit();
        Ok(self.rope_in_place(Some(mode), &mut slot)?.clone())
    }

    /// [`GgufRope::rope`] (with `mode: None`) or [`GgufRope::rope_in`] built in `slot`
    /// (a static, memory the caller owns): no copy of the `Rope` on the stack (see
    /// [`RopeBuilder::build_in_place`](crate::RopeBuilder::build_in_place)).
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use rope_simd::GgufRope;
    /// let mut g = GgufRope::new("llama");
    /// g.head_dim = Some(128);
    /// let mut slot = MaybeUninit::uninit();
    /// assert_eq!(g.rope_in_place(None, &mut slot)?.pairs(), 64);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`GgufRope::rope`].
    pub fn rope_in_place<'s>(
        &self,
        mode: Option<GgmlMode>,
        slot: &'s mut MaybeUninit<Rope>,
    ) -> Result<&'s mut Rope, RopeError> {
        let mode = match mode {
            Some(mode) => mode,
            None => self.mode().ok_or(RopeError::MissingField {
                what: "a RoPE mode for this general.architecture (pass one to GgufRope::rope_in)",
            })?,
        };
        let g = self.ggml()?;
        let head_dim = self.head_dim.unwrap_or(g.n_dims);
        Rope::ggml_multi_in_place(
            head_dim,
            mode,
            self.dimension_sections.unwrap_or([0; 4]),
            &g,
            slot,
        )
    }
}
