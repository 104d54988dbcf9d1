//! The C ABI of rope-simd (`include/rope_simd.h`), built as `librope_simd_c.a`,
//! `librope_simd_c.so` and, for `wasm32-unknown-unknown`, a wasm module with the same
//! exports.
//!
//! Every function returns `ROPE_OK` (0) or a negative `ROPE_ERR_*` code;
//! [`rope_error_message`] gives a static description. A call that fails leaves every
//! buffer untouched. No Rust panic crosses the boundary: each call is wrapped, and a
//! panic (a bug) is reported as `ROPE_ERR_INTERNAL`.
#![allow(clippy::missing_safety_doc)] // each function's `# Safety` is in its doc comment

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use rope_simd::{
    bf16, f16, Backend, Direction, Element, Ggml, PairLayout, Positions, Rope, RopeError, Rotate,
    View,
};

/// Success.
pub const ROPE_OK: i32 = 0;
/// A required pointer is NULL.
pub const ROPE_ERR_NULL: i32 = -1;
/// An enum or flag value is not one of the defined constants.
pub const ROPE_ERR_BAD_ENUM: i32 = -2;
/// `head_dim` or `rotary_dim` is odd.
pub const ROPE_ERR_ODD_DIM: i32 = -3;
/// `head_dim` or `rotary_dim` is zero.
pub const ROPE_ERR_ZERO_DIM: i32 = -4;
/// `rotary_dim` is larger than `head_dim`.
pub const ROPE_ERR_ROTARY_DIM_TOO_LARGE: i32 = -5;
/// `rotary_dim` is larger than the supported maximum (512).
pub const ROPE_ERR_ROTARY_DIM_OVER_MAX: i32 = -6;
/// `base` is not finite or not greater than 1.
pub const ROPE_ERR_BAD_BASE: i32 = -7;
/// `scale` is not in [1/65536, 65536].
pub const ROPE_ERR_BAD_SCALE: i32 = -8;
/// A length (frequencies, table storage) is wrong.
pub const ROPE_ERR_WRONG_LENGTH: i32 = -9;
/// A given inverse frequency is not in [0, 2pi] (or is NaN).
pub const ROPE_ERR_BAD_FREQUENCY: i32 = -10;
/// A head count is zero.
pub const ROPE_ERR_ZERO_HEADS: i32 = -11;
/// A buffer length is not tokens * heads * head_dim.
pub const ROPE_ERR_BUFFER_LENGTH: i32 = -12;
/// Q and K hold different numbers of tokens.
pub const ROPE_ERR_TOKEN_MISMATCH: i32 = -13;
/// A size computation overflows.
pub const ROPE_ERR_SIZE_OVERFLOW: i32 = -14;
/// A position is >= 2^53, or start + tokens overflows.
pub const ROPE_ERR_POSITION_TOO_LARGE: i32 = -15;
/// A position is past the end of the table.
pub const ROPE_ERR_POSITION_OUT_OF_TABLE: i32 = -16;
/// The requested backend does not run on this CPU.
pub const ROPE_ERR_BACKEND_UNAVAILABLE: i32 = -17;
/// An internal error (a bug in rope-simd); nothing was written.
pub const ROPE_ERR_INTERNAL: i32 = -18;
/// A frequency-schedule parameter (ggml's freq_scale, attn_factor, betas, n_ctx_orig,
/// freq_factors) is outside its domain.
pub const ROPE_ERR_BAD_PARAMETER: i32 = -19;

/// Pairs are (x[2i], x[2i+1]) (RoFormer, GPT-J, ggml "normal").
pub const ROPE_LAYOUT_INTERLEAVED: u32 = 0;
/// Pairs are (x[i], x[i + rotary_dim/2]) (GPT-NeoX, Llama, ggml "neox").
pub const ROPE_LAYOUT_HALF_SPLIT: u32 = 1;
/// Pairs read interleaved and written in half-split order (DeepSeek-V2/V3's
/// `rope_interleave`); the inverse reads half-split and writes interleaved.
pub const ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT: u32 = 2;

/// A `ROPE_LAYOUT_*` value as a [`PairLayout`].
fn layout_of(layout: u32) -> Result<PairLayout, i32> {
    match layout {
        ROPE_LAYOUT_INTERLEAVED => Ok(PairLayout::Interleaved),
        ROPE_LAYOUT_HALF_SPLIT => Ok(PairLayout::HalfSplit),
        ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT => Ok(PairLayout::InterleavedToHalfSplit),
        _ => Err(ROPE_ERR_BAD_ENUM),
    }
}

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

/// Flag: the true inverse, by -position * theta divided by the magnitude scale (undoes a
/// rotation at any scale).
pub const ROPE_INVERSE: u32 = 1;
/// Flag: buffers are [heads, tokens, head_dim] instead of [tokens, heads, head_dim].
pub const ROPE_HEADS_TOKENS: u32 = 2;
/// Flag: the transpose, by -position * theta times the magnitude scale (a backward pass;
/// ggml's rope_back). Not with ROPE_INVERSE.
pub const ROPE_TRANSPOSE: u32 = 4;

/// A model's RoPE, as plain data. Start from `rope_config_default`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeConfig {
    /// Channels per head (even).
    pub head_dim: u32,
    /// Rotated channels per head (even, <= head_dim); 0 means head_dim.
    pub rotary_dim: u32,
    /// ROPE_LAYOUT_INTERLEAVED, ROPE_LAYOUT_HALF_SPLIT or
    /// ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT.
    pub layout: u32,
    /// ROPE_BACKEND_AUTO or a ROPE_BACKEND_* value.
    pub backend: i32,
    /// Frequency base theta (e.g. 10000, 500000); ignored when inv_freq is given.
    pub base: f64,
    /// Magnitude factor on cos and sin (1 for none; YaRN's mscale).
    pub scale: f64,
    /// Optional: rotary_dim/2 inverse frequencies (radians per position); NULL for
    /// base^(-2i/rotary_dim).
    pub inv_freq: *const f64,
    /// Number of values at inv_freq.
    pub n_inv_freq: usize,
}

/// ggml's RoPE parameters (`ggml_rope_ext`), as a GGUF-based runtime reads them from the
/// model's metadata. Start from `rope_ggml_params_default`. See the Rust docs of
/// `rope_simd::Ggml` for the formulas (computed here in f64) and where ggml's f32
/// rounding differs.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeGgmlParams {
    /// Channels per head (even).
    pub head_dim: u32,
    /// n_dims (n_rot): rotated channels per head (even, <= head_dim).
    pub n_dims: u32,
    /// ROPE_LAYOUT_INTERLEAVED (ggml "normal") or ROPE_LAYOUT_HALF_SPLIT (ggml "neox").
    pub layout: u32,
    /// ROPE_BACKEND_AUTO or a ROPE_BACKEND_* value.
    pub backend: i32,
    /// freq_base.
    pub freq_base: f64,
    /// freq_scale (1 / the context scaling factor).
    pub freq_scale: f64,
    /// ext_factor: 0 turns YaRN off (llama.cpp passes 1 for YaRN models).
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
}

/// A cos/sin table filled by `rope_table_build`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeTable {
    /// The table storage.
    pub data: *const f32,
    /// Its length in floats (rope_table_len of max_pos).
    pub len: usize,
    /// Positions covered: 0..max_pos.
    pub max_pos: usize,
}

/// An opaque, immutable RoPE description; thread-safe to share.
pub struct RopeHandle(Rope);

fn code(e: RopeError) -> i32 {
    match e {
        RopeError::OddDim { .. } => ROPE_ERR_ODD_DIM,
        RopeError::ZeroDim { .. } => ROPE_ERR_ZERO_DIM,
        RopeError::RotaryDimTooLarge { .. } => ROPE_ERR_ROTARY_DIM_TOO_LARGE,
        RopeError::RotaryDimOverMax { .. } => ROPE_ERR_ROTARY_DIM_OVER_MAX,
        RopeError::BadBase { .. } => ROPE_ERR_BAD_BASE,
        RopeError::BadScale { .. } => ROPE_ERR_BAD_SCALE,
        RopeError::WrongLength { .. } => ROPE_ERR_WRONG_LENGTH,
        RopeError::BadFrequency { .. } => ROPE_ERR_BAD_FREQUENCY,
        RopeError::ZeroHeads { .. } => ROPE_ERR_ZERO_HEADS,
        RopeError::BufferLength { .. } => ROPE_ERR_BUFFER_LENGTH,
        RopeError::TokenMismatch { .. } => ROPE_ERR_TOKEN_MISMATCH,
        RopeError::SizeOverflow => ROPE_ERR_SIZE_OVERFLOW,
        RopeError::PositionTooLarge { .. } => ROPE_ERR_POSITION_TOO_LARGE,
        RopeError::PositionOutOfTable { .. } => ROPE_ERR_POSITION_OUT_OF_TABLE,
        RopeError::BackendUnavailable { .. } => ROPE_ERR_BACKEND_UNAVAILABLE,
        RopeError::BadParameter { .. } => ROPE_ERR_BAD_PARAMETER,
        _ => ROPE_ERR_INTERNAL,
    }
}

/// Run `f`, turning errors into codes and a panic into ROPE_ERR_INTERNAL.
fn guard(f: impl FnOnce() -> Result<(), i32>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ROPE_OK,
        Ok(Err(c)) => c,
        Err(_) => ROPE_ERR_INTERNAL,
    }
}

fn backend_from(code: i32) -> Result<Option<Backend>, i32> {
    Ok(match code {
        ROPE_BACKEND_AUTO => None,
        ROPE_BACKEND_SCALAR => Some(Backend::Scalar),
        ROPE_BACKEND_LANES => Some(Backend::Lanes),
        ROPE_BACKEND_AVX2 => Some(Backend::Avx2),
        ROPE_BACKEND_AVX512 => Some(Backend::Avx512),
        ROPE_BACKEND_AVX512_BF16 => Some(Backend::Avx512Bf16),
        _ => return Err(ROPE_ERR_BAD_ENUM),
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

/// A slice from a C pointer and length; NULL is an error (an empty slice needs no
/// pointer, but we do not guess).
unsafe fn slice<'a, T>(p: *const T, len: usize) -> Result<&'a [T], i32> {
    if p.is_null() {
        return Err(ROPE_ERR_NULL);
    }
    // SAFETY: the caller guarantees `len` readable elements at `p` (documented per
    // function); `p` is non-null, and C pointers to these types are aligned.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

unsafe fn slice_mut<'a, T>(p: *mut T, len: usize) -> Result<&'a mut [T], i32> {
    if p.is_null() {
        return Err(ROPE_ERR_NULL);
    }
    // SAFETY: as `slice`, for writable memory not aliased during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

unsafe fn handle<'a>(rope: *const RopeHandle) -> Result<&'a Rope, i32> {
    if rope.is_null() {
        return Err(ROPE_ERR_NULL);
    }
    // SAFETY: non-null handles come from `rope_create` and live until `rope_destroy`.
    Ok(unsafe { &(*rope).0 })
}

/// The defaults for a head size: full rotary, base 10000, half-split pairs, scale 1,
/// the default schedule, the best backend.
#[no_mangle]
pub extern "C" fn rope_config_default(head_dim: u32) -> RopeConfig {
    RopeConfig {
        head_dim,
        rotary_dim: 0,
        layout: ROPE_LAYOUT_HALF_SPLIT,
        backend: ROPE_BACKEND_AUTO,
        base: 10_000.0,
        scale: 1.0,
        inv_freq: std::ptr::null(),
        n_inv_freq: 0,
    }
}

/// Validate `config` and create a RoPE description in `*out` (free it with
/// `rope_destroy`). On error `*out` is set to NULL.
///
/// # Safety
/// `config` and `out` must be valid pointers (or NULL, an error); `config->inv_freq`
/// NULL or valid for `n_inv_freq` doubles.
#[no_mangle]
pub unsafe extern "C" fn rope_create(config: *const RopeConfig, out: *mut *mut RopeHandle) -> i32 {
    let make = || {
        if config.is_null() {
            return Err(ROPE_ERR_NULL);
        }
        // SAFETY: non-null and valid (caller).
        let c = unsafe { *config };
        let layout = layout_of(c.layout)?;
        let head_dim = c.head_dim as usize;
        let rotary_dim = if c.rotary_dim == 0 {
            head_dim
        } else {
            c.rotary_dim as usize
        };
        let mut b = Rope::builder(head_dim)
            .rotary_dim(rotary_dim)
            .layout(layout)
            .base(c.base)
            .scale(c.scale);
        let freqs;
        if !c.inv_freq.is_null() {
            // SAFETY: valid for n_inv_freq doubles (caller).
            freqs = unsafe { slice(c.inv_freq, c.n_inv_freq)? };
            b = b.inv_freqs(freqs);
        }
        if let Some(backend) = backend_from(c.backend)? {
            b = b.backend(backend);
        }
        b.build().map_err(code)
    };
    // SAFETY: `out` is valid or NULL (caller).
    unsafe { create_into(out, make) }
}

/// Set `*out` to NULL, then to a new handle for `make`'s `Rope`; the error code if `make`
/// fails (or panics), `*out` staying NULL.
///
/// # Safety
/// `out` must be NULL (an error) or valid for writing a pointer.
unsafe fn create_into(out: *mut *mut RopeHandle, make: impl FnOnce() -> Result<Rope, i32>) -> i32 {
    if out.is_null() {
        return ROPE_ERR_NULL;
    }
    // SAFETY: `out` is non-null and writable (caller).
    unsafe { *out = std::ptr::null_mut() };
    guard(|| {
        let rope = make()?;
        // SAFETY: as above.
        unsafe { *out = Box::into_raw(Box::new(RopeHandle(rope))) };
        Ok(())
    })
}

/// ggml's defaults for a model: `n_dims` rotated channels of `head_dim`, `freq_base`,
/// freq_scale 1, YaRN off (ext_factor 0), attn_factor 1, betas 32 and 1, n_ctx_orig 0,
/// no freq_factors, half-split ("neox") pairs, the best backend.
#[no_mangle]
pub extern "C" fn rope_ggml_params_default(
    head_dim: u32,
    n_dims: u32,
    freq_base: f64,
) -> RopeGgmlParams {
    let g = Ggml::new(n_dims as usize, freq_base);
    RopeGgmlParams {
        head_dim,
        n_dims,
        layout: ROPE_LAYOUT_HALF_SPLIT,
        backend: ROPE_BACKEND_AUTO,
        freq_base,
        freq_scale: g.freq_scale,
        ext_factor: g.ext_factor,
        attn_factor: g.attn_factor,
        beta_fast: g.beta_fast,
        beta_slow: g.beta_slow,
        n_ctx_orig: g.n_ctx_orig,
        freq_factors: std::ptr::null(),
        n_freq_factors: 0,
    }
}

/// Create a RoPE description in `*out` from ggml's parameters (free it with
/// `rope_destroy`); it is used like one from `rope_create`. On error `*out` is NULL.
///
/// # Safety
/// `params` and `out` must be valid pointers (or NULL, an error); `params->freq_factors`
/// NULL or valid for `n_freq_factors` doubles.
#[no_mangle]
pub unsafe extern "C" fn rope_create_ggml(
    params: *const RopeGgmlParams,
    out: *mut *mut RopeHandle,
) -> i32 {
    let make = || {
        if params.is_null() {
            return Err(ROPE_ERR_NULL);
        }
        // SAFETY: non-null and valid (caller).
        let p = unsafe { *params };
        let layout = layout_of(p.layout)?;
        let factors = if p.freq_factors.is_null() {
            None
        } else {
            // SAFETY: valid for n_freq_factors doubles (caller).
            Some(unsafe { slice(p.freq_factors, p.n_freq_factors)? })
        };
        let mut g = Ggml::new(p.n_dims as usize, p.freq_base)
            .freq_scale(p.freq_scale)
            .ext_factor(p.ext_factor)
            .attn_factor(p.attn_factor)
            .beta_fast(p.beta_fast)
            .beta_slow(p.beta_slow)
            .n_ctx_orig(p.n_ctx_orig);
        if let Some(f) = factors {
            g = g.freq_factors(f);
        }
        let rope = Rope::ggml(p.head_dim as usize, layout, &g).map_err(code)?;
        match backend_from(p.backend)? {
            Some(backend) => rope.with_backend(backend).map_err(code),
            None => Ok(rope),
        }
    };
    // SAFETY: `out` is valid or NULL (caller).
    unsafe { create_into(out, make) }
}

/// Free a description from `rope_create` (NULL is ignored).
///
/// # Safety
/// `rope` must come from `rope_create` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn rope_destroy(rope: *mut RopeHandle) {
    if !rope.is_null() {
        // SAFETY: created by `Box::into_raw` in `rope_create`, freed once (caller).
        drop(unsafe { Box::from_raw(rope) });
    }
}

/// Floats needed for a table of positions 0..max_pos, in `*out_len`.
///
/// # Safety
/// `rope` from `rope_create`; `out_len` valid.
#[no_mangle]
pub unsafe extern "C" fn rope_table_len(
    rope: *const RopeHandle,
    max_pos: usize,
    out_len: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: see the function's contract.
        let rope = unsafe { handle(rope)? };
        let out = unsafe { slice_mut(out_len, 1)? };
        out[0] = rope.table_len(max_pos).map_err(code)?;
        Ok(())
    })
}

/// Fill `storage` (exactly `rope_table_len(max_pos)` floats) with cos/sin for positions
/// 0..max_pos. Pass it to the rotate calls as a `RopeTable`.
///
/// # Safety
/// `rope` from `rope_create`; `storage` valid for `len` floats.
#[no_mangle]
pub unsafe extern "C" fn rope_table_build(
    rope: *const RopeHandle,
    max_pos: usize,
    storage: *mut f32,
    len: usize,
) -> i32 {
    guard(|| {
        // SAFETY: see the function's contract.
        let rope = unsafe { handle(rope)? };
        let storage = unsafe { slice_mut(storage, len)? };
        rope.build_table(max_pos, storage).map(|_| ()).map_err(code)
    })
}

/// One buffer of a rotate call.
struct Buf<E> {
    x: *mut E,
    len: usize,
    heads: usize,
}

#[allow(clippy::too_many_arguments)]
unsafe fn rotate<E: Element>(
    rope: *const RopeHandle,
    table: *const RopeTable,
    bufs: &[Buf<E>],
    start: u64,
    positions: *const u32,
    n_positions: usize,
    flags: u32,
) -> i32 {
    guard(|| {
        if flags & !(ROPE_INVERSE | ROPE_HEADS_TOKENS | ROPE_TRANSPOSE) != 0 {
            return Err(ROPE_ERR_BAD_ENUM);
        }
        let direction = match (flags & ROPE_INVERSE != 0, flags & ROPE_TRANSPOSE != 0) {
            (true, true) => return Err(ROPE_ERR_BAD_ENUM),
            (true, false) => Direction::Inverse,
            (false, true) => Direction::Transpose,
            (false, false) => Direction::Forward,
        };
        let heads_tokens = flags & ROPE_HEADS_TOKENS != 0;
        // SAFETY (the blocks below): the pointers are valid for the lengths given, or
        // NULL where the function's contract allows it (checked).
        let rope = unsafe { handle(rope)? };
        let positions = if positions.is_null() {
            Positions::Start(start)
        } else {
            Positions::List(unsafe { slice(positions, n_positions)? })
        };
        let mut xs = Vec::with_capacity(2);
        for b in bufs {
            xs.push((
                unsafe { slice_mut(b.x, b.len)? },
                if heads_tokens {
                    View::heads_tokens(b.heads)
                } else {
                    View::tokens_heads(b.heads)
                },
            ));
        }
        let table = if table.is_null() {
            None
        } else {
            let t = unsafe { *table };
            let data = unsafe { slice(t.data, t.len)? };
            Some(rope.table_from_storage(t.max_pos, data).map_err(code)?)
        };
        let result = match (&mut xs[..], &table) {
            ([(x, s)], None) => rope.apply(x, *s, positions, direction),
            ([(x, s)], Some(t)) => t.apply(x, *s, positions, direction),
            ([(q, qs), (k, ks)], None) => rope.apply_qk(q, *qs, k, *ks, positions, direction),
            ([(q, qs), (k, ks)], Some(t)) => t.apply_qk(q, *qs, k, *ks, positions, direction),
            _ => return Err(ROPE_ERR_INTERNAL),
        };
        result.map_err(code)
    })
}

// The six entry points are written out (not generated by a macro) so that cbindgen,
// which does not expand macros, puts them in the header.

/// Rotate a float buffer of `len` elements, `[tokens, heads, head_dim]` (or
/// `[heads, tokens, head_dim]` with ROPE_HEADS_TOKENS), in place.
///
/// Positions: `positions[0..n_positions]`, one per token, or, when `positions` is NULL,
/// `start, start + 1, ...` for as many tokens as the buffer holds. `table`: NULL to
/// compute cos/sin on the fly, or a table from `rope_table_build` (same bits). `flags`:
/// ROPE_INVERSE or ROPE_TRANSPOSE, ROPE_HEADS_TOKENS, or 0. On error, `x` is untouched.
///
/// # Safety
/// `rope` from `rope_create`; `x` valid for `len` elements and not used by another thread
/// during the call; `positions` NULL or valid for `n_positions`; `table` NULL or pointing
/// to a `RopeTable` whose `data` is valid for its `len` floats.
#[no_mangle]
pub unsafe extern "C" fn rope_rotate_f32(
    rope: *const RopeHandle,
    table: *const RopeTable,
    x: *mut f32,
    len: usize,
    heads: usize,
    start: u64,
    positions: *const u32,
    n_positions: usize,
    flags: u32,
) -> i32 {
    let bufs = [Buf {
        x: x.cast::<f32>(),
        len,
        heads,
    }];
    // SAFETY: forwarded contract.
    unsafe { rotate(rope, table, &bufs, start, positions, n_positions, flags) }
}

/// Rotate one step's Q and K (float; GQA head counts may differ), computing each
/// token's cos/sin once for both. Arguments as `rope_rotate_f32`; both buffers must hold
/// the same number of tokens. On error, both are untouched.
///
/// # Safety
/// As `rope_rotate_f32`, for `q` and `k`, which must not overlap.
#[no_mangle]
pub unsafe extern "C" fn rope_rotate_qk_f32(
    rope: *const RopeHandle,
    table: *const RopeTable,
    q: *mut f32,
    q_len: usize,
    q_heads: usize,
    k: *mut f32,
    k_len: usize,
    k_heads: usize,
    start: u64,
    positions: *const u32,
    n_positions: usize,
    flags: u32,
) -> i32 {
    let bufs = [
        Buf {
            x: q.cast::<f32>(),
            len: q_len,
            heads: q_heads,
        },
        Buf {
            x: k.cast::<f32>(),
            len: k_len,
            heads: k_heads,
        },
    ];
    // SAFETY: forwarded contract.
    unsafe { rotate(rope, table, &bufs, start, positions, n_positions, flags) }
}

/// Rotate a IEEE half (uint16_t bits) buffer of `len` elements, `[tokens, heads, head_dim]` (or
/// `[heads, tokens, head_dim]` with ROPE_HEADS_TOKENS), in place.
///
/// Positions: `positions[0..n_positions]`, one per token, or, when `positions` is NULL,
/// `start, start + 1, ...` for as many tokens as the buffer holds. `table`: NULL to
/// compute cos/sin on the fly, or a table from `rope_table_build` (same bits). `flags`:
/// ROPE_INVERSE or ROPE_TRANSPOSE, ROPE_HEADS_TOKENS, or 0. On error, `x` is untouched.
///
/// # Safety
/// `rope` from `rope_create`; `x` valid for `len` elements and not used by another thread
/// during the call; `positions` NULL or valid for `n_positions`; `table` NULL or pointing
/// to a `RopeTable` whose `data` is valid for its `len` floats.
#[no_mangle]
pub unsafe extern "C" fn rope_rotate_f16(
    rope: *const RopeHandle,
    table: *const RopeTable,
    x: *mut u16,
    len: usize,
    heads: usize,
    start: u64,
    positions: *const u32,
    n_positions: usize,
    flags: u32,
) -> i32 {
    let bufs = [Buf {
        x: x.cast::<f16>(),
        len,
        heads,
    }];
    // SAFETY: forwarded contract.
    unsafe { rotate(rope, table, &bufs, start, positions, n_positions, flags) }
}

/// Rotate one step's Q and K (IEEE half (uint16_t bits); GQA head counts may differ), computing each
/// token's cos/sin once for both. Arguments as `rope_rotate_f16`; both buffers must hold
/// the same number of tokens. On error, both are untouched.
///
/// # Safety
/// As `rope_rotate_f16`, for `q` and `k`, which must not overlap.
#[no_mangle]
pub unsafe extern "C" fn rope_rotate_qk_f16(
    rope: *const RopeHandle,
    table: *const RopeTable,
    q: *mut u16,
    q_len: usize,
    q_heads: usize,
    k: *mut u16,
    k_len: usize,
    k_heads: usize,
    start: u64,
    positions: *const u32,
    n_positions: usize,
    flags: u32,
) -> i32 {
    let bufs = [
        Buf {
            x: q.cast::<f16>(),
            len: q_len,
            heads: q_heads,
        },
        Buf {
            x: k.cast::<f16>(),
            len: k_len,
            heads: k_heads,
        },
    ];
    // SAFETY: forwarded contract.
    unsafe { rotate(rope, table, &bufs, start, positions, n_positions, flags) }
}

/// Rotate a bfloat16 (uint16_t bits) buffer of `len` elements, `[tokens, heads, head_dim]` (or
/// `[heads, tokens, head_dim]` with ROPE_HEADS_TOKENS), in place.
///
/// Positions: `positions[0..n_positions]`, one per token, or, when `positions` is NULL,
/// `start, start + 1, ...` for as many tokens as the buffer holds. `table`: NULL to
/// compute cos/sin on the fly, or a table from `rope_table_build` (same bits). `flags`:
/// ROPE_INVERSE or ROPE_TRANSPOSE, ROPE_HEADS_TOKENS, or 0. On error, `x` is untouched.
///
/// # Safety
/// `rope` from `rope_create`; `x` valid for `len` elements and not used by another thread
/// during the call; `positions` NULL or valid for `n_positions`; `table` NULL or pointing
/// to a `RopeTable` whose `data` is valid for its `len` floats.
#[no_mangle]
pub unsafe extern "C" fn rope_rotate_bf16(
    rope: *const RopeHandle,
    table: *const RopeTable,
    x: *mut u16,
    len: usize,
    heads: usize,
    start: u64,
    positions: *const u32,
    n_positions: usize,
    flags: u32,
) -> i32 {
    let bufs = [Buf {
        x: x.cast::<bf16>(),
        len,
        heads,
    }];
    // SAFETY: forwarded contract.
    unsafe { rotate(rope, table, &bufs, start, positions, n_positions, flags) }
}

/// Rotate one step's Q and K (bfloat16 (uint16_t bits); GQA head counts may differ), computing each
/// token's cos/sin once for both. Arguments as `rope_rotate_bf16`; both buffers must hold
/// the same number of tokens. On error, both are untouched.
///
/// # Safety
/// As `rope_rotate_bf16`, for `q` and `k`, which must not overlap.
#[no_mangle]
pub unsafe extern "C" fn rope_rotate_qk_bf16(
    rope: *const RopeHandle,
    table: *const RopeTable,
    q: *mut u16,
    q_len: usize,
    q_heads: usize,
    k: *mut u16,
    k_len: usize,
    k_heads: usize,
    start: u64,
    positions: *const u32,
    n_positions: usize,
    flags: u32,
) -> i32 {
    let bufs = [
        Buf {
            x: q.cast::<bf16>(),
            len: q_len,
            heads: q_heads,
        },
        Buf {
            x: k.cast::<bf16>(),
            len: k_len,
            heads: k_heads,
        },
    ];
    // SAFETY: forwarded contract.
    unsafe { rotate(rope, table, &bufs, start, positions, n_positions, flags) }
}

/// The backend a description runs on (a ROPE_BACKEND_* value), or ROPE_ERR_NULL.
///
/// # Safety
/// `rope` from `rope_create` or NULL.
#[no_mangle]
pub unsafe extern "C" fn rope_backend(rope: *const RopeHandle) -> i32 {
    // SAFETY: see the function's contract.
    match unsafe { handle(rope) } {
        Ok(r) => backend_code(r.backend()),
        Err(e) => e,
    }
}

/// Make a description run on `backend` (ROPE_BACKEND_AUTO for the best); an unavailable
/// backend is ROPE_ERR_BACKEND_UNAVAILABLE and changes nothing.
///
/// # Safety
/// `rope` from `rope_create` or NULL; not used by another thread during the call.
#[no_mangle]
pub unsafe extern "C" fn rope_set_backend(rope: *mut RopeHandle, backend: i32) -> i32 {
    guard(|| {
        if rope.is_null() {
            return Err(ROPE_ERR_NULL);
        }
        let b = backend_from(backend)?.unwrap_or_else(Backend::detect);
        // SAFETY: non-null handle from `rope_create`, exclusively ours (caller).
        let h = unsafe { &mut *rope };
        h.0 = h.0.clone().with_backend(b).map_err(code)?;
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

/// A static, NUL-terminated description of a ROPE_OK / ROPE_ERR_* code.
#[no_mangle]
pub extern "C" fn rope_error_message(code: i32) -> *const c_char {
    let s: &'static [u8] = match code {
        ROPE_OK => b"ok\0",
        ROPE_ERR_NULL => b"a required pointer is NULL\0",
        ROPE_ERR_BAD_ENUM => b"an enum or flag value is not one of the ROPE_* constants\0",
        ROPE_ERR_ODD_DIM => b"head_dim and rotary_dim must be even\0",
        ROPE_ERR_ZERO_DIM => b"head_dim and rotary_dim must not be zero\0",
        ROPE_ERR_ROTARY_DIM_TOO_LARGE => b"rotary_dim must be <= head_dim\0",
        ROPE_ERR_ROTARY_DIM_OVER_MAX => b"rotary_dim is over the supported maximum (512)\0",
        ROPE_ERR_BAD_BASE => b"base (theta) must be finite and > 1\0",
        ROPE_ERR_BAD_SCALE => b"scale must be in [1/65536, 65536]\0",
        ROPE_ERR_WRONG_LENGTH => b"a length (inverse frequencies, table storage) is wrong\0",
        ROPE_ERR_BAD_FREQUENCY => b"an inverse frequency is not in [0, 2pi]\0",
        ROPE_ERR_ZERO_HEADS => b"a head count is zero\0",
        ROPE_ERR_BUFFER_LENGTH => b"a buffer length is not tokens * heads * head_dim\0",
        ROPE_ERR_TOKEN_MISMATCH => b"q and k hold different numbers of tokens\0",
        ROPE_ERR_SIZE_OVERFLOW => b"a size computation overflows\0",
        ROPE_ERR_POSITION_TOO_LARGE => b"a position is >= 2^53 or start + tokens overflows\0",
        ROPE_ERR_POSITION_OUT_OF_TABLE => b"a position is past the end of the table\0",
        ROPE_ERR_BACKEND_UNAVAILABLE => b"the backend does not run on this CPU\0",
        ROPE_ERR_INTERNAL => b"internal error in rope-simd (please report it)\0",
        ROPE_ERR_BAD_PARAMETER => {
            b"a schedule parameter (freq_scale, attn_factor, betas, n_ctx_orig, freq_factors) is out of its domain\0"
        }
        _ => b"unknown error code\0",
    };
    s.as_ptr().cast()
}

/// Allocate `size` bytes (8-aligned) for buffers, for hosts without their own allocator
/// in this memory (JavaScript with the wasm module). NULL on failure or size 0.
#[no_mangle]
pub extern "C" fn rope_alloc(size: usize) -> *mut u8 {
    match std::alloc::Layout::from_size_align(size, 8) {
        // SAFETY: the layout has a non-zero size.
        Ok(l) if size > 0 => unsafe { std::alloc::alloc(l) },
        _ => std::ptr::null_mut(),
    }
}

/// Free memory from `rope_alloc` (NULL is ignored).
///
/// # Safety
/// `ptr` from `rope_alloc(size)` with the same `size`, freed once.
#[no_mangle]
pub unsafe extern "C" fn rope_free(ptr: *mut u8, size: usize) {
    if let (false, Ok(l)) = (ptr.is_null(), std::alloc::Layout::from_size_align(size, 8)) {
        // SAFETY: allocated by `rope_alloc` with this layout (caller).
        unsafe { std::alloc::dealloc(ptr, l) }
    }
}
