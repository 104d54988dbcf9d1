//! The configuration structs a C caller fills: the crate's builder (`RopeConfig`, every
//! schedule) and ggml's parameters (`RopeGgmlParams`), each with its `size` and init
//! function, and the `Rope` a config describes.

use core::mem::{size_of, MaybeUninit};

use rope_simd::{
    Axes, ContextLengths, Ggml, Llama3, LongRope, LongRopeChoice, PairLayout, Rope, Scaling, Yarn,
};

use crate::backend::{backend_from, ROPE_BACKEND_AUTO};
use crate::status::Fail;
use crate::tensor::slice;

/// Pairs are `(x[2i], x[2i+1])` (RoFormer, GPT-J, ggml "normal").
pub const ROPE_LAYOUT_INTERLEAVED: u32 = 0;
/// Pairs are `(x[i], x[i + rotary_dim/2])` (GPT-NeoX, Llama, ggml "neox").
pub const ROPE_LAYOUT_HALF_SPLIT: u32 = 1;
/// Pairs read interleaved and written in half-split order (DeepSeek-V2/V3's
/// `rope_interleave`); the inverse reads half-split and writes interleaved.
pub const ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT: u32 = 2;

/// The default schedule base^(-2i/d).
pub const ROPE_SCALING_NONE: u32 = 0;
/// Linear scaling (position interpolation): frequencies divided by `factor`.
pub const ROPE_SCALING_LINEAR: u32 = 1;
/// Static NTK-aware scaling with alpha = `factor`.
pub const ROPE_SCALING_NTK_AWARE: u32 = 2;
/// transformers "dynamic": `factor`, `max_position_embeddings`, `seq_len`.
pub const ROPE_SCALING_DYNAMIC_NTK: u32 = 3;
/// YaRN: `factor`, `original_max_position_embeddings`, `beta_fast`, `beta_slow`,
/// `mscale`, `mscale_all_dim`, `attention_factor` (NaN: unset), `truncate`.
pub const ROPE_SCALING_YARN: u32 = 4;
/// Llama 3: `factor`, `low_freq_factor`, `high_freq_factor`,
/// `original_max_position_embeddings`.
pub const ROPE_SCALING_LLAMA3: u32 = 5;
/// LongRoPE: `short_factor`, `long_factor` (`n_factors` each),
/// `original_max_position_embeddings`, `max_position_embeddings`, `factor` and
/// `attention_factor` (NaN: unset), `longrope_choice` (with `seq_len`).
pub const ROPE_SCALING_LONGROPE: u32 = 6;

/// LongRoPE's list by sequence length (`seq_len` past the original length: long).
pub const ROPE_LONGROPE_BY_SEQ_LEN: u32 = 0;
/// LongRoPE's short factors.
pub const ROPE_LONGROPE_SHORT: u32 = 1;
/// LongRoPE's long factors.
pub const ROPE_LONGROPE_LONG: u32 = 2;

/// One position per token.
pub const ROPE_AXES_SINGLE: u32 = 0;
/// M-RoPE (Qwen2-VL): `sections[0..3]` pairs per axis (t, h, w), in blocks.
pub const ROPE_AXES_MROPE: u32 = 1;
/// Interleaved M-RoPE (Qwen3-VL): `sections[0..3]`, axes taking pairs in turn.
pub const ROPE_AXES_MROPE_INTERLEAVED: u32 = 2;
/// 2-D axial RoPE (vision patches): half the pairs by row, half by column.
pub const ROPE_AXES_AXIAL_2D: u32 = 3;

/// A transformers config.json's full-attention layers.
pub const ROPE_LAYER_FULL: u32 = 0;
/// A transformers config.json's sliding-window layers (Gemma 3's local base).
pub const ROPE_LAYER_SLIDING: u32 = 1;

/// A model's RoPE, as plain data: the crate's builder. Start from `rope_config_init`,
/// which sets `size`; fields added by later versions go after the last one here, and a
/// caller built against this header passes this `size`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeConfig {
    /// sizeof(RopeConfig) as the caller's header has it.
    pub size: u32,
    /// Channels per head (even).
    pub head_dim: u32,
    /// Rotated channels per head (even, <= head_dim); 0 means head_dim.
    pub rotary_dim: u32,
    /// A ROPE_LAYOUT_* value.
    pub layout: u32,
    /// ROPE_BACKEND_AUTO or a ROPE_BACKEND_* value.
    pub backend: i32,
    /// A ROPE_SCALING_* value: the frequency schedule.
    pub scaling: u32,
    /// Frequency base theta (e.g. 10000, 500000); ignored when inv_freq is given.
    pub base: f64,
    /// Magnitude factor on cos and sin (1 for none); schedules with an attention factor
    /// multiply it in.
    pub scale: f64,
    /// Optional: rotary_dim/2 inverse frequencies (radians per position); NULL for the
    /// schedule's.
    pub inv_freq: *const f64,
    /// Number of values at inv_freq.
    pub n_inv_freq: usize,
    /// Optional: rotary_dim/2 frequency divisors (ggml's rope_freqs); NULL for none.
    pub freq_factors: *const f64,
    /// Number of values at freq_factors.
    pub n_freq_factors: usize,
    /// The schedule's factor (linear, NTK alpha, dynamic, YaRN, Llama 3, LongRoPE; NaN:
    /// LongRoPE's default).
    pub factor: f64,
    /// The pre-training context length (YaRN, Llama 3, LongRoPE).
    pub original_max_position_embeddings: u64,
    /// The config's max_position_embeddings (dynamic NTK, LongRoPE).
    pub max_position_embeddings: u64,
    /// The current sequence length (dynamic NTK; LongRoPE by length).
    pub seq_len: u64,
    /// YaRN's beta_fast (32 by default).
    pub beta_fast: f64,
    /// YaRN's beta_slow (1 by default).
    pub beta_slow: f64,
    /// YaRN's mscale (NaN: unset).
    pub mscale: f64,
    /// YaRN's mscale_all_dim (NaN: unset).
    pub mscale_all_dim: f64,
    /// YaRN's or LongRoPE's attention_factor (NaN: the schedule's own).
    pub attention_factor: f64,
    /// Llama 3's low_freq_factor.
    pub low_freq_factor: f64,
    /// Llama 3's high_freq_factor.
    pub high_freq_factor: f64,
    /// LongRoPE's short_factor list (rotary_dim/2 values).
    pub short_factor: *const f64,
    /// LongRoPE's long_factor list (rotary_dim/2 values).
    pub long_factor: *const f64,
    /// Values in each LongRoPE list.
    pub n_factors: usize,
    /// A ROPE_LONGROPE_* value.
    pub longrope_choice: u32,
    /// YaRN's truncate (1 by default; 0 for gpt-oss's `truncate: false`).
    pub truncate: u32,
    /// transformers' proportional partial rotary: this many channels rotated (0: off);
    /// with rotary_dim 0 (it is a different form of partial rotary).
    pub proportional_rotary: u32,
    /// Channels before the rotated ones in each head (ggml's n_offs).
    pub channel_offset: u32,
    /// A ROPE_AXES_* value.
    pub axes: u32,
    /// M-RoPE sections (pairs per axis; the fourth unused).
    pub sections: [u32; 4],
}

/// ggml's RoPE parameters (`ggml_rope_ext` / `ggml_rope_multi`), as a GGUF-based runtime
/// reads them. Start from `rope_ggml_params_init`, which sets `size`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeGgmlParams {
    /// sizeof(RopeGgmlParams) as the caller's header has it.
    pub size: u32,
    /// Channels per head (even).
    pub head_dim: u32,
    /// n_dims (n_rot): rotated channels per head.
    pub n_dims: u32,
    /// ggml's mode: 0 normal, 2 neox, 8 M-RoPE, 40 interleaved M-RoPE, 24 vision.
    pub mode: i32,
    /// ROPE_BACKEND_AUTO or a ROPE_BACKEND_* value.
    pub backend: i32,
    /// Channels before the rotated ones (n_offs).
    pub n_offs: u32,
    /// freq_base.
    pub freq_base: f64,
    /// freq_scale (1 / the context scaling factor).
    pub freq_scale: f64,
    /// ext_factor: 0 turns YaRN off.
    pub ext_factor: f64,
    /// attn_factor: the magnitude on cos and sin.
    pub attn_factor: f64,
    /// beta_fast (32 in llama.cpp).
    pub beta_fast: f64,
    /// beta_slow (1 in llama.cpp).
    pub beta_slow: f64,
    /// n_ctx_orig: the original context length (needed when ext_factor != 0).
    pub n_ctx_orig: u64,
    /// Optional: n_dims/2 frequency factors (the rope_freqs tensor), NULL for none.
    pub freq_factors: *const f64,
    /// Number of values at freq_factors.
    pub n_freq_factors: usize,
    /// ggml_rope_multi's sections (multi-axis modes).
    pub sections: [u32; 4],
}

pub(crate) fn layout_of(layout: u32) -> Result<PairLayout, Fail> {
    match layout {
        ROPE_LAYOUT_INTERLEAVED => Ok(PairLayout::Interleaved),
        ROPE_LAYOUT_HALF_SPLIT => Ok(PairLayout::HalfSplit),
        ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT => Ok(PairLayout::InterleavedToHalfSplit),
        _ => Err(Fail::BadEnum("layout", layout.into())),
    }
}

/// `None` for NaN (an unset optional parameter).
fn set(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

/// The defaults for a head size, with `size` set: full rotary, base 10000, half-split
/// pairs, scale 1, the default schedule (YaRN's betas 32 and 1, NaN for the unset
/// optional parameters), one position axis, the best backend.
///
/// # Safety
/// `config` NULL (ignored) or valid for writing a RopeConfig.
#[no_mangle]
pub unsafe extern "C" fn rope_config_init(config: *mut RopeConfig, head_dim: u32) {
    if config.is_null() {
        return;
    }
    let c = RopeConfig {
        size: size_of::<RopeConfig>() as u32,
        head_dim,
        rotary_dim: 0,
        layout: ROPE_LAYOUT_HALF_SPLIT,
        backend: ROPE_BACKEND_AUTO,
        scaling: ROPE_SCALING_NONE,
        base: 10_000.0,
        scale: 1.0,
        inv_freq: core::ptr::null(),
        n_inv_freq: 0,
        freq_factors: core::ptr::null(),
        n_freq_factors: 0,
        factor: 1.0,
        original_max_position_embeddings: 0,
        max_position_embeddings: 0,
        seq_len: 0,
        beta_fast: 32.0,
        beta_slow: 1.0,
        mscale: f64::NAN,
        mscale_all_dim: f64::NAN,
        attention_factor: f64::NAN,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        short_factor: core::ptr::null(),
        long_factor: core::ptr::null(),
        n_factors: 0,
        longrope_choice: ROPE_LONGROPE_BY_SEQ_LEN,
        truncate: 1,
        proportional_rotary: 0,
        channel_offset: 0,
        axes: ROPE_AXES_SINGLE,
        sections: [0; 4],
    };
    // SAFETY: non-NULL and writable (caller).
    unsafe { config.write(c) };
}

fn axes_of(axes: u32, s: [u32; 4]) -> Result<Axes, Fail> {
    match axes {
        ROPE_AXES_SINGLE => Ok(Axes::Single),
        ROPE_AXES_MROPE => Ok(Axes::MRope([s[0], s[1], s[2]])),
        ROPE_AXES_MROPE_INTERLEAVED => Ok(Axes::MRopeInterleaved([s[0], s[1], s[2]])),
        ROPE_AXES_AXIAL_2D => Ok(Axes::Axial2d),
        _ => Err(Fail::BadEnum("config.axes", axes.into())),
    }
}

/// Build the `Rope` a config describes in `slot` (untouched on an error).
///
/// # Safety
/// Its pointers NULL or valid for their lengths.
pub(crate) unsafe fn from_config(c: &RopeConfig, slot: &mut MaybeUninit<Rope>) -> Result<(), Fail> {
    let head_dim = c.head_dim as usize;
    let mut b = Rope::builder(head_dim)
        .layout(layout_of(c.layout)?)
        .base(c.base)
        .scale(c.scale)
        .axes(axes_of(c.axes, c.sections)?);
    if !c.inv_freq.is_null() {
        // SAFETY: non-NULL, so valid for `n_inv_freq` doubles (caller).
        b = b.inv_freqs(unsafe { slice(c.inv_freq, c.n_inv_freq, "config.inv_freq")? });
    }
    if !c.freq_factors.is_null() {
        // SAFETY: non-NULL, so valid for `n_freq_factors` doubles (caller).
        b = b.freq_factors(unsafe {
            slice(c.freq_factors, c.n_freq_factors, "config.freq_factors")?
        });
    }
    // 0 is the builder's own default (the whole head), left unset so that it combines
    // with the proportional form, which the prefix form does not.
    if c.rotary_dim != 0 {
        b = b.rotary_dim(c.rotary_dim as usize);
    }
    if c.proportional_rotary != 0 {
        b = b.proportional_rotary(c.proportional_rotary as usize);
    }
    if c.channel_offset != 0 {
        b = b.channel_offset(c.channel_offset as usize);
    }
    let scaling = match c.scaling {
        ROPE_SCALING_NONE => Scaling::None,
        ROPE_SCALING_LINEAR => Scaling::Linear { factor: c.factor },
        ROPE_SCALING_NTK_AWARE => Scaling::NtkAware { alpha: c.factor },
        ROPE_SCALING_DYNAMIC_NTK => Scaling::DynamicNtk {
            factor: c.factor,
            max_position_embeddings: c.max_position_embeddings,
            seq_len: c.seq_len,
        },
        ROPE_SCALING_YARN => {
            let mut y = Yarn::new(c.factor, c.original_max_position_embeddings)
                .beta_fast(c.beta_fast)
                .beta_slow(c.beta_slow)
                .truncate(c.truncate != 0);
            if let Some(v) = set(c.mscale) {
                y = y.mscale(v);
            }
            if let Some(v) = set(c.mscale_all_dim) {
                y = y.mscale_all_dim(v);
            }
            if let Some(v) = set(c.attention_factor) {
                y = y.attention_factor(v);
            }
            Scaling::Yarn(y)
        }
        ROPE_SCALING_LLAMA3 => Scaling::Llama3(Llama3::new(
            c.factor,
            c.low_freq_factor,
            c.high_freq_factor,
            c.original_max_position_embeddings,
        )),
        ROPE_SCALING_LONGROPE => {
            let n = c.n_factors;
            // SAFETY: both lists NULL (an error) or valid for `n_factors` doubles (caller).
            let (short, long) = unsafe {
                (
                    slice(c.short_factor, n, "config.short_factor")?,
                    slice(c.long_factor, n, "config.long_factor")?,
                )
            };
            let choice = match c.longrope_choice {
                ROPE_LONGROPE_BY_SEQ_LEN => LongRopeChoice::SeqLen(c.seq_len),
                ROPE_LONGROPE_SHORT => LongRopeChoice::Short,
                ROPE_LONGROPE_LONG => LongRopeChoice::Long,
                v => return Err(Fail::BadEnum("config.longrope_choice", v.into())),
            };
            let lengths = ContextLengths {
                original: c.original_max_position_embeddings,
                extended: c.max_position_embeddings,
            };
            let mut lr = LongRope::new(short, long, lengths, choice);
            if let Some(v) = set(c.factor) {
                lr = lr.factor(v);
            }
            if let Some(v) = set(c.attention_factor) {
                lr = lr.attention_factor(v);
            }
            Scaling::LongRope(lr)
        }
        v => return Err(Fail::BadEnum("config.scaling", v.into())),
    };
    if let Some(backend) = backend_from(c.backend)? {
        b = b.backend(backend);
    }
    b.scaling(scaling).build_in_place(slot)?;
    Ok(())
}

/// ggml's defaults for a model, with `size` set: `n_dims` rotated channels of
/// `head_dim`, `freq_base`, mode 2 (neox), freq_scale 1, YaRN off (ext_factor 0),
/// attn_factor 1, betas 32 and 1, n_ctx_orig 0, no freq_factors, no sections, n_offs 0,
/// the best backend.
///
/// # Safety
/// `params` NULL (ignored) or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn rope_ggml_params_init(
    params: *mut RopeGgmlParams,
    head_dim: u32,
    n_dims: u32,
    freq_base: f64,
) {
    if params.is_null() {
        return;
    }
    let g = Ggml::new(n_dims as usize, freq_base);
    let p = RopeGgmlParams {
        size: size_of::<RopeGgmlParams>() as u32,
        head_dim,
        n_dims,
        mode: 2,
        backend: ROPE_BACKEND_AUTO,
        n_offs: 0,
        freq_base,
        freq_scale: g.freq_scale,
        ext_factor: g.ext_factor,
        attn_factor: g.attn_factor,
        beta_fast: g.beta_fast,
        beta_slow: g.beta_slow,
        n_ctx_orig: g.n_ctx_orig,
        freq_factors: core::ptr::null(),
        n_freq_factors: 0,
        sections: [0; 4],
    };
    // SAFETY: non-NULL and writable (caller).
    unsafe { params.write(p) };
}
