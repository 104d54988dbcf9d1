//! Building a description: plain, size-versioned configuration structs (the crate's
//! builder, ggml's parameters), a GGUF file's metadata through a lookup callback, a
//! transformers config.json (with `json`), and re-rotations; each into caller memory or,
//! with an allocator, onto the heap. Also the backend queries.

use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of};

use rope_simd::{
    Axes, Backend, ContextLengths, Ggml, GgmlMode, GgufRope, GgufValue, Llama3, LongRope,
    LongRopeChoice, PairLayout, Rope, Scaling, Yarn,
};

use crate::status::{run, Fail, RopeErrorInfo};
use crate::tensor::{slice, slice_mut};

/// Pairs are (x[2i], x[2i+1]) (RoFormer, GPT-J, ggml "normal").
pub const ROPE_LAYOUT_INTERLEAVED: u32 = 0;
/// Pairs are (x[i], x[i + rotary_dim/2]) (GPT-NeoX, Llama, ggml "neox").
pub const ROPE_LAYOUT_HALF_SPLIT: u32 = 1;
/// Pairs read interleaved and written in half-split order (DeepSeek-V2/V3's
/// `rope_interleave`); the inverse reads half-split and writes interleaved.
pub const ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT: u32 = 2;

/// The fastest backend this CPU runs.
pub const ROPE_BACKEND_AUTO: i32 = -1;
/// Plain scalar code.
pub const ROPE_BACKEND_SCALAR: i32 = 0;
/// Portable 8-lane vectors (SSE2, NEON, simd128).
pub const ROPE_BACKEND_LANES: i32 = 1;
/// x86_64 AVX2 + F16C.
pub const ROPE_BACKEND_AVX2: i32 = 2;
/// x86_64 AVX-512F (bf16 rounded in integer lanes).
pub const ROPE_BACKEND_AVX512: i32 = 3;
/// x86_64 AVX-512F with AVX512_BF16 (bf16 rounded with its instructions).
pub const ROPE_BACKEND_AVX512_BF16: i32 = 4;

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
    /// transformers' proportional partial rotary: this many channels rotated (0: off).
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

/// No value for this key.
pub const ROPE_GGUF_NONE: u32 = 0;
/// `u`: a uint32.
pub const ROPE_GGUF_U32: u32 = 1;
/// `i`: an int32.
pub const ROPE_GGUF_I32: u32 = 2;
/// `u`: a uint64.
pub const ROPE_GGUF_U64: u32 = 3;
/// `i`: an int64.
pub const ROPE_GGUF_I64: u32 = 4;
/// `f`: a float32 (as a double).
pub const ROPE_GGUF_F32: u32 = 5;
/// `f`: a float64.
pub const ROPE_GGUF_F64: u32 = 6;
/// `data`, `len`: a UTF-8 string (not NUL-terminated).
pub const ROPE_GGUF_STR: u32 = 7;
/// `data`, `len`: an array of int32.
pub const ROPE_GGUF_I32S: u32 = 8;
/// `data`, `len`: an array of uint32.
pub const ROPE_GGUF_U32S: u32 = 9;

/// One GGUF metadata value, as a lookup callback returns it. `data` must stay valid
/// until the constructor returns (a mapped GGUF file does).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeGgufValue {
    /// A ROPE_GGUF_* value.
    pub kind: u32,
    /// Signed integers.
    pub i: i64,
    /// Unsigned integers.
    pub u: u64,
    /// Floats.
    pub f: f64,
    /// Strings and arrays.
    pub data: *const c_void,
    /// Bytes of a string, elements of an array.
    pub len: usize,
}

/// A lookup of GGUF metadata: fill `*out` for `key` (NUL-terminated, e.g.
/// "llama.rope.freq_base"; kind ROPE_GGUF_NONE if absent) and return 0, or nonzero to
/// fail the constructor.
pub type RopeGgufLookup = Option<
    unsafe extern "C" fn(user: *mut c_void, key: *const c_char, out: *mut RopeGgufValue) -> i32,
>;

/// An immutable RoPE description; thread-safe to share. Made by a `rope_create*`
/// function in caller memory (`rope_handle_size` bytes) or on the heap.
pub struct RopeHandle {
    rope: Rope,
    /// Made on the heap: `rope_destroy` frees it.
    owned: bool,
}

/// Bytes of caller memory a handle takes (`mem` of the `rope_create*` functions).
#[no_mangle]
pub extern "C" fn rope_handle_size() -> usize {
    size_of::<RopeHandle>()
}

/// The alignment that memory needs.
#[no_mangle]
pub extern "C" fn rope_handle_align() -> usize {
    align_of::<RopeHandle>()
}

/// Read a size-versioned struct: its `size` must cover at least `T`'s first version
/// (all of `T`, this being the first); fields a newer header adds past it are not read.
///
/// # Safety
/// `p` NULL or valid for its own `size` bytes (at least 4).
unsafe fn versioned<T: Copy>(p: *const T, what: &'static str) -> Result<T, Fail> {
    if p.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: the first field of every versioned struct is its u32 size (caller).
    let size = unsafe { p.cast::<u32>().read() } as usize;
    if size < size_of::<T>() {
        return Err(Fail::StructSize(what, size, size_of::<T>()));
    }
    // SAFETY: valid for `size >= size_of::<T>()` bytes (caller).
    Ok(unsafe { p.read() })
}

pub(crate) fn layout_of(layout: u32) -> Result<PairLayout, Fail> {
    match layout {
        ROPE_LAYOUT_INTERLEAVED => Ok(PairLayout::Interleaved),
        ROPE_LAYOUT_HALF_SPLIT => Ok(PairLayout::HalfSplit),
        ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT => Ok(PairLayout::InterleavedToHalfSplit),
        _ => Err(Fail::BadEnum("layout", layout.into())),
    }
}

fn backend_from(code: i32) -> Result<Option<Backend>, Fail> {
    Ok(match code {
        ROPE_BACKEND_AUTO => None,
        ROPE_BACKEND_SCALAR => Some(Backend::Scalar),
        ROPE_BACKEND_LANES => Some(Backend::Lanes),
        ROPE_BACKEND_AVX2 => Some(Backend::Avx2),
        ROPE_BACKEND_AVX512 => Some(Backend::Avx512),
        ROPE_BACKEND_AVX512_BF16 => Some(Backend::Avx512Bf16),
        _ => return Err(Fail::BadEnum("backend", code.into())),
    })
}

fn backend_code(b: Backend) -> i32 {
    match b {
        Backend::Scalar => ROPE_BACKEND_SCALAR,
        Backend::Lanes => ROPE_BACKEND_LANES,
        Backend::Avx2 => ROPE_BACKEND_AVX2,
        Backend::Avx512 => ROPE_BACKEND_AVX512,
        Backend::Avx512Bf16 => ROPE_BACKEND_AVX512_BF16,
        _ => ROPE_BACKEND_SCALAR,
    }
}

fn with_backend(rope: Rope, code: i32) -> Result<Rope, Fail> {
    match backend_from(code)? {
        Some(b) => Ok(rope.with_backend(b)?),
        None => Ok(rope),
    }
}

/// `None` for NaN (an unset optional parameter).
fn set(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

/// Place `rope` in `mem` (or, NULL, on the heap) and point `*out` at it.
///
/// # Safety
/// `mem` NULL or valid for `mem_size` writable bytes; `out` valid for writing.
unsafe fn place(
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    rope: Rope,
) -> Result<(), Fail> {
    let handle = if mem.is_null() {
        #[cfg(feature = "alloc")]
        {
            alloc::boxed::Box::into_raw(alloc::boxed::Box::new(RopeHandle { rope, owned: true }))
        }
        #[cfg(not(feature = "alloc"))]
        {
            let _ = rope;
            return Err(Fail::Null("mem (this build has no allocator)"));
        }
    } else {
        if mem_size < size_of::<RopeHandle>()
            || !(mem as usize).is_multiple_of(align_of::<RopeHandle>())
        {
            return Err(Fail::Memory(
                size_of::<RopeHandle>(),
                align_of::<RopeHandle>(),
            ));
        }
        let h = mem.cast::<RopeHandle>();
        // SAFETY: `mem` is large enough, aligned and writable (checked, caller).
        unsafe { h.write(RopeHandle { rope, owned: false }) };
        h
    };
    // SAFETY: `out` is valid (checked non-NULL by the caller of `place`).
    unsafe { *out = handle };
    Ok(())
}

/// The shared body of the constructors: `*out` NULL until `make` succeeds.
///
/// # Safety
/// As `place`.
unsafe fn create(
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
    make: impl FnOnce() -> Result<Rope, Fail>,
) -> i32 {
    run(err, || {
        if out.is_null() {
            return Err(Fail::Null("out"));
        }
        // SAFETY: `out` is non-NULL and writable (caller).
        unsafe { *out = core::ptr::null_mut() };
        let rope = make()?;
        // SAFETY: forwarded contract.
        unsafe { place(mem, mem_size, out, rope) }
    })
}

pub(crate) unsafe fn handle<'a>(rope: *const RopeHandle) -> Result<&'a Rope, Fail> {
    if rope.is_null() {
        return Err(Fail::Null("rope"));
    }
    // SAFETY: non-NULL handles come from a `rope_create*` function and live until
    // `rope_destroy` (or their memory is reused).
    Ok(unsafe { &(*rope).rope })
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

/// The `Rope` a config describes.
///
/// # Safety
/// Its pointers NULL or valid for their lengths.
unsafe fn from_config(c: &RopeConfig) -> Result<Rope, Fail> {
    let head_dim = c.head_dim as usize;
    let rotary_dim = match c.rotary_dim {
        0 => head_dim,
        r => r as usize,
    };
    let mut b = Rope::builder(head_dim)
        .rotary_dim(rotary_dim)
        .layout(layout_of(c.layout)?)
        .base(c.base)
        .scale(c.scale)
        .axes(axes_of(c.axes, c.sections)?);
    // SAFETY (the slices below): valid for their lengths where non-NULL (caller).
    if !c.inv_freq.is_null() {
        b = b.inv_freqs(unsafe { slice(c.inv_freq, c.n_inv_freq, "config.inv_freq")? });
    }
    if !c.freq_factors.is_null() {
        b = b.freq_factors(unsafe {
            slice(c.freq_factors, c.n_freq_factors, "config.freq_factors")?
        });
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
            // SAFETY: valid for n_factors values each (caller).
            let short = unsafe { slice(c.short_factor, n, "config.short_factor")? };
            let long = unsafe { slice(c.long_factor, n, "config.long_factor")? };
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
    Ok(b.scaling(scaling).build()?)
}

/// Validate `config` and create a description in `*out`: in `mem` (`mem_size` bytes, at
/// least `rope_handle_size()`, aligned to `rope_handle_align()`; no allocation), or on
/// the heap when `mem` is NULL (not in the no_std library). Free it with `rope_destroy`.
/// On error `*out` is NULL and `*err` (if not NULL) says why.
///
/// # Safety
/// `config` valid (or NULL, an error) with its pointers NULL or valid for their lengths;
/// `mem` NULL or valid for `mem_size` bytes; `out` valid (or NULL, an error); `err` NULL
/// or valid.
#[no_mangle]
pub unsafe extern "C" fn rope_create(
    config: *const RopeConfig,
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
) -> i32 {
    let make = || {
        // SAFETY: forwarded contract.
        let c = unsafe { versioned(config, "config")? };
        unsafe { from_config(&c) }
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
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

/// Create a description from ggml's parameters, as `rope_create` does from a config.
///
/// # Safety
/// As `rope_create`, for `params`.
#[no_mangle]
pub unsafe extern "C" fn rope_create_ggml(
    params: *const RopeGgmlParams,
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
) -> i32 {
    let make = || {
        // SAFETY: `params` per the contract.
        let p = unsafe { versioned(params, "params")? };
        let mode =
            GgmlMode::from_ggml(p.mode).ok_or(Fail::BadEnum("params.mode", p.mode.into()))?;
        let mut g = Ggml::new(p.n_dims as usize, p.freq_base)
            .freq_scale(p.freq_scale)
            .ext_factor(p.ext_factor)
            .attn_factor(p.attn_factor)
            .beta_fast(p.beta_fast)
            .beta_slow(p.beta_slow)
            .n_ctx_orig(p.n_ctx_orig)
            .n_offs(p.n_offs as usize);
        if !p.freq_factors.is_null() {
            // SAFETY: valid for n_freq_factors doubles (caller).
            g = g.freq_factors(unsafe {
                slice(p.freq_factors, p.n_freq_factors, "params.freq_factors")?
            });
        }
        let rope = Rope::ggml_multi(p.head_dim as usize, mode, p.sections, &g)?;
        with_backend(rope, p.backend)
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
}

/// Create a description from a GGUF file's metadata, the way llama.cpp runs the model:
/// `lookup(user, key, &value)` is called for the keys it needs ("general.architecture",
/// "{arch}.rope.freq_base", ...). Otherwise as `rope_create`.
///
/// # Safety
/// `lookup` a valid function (or NULL, an error) that fills `*out` with data valid until
/// this call returns; otherwise as `rope_create`.
#[no_mangle]
pub unsafe extern "C" fn rope_create_gguf(
    lookup: RopeGgufLookup,
    user: *mut c_void,
    backend: i32,
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
) -> i32 {
    let make = || {
        let lookup = lookup.ok_or(Fail::Null("lookup"))?;
        let failed = core::cell::Cell::new(None);
        let get = |key: &str| -> Option<GgufValue<'_>> {
            let mut z = [0u8; 160];
            if key.len() >= z.len() || failed.get().is_some() {
                return None;
            }
            z[..key.len()].copy_from_slice(key.as_bytes());
            let mut v = RopeGgufValue {
                kind: ROPE_GGUF_NONE,
                i: 0,
                u: 0,
                f: 0.0,
                data: core::ptr::null(),
                len: 0,
            };
            // SAFETY: a valid callback (caller) given a NUL-terminated key and a value to
            // fill.
            let rc = unsafe { lookup(user, z.as_ptr().cast(), &mut v) };
            if rc != 0 {
                failed.set(Some(rc));
                return None;
            }
            // SAFETY (the slices): `data` valid for `len` elements until this call
            // returns (the callback's contract).
            let value = match v.kind {
                ROPE_GGUF_U32 => GgufValue::U32(v.u as u32),
                ROPE_GGUF_I32 => GgufValue::I32(v.i as i32),
                ROPE_GGUF_U64 => GgufValue::U64(v.u),
                ROPE_GGUF_I64 => GgufValue::I64(v.i),
                ROPE_GGUF_F32 => GgufValue::F32(v.f as f32),
                ROPE_GGUF_F64 => GgufValue::F64(v.f),
                ROPE_GGUF_STR => {
                    let bytes = unsafe { slice(v.data.cast::<u8>(), v.len, "value.data") }.ok()?;
                    GgufValue::Str(core::str::from_utf8(bytes).ok()?)
                }
                ROPE_GGUF_I32S => {
                    GgufValue::I32s(unsafe { slice(v.data.cast(), v.len, "value.data") }.ok()?)
                }
                ROPE_GGUF_U32S => {
                    GgufValue::U32s(unsafe { slice(v.data.cast(), v.len, "value.data") }.ok()?)
                }
                _ => return None,
            };
            Some(value)
        };
        let built = GgufRope::from_metadata(get).and_then(|g| g.rope());
        if let Some(rc) = failed.get() {
            return Err(Fail::Callback(rc));
        }
        with_backend(built?, backend)
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
}

/// Create a description from a transformers config.json (`json`, `len` bytes of UTF-8)
/// for a layer kind (ROPE_LAYER_FULL or ROPE_LAYER_SLIDING) at sequence length
/// `seq_len` (dynamic NTK and LongRoPE use it). Not in the no_std library. Otherwise
/// as `rope_create`.
///
/// # Safety
/// `json` valid for `len` bytes (or NULL, an error); otherwise as `rope_create`.
#[cfg(feature = "json")]
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn rope_create_hf_json(
    json: *const c_char,
    len: usize,
    layer: u32,
    seq_len: u64,
    backend: i32,
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
) -> i32 {
    let make = || {
        // SAFETY: valid for `len` bytes (caller).
        let bytes = unsafe { slice(json.cast::<u8>(), len, "json")? };
        let config: rope_simd::HfConfig = serde_json::from_slice(bytes).map_err(|_| Fail::Json)?;
        let layer = match layer {
            ROPE_LAYER_FULL => rope_simd::LayerKind::Full,
            ROPE_LAYER_SLIDING => rope_simd::LayerKind::Sliding,
            v => return Err(Fail::BadEnum("layer", v.into())),
        };
        with_backend(config.rope(layer, seq_len)?, backend)
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
}

/// Create the re-rotation from `from`'s frequencies to `to`'s (keys cached with one
/// schedule turned into keys of the other; apply it at the keys' positions). Otherwise
/// as `rope_create`.
///
/// # Safety
/// `from` and `to` from a `rope_create*` function; otherwise as `rope_create`.
#[no_mangle]
pub unsafe extern "C" fn rope_create_rerotation(
    from: *const RopeHandle,
    to: *const RopeHandle,
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
) -> i32 {
    let make = || {
        // SAFETY: handles per the contract.
        let (from, to) = unsafe { (handle(from)?, handle(to)?) };
        Ok(from.rerotation(to)?)
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
}

/// Free a handle made on the heap; a handle in caller memory needs nothing (its memory
/// is the caller's to reuse). NULL is ignored.
///
/// # Safety
/// `rope` from a `rope_create*` function, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rope_destroy(rope: *mut RopeHandle) {
    if rope.is_null() {
        return;
    }
    // SAFETY: a live handle (caller).
    let owned = unsafe { (*rope).owned };
    #[cfg(feature = "alloc")]
    if owned {
        // SAFETY: made by `Box::into_raw` in `place`, freed once (caller).
        drop(unsafe { alloc::boxed::Box::from_raw(rope) });
    }
    #[cfg(not(feature = "alloc"))]
    let _ = owned;
}

/// The backend a description runs on (a ROPE_BACKEND_* value), or ROPE_ERR_NULL.
///
/// # Safety
/// `rope` from a `rope_create*` function, or NULL.
#[no_mangle]
pub unsafe extern "C" fn rope_backend(rope: *const RopeHandle) -> i32 {
    // SAFETY: see the function's contract.
    match unsafe { handle(rope) } {
        Ok(r) => backend_code(r.backend()),
        Err(_) => crate::status::ROPE_ERR_NULL,
    }
}

/// Make a description run on `backend` (ROPE_BACKEND_AUTO for the best); an unavailable
/// backend is ROPE_ERR_BACKEND_UNAVAILABLE and changes nothing.
///
/// # Safety
/// `rope` from a `rope_create*` function (or NULL, an error), not used by another thread
/// during the call; `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rope_set_backend(
    rope: *mut RopeHandle,
    backend: i32,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        if rope.is_null() {
            return Err(Fail::Null("rope"));
        }
        let b = backend_from(backend)?.unwrap_or_else(Backend::detect);
        // SAFETY: a live handle, exclusively ours during the call (caller).
        let h = unsafe { &mut *rope };
        h.rope = h.rope.clone().with_backend(b)?;
        Ok(())
    })
}

/// 1 if this CPU runs `backend` (a ROPE_BACKEND_* value), 0 if not or unknown.
#[no_mangle]
pub extern "C" fn rope_backend_available(backend: i32) -> i32 {
    match backend_from(backend) {
        Ok(Some(b)) => i32::from(b.is_available()),
        Ok(None) => 1,
        Err(_) => 0,
    }
}

/// The fastest backend this CPU runs (a ROPE_BACKEND_* value).
#[no_mangle]
pub extern "C" fn rope_best_backend() -> i32 {
    backend_code(Backend::detect())
}

/// A static, NUL-terminated name for a ROPE_BACKEND_* value ("scalar", "lanes", "avx2",
/// "avx512", "avx512bf16", "auto"; "unknown" otherwise).
#[no_mangle]
pub extern "C" fn rope_backend_name(backend: i32) -> *const c_char {
    let s: &'static [u8] = match backend_from(backend) {
        Ok(None) => b"auto\0",
        Ok(Some(Backend::Scalar)) => b"scalar\0",
        Ok(Some(Backend::Lanes)) => b"lanes\0",
        Ok(Some(Backend::Avx2)) => b"avx2\0",
        Ok(Some(Backend::Avx512)) => b"avx512\0",
        Ok(Some(Backend::Avx512Bf16)) => b"avx512bf16\0",
        _ => b"unknown\0",
    };
    s.as_ptr().cast()
}

/// What a description is: its head and rotary dimensions, pair count, layout, position
/// axes and magnitude scale.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeInfo {
    /// Channels per head.
    pub head_dim: u32,
    /// Rotated channels per head.
    pub rotary_dim: u32,
    /// rotary_dim / 2.
    pub pairs: u32,
    /// A ROPE_LAYOUT_* value.
    pub layout: u32,
    /// Position coordinates per token (1, or 2 to 4 for multi-axis descriptions).
    pub axes: u32,
    /// The magnitude factor on cos and sin.
    pub scale: f64,
}

/// Fill `*info` with what `rope` is.
///
/// # Safety
/// `rope` from a `rope_create*` function; `info` valid (or NULL, an error).
#[no_mangle]
pub unsafe extern "C" fn rope_info(rope: *const RopeHandle, info: *mut RopeInfo) -> i32 {
    run(core::ptr::null_mut(), || {
        // SAFETY: see the function's contract.
        let r = unsafe { handle(rope)? };
        let out = unsafe { slice_mut(info, 1, "info")? };
        out[0] = RopeInfo {
            head_dim: r.head_dim() as u32,
            rotary_dim: r.rotary_dim() as u32,
            pairs: r.pairs() as u32,
            layout: match r.layout() {
                PairLayout::Interleaved => ROPE_LAYOUT_INTERLEAVED,
                PairLayout::HalfSplit => ROPE_LAYOUT_HALF_SPLIT,
                _ => ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT,
            },
            axes: r.axes().count() as u32,
            scale: r.scale(),
        };
        Ok(())
    })
}
