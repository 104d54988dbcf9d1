//! Building a description from a config, ggml's parameters, a transformers config.json,
//! or two descriptions (a re-rotation); each into caller memory or, with an allocator,
//! onto the heap. A GGUF file's metadata: `gguf.rs`.

use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of, MaybeUninit};

use rope_simd::{Ggml, GgmlMode, Rope};

use crate::backend::{use_backend, wanted_backend};
use crate::config::{from_config, RopeConfig, RopeGgmlParams};
use crate::status::{run, Fail, RopeErrorInfo};
use crate::tensor::slice;

/// An immutable RoPE description; thread-safe to share. Made by a `rope_create*`
/// function in caller memory (`rope_handle_size` bytes) or on the heap.
pub struct RopeHandle {
    pub(crate) rope: Rope,
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
pub(crate) unsafe fn versioned<T: Copy>(p: *const T, what: &'static str) -> Result<T, Fail> {
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

/// The shared body of the constructors: `make` builds the description in the handle's
/// memory (`mem`, or the heap when it is NULL; built there, not on the stack and then
/// copied), then `*out` points at it. `*out` is NULL until then; when `make` fails, `mem`
/// is untouched (every constructor checks everything before it writes its slot).
///
/// # Safety
/// `mem` NULL or valid for `mem_size` writable bytes; `out` NULL or valid for writing.
pub(crate) unsafe fn create(
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
    make: impl FnOnce(&mut MaybeUninit<Rope>) -> Result<(), Fail>,
) -> i32 {
    run(err, || {
        if out.is_null() {
            return Err(Fail::Null("out"));
        }
        // SAFETY: `out` is non-NULL and writable (caller).
        unsafe { *out = core::ptr::null_mut() };
        let owned = mem.is_null();
        let h: *mut RopeHandle = if owned {
            #[cfg(feature = "alloc")]
            {
                alloc::boxed::Box::into_raw(alloc::boxed::Box::<RopeHandle>::new_uninit()).cast()
            }
            #[cfg(not(feature = "alloc"))]
            return Err(Fail::Null("mem (this build has no allocator)"));
        } else {
            if mem_size < size_of::<RopeHandle>()
                || !(mem as usize).is_multiple_of(align_of::<RopeHandle>())
            {
                return Err(Fail::Memory(
                    size_of::<RopeHandle>(),
                    align_of::<RopeHandle>(),
                ));
            }
            mem.cast()
        };
        // SAFETY: `h` is valid for writing a `RopeHandle` (allocated, or `mem`: large
        // enough and aligned, checked, and writable, caller), so its `rope` field's
        // place is valid for writing a `Rope`.
        let slot = unsafe { &mut *core::ptr::addr_of_mut!((*h).rope).cast::<MaybeUninit<Rope>>() };
        make(slot).inspect_err(|_| {
            #[cfg(feature = "alloc")]
            if owned {
                // SAFETY: allocated just above, freed once, nothing in it to drop.
                drop(unsafe { alloc::boxed::Box::from_raw(h.cast::<MaybeUninit<RopeHandle>>()) });
            }
        })?;
        // SAFETY: `h` is valid (above); the `Rope` is written, and now its flag.
        unsafe { core::ptr::addr_of_mut!((*h).owned).write(owned) };
        // SAFETY: `out` is valid (checked non-NULL above).
        unsafe { *out = h };
        Ok(())
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

/// Validate `config` and create a description in `*out`: in `mem` (`mem_size` bytes, at
/// least `rope_handle_size()`, aligned to `rope_handle_align()`; no allocation), or on
/// the heap when `mem` is NULL (not in the no_std library). The description is built in
/// that memory directly (about 3 KB of stack). Free it with `rope_destroy`. On error
/// `*out` is NULL, `mem` is left as it was, and `*err` (if not NULL) says why.
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
    let make = |slot: &mut MaybeUninit<Rope>| {
        // SAFETY: `config` is NULL (an error) or valid, its pointers NULL or valid for
        // their lengths, as this function's contract asks.
        unsafe { from_config(&versioned(config, "config")?, slot) }
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
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
    let make = |slot: &mut MaybeUninit<Rope>| {
        // SAFETY: `params` per the contract.
        let p = unsafe { versioned(params, "params")? };
        let backend = wanted_backend(p.backend)?;
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
        let rope = Rope::ggml_multi_in_place(p.head_dim as usize, mode, p.sections, &g, slot)?;
        use_backend(rope, backend)
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
}

/// Create a description from a transformers config.json (`json`, `len` bytes of UTF-8)
/// for a layer kind (ROPE_LAYER_FULL or ROPE_LAYER_SLIDING) at sequence length
/// `seq_len` (dynamic NTK and LongRoPE use it). Read without an allocator (also in the
/// no_std library); text that is not JSON, or a field of the wrong type, is
/// `ROPE_ERR_BAD_JSON` with the byte offset and the field. Otherwise as `rope_create`.
///
/// # Safety
/// `json` valid for `len` bytes (or NULL, an error); otherwise as `rope_create`.
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
    use crate::config::{ROPE_LAYER_FULL, ROPE_LAYER_SLIDING};
    let make = |slot: &mut MaybeUninit<Rope>| {
        let backend = wanted_backend(backend)?;
        // SAFETY: valid for `len` bytes (caller).
        let bytes = unsafe { slice(json.cast::<u8>(), len, "json")? };
        let config = rope_simd::HfConfig::from_json(bytes)?;
        let layer = match layer {
            ROPE_LAYER_FULL => rope_simd::LayerKind::Full,
            ROPE_LAYER_SLIDING => rope_simd::LayerKind::Sliding,
            v => return Err(Fail::BadEnum("layer", v.into())),
        };
        let rope = config.builder(layer, seq_len)?.build_in_place(slot)?;
        use_backend(rope, backend)
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
    let make = |slot: &mut MaybeUninit<Rope>| {
        // SAFETY: handles per the contract.
        let (from, to) = unsafe { (handle(from)?, handle(to)?) };
        slot.write(from.rerotation(to)?);
        Ok(())
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
        // SAFETY: made by `Box::into_raw` in `create` (a `MaybeUninit<RopeHandle>`,
        // the same layout), fully written there, freed once (caller).
        drop(unsafe { alloc::boxed::Box::from_raw(rope) });
    }
    #[cfg(not(feature = "alloc"))]
    let _ = owned;
}
