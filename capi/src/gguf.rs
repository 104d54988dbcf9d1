//! A description from a GGUF file's metadata (`rope_create_gguf`), the way llama.cpp runs
//! the model: the keys through a lookup callback or from an array of entries (what a
//! wasm module's caller can pass), with the file's `rope_freqs` tensor and a mode for an
//! architecture the library does not know.

use core::ffi::{c_char, c_void, CStr};
use core::mem::{size_of, MaybeUninit};

use rope_simd::{GgmlMode, GgufRope, GgufValue, Rope, RopeError, MAX_ROTARY_DIM};

use crate::backend::{use_backend, wanted_backend, ROPE_BACKEND_AUTO};
use crate::create::{create, versioned, RopeHandle};
use crate::status::{Fail, RopeErrorInfo};
use crate::tensor::slice;

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

/// One GGUF metadata value, as a lookup callback returns it or an entry holds it. `data`
/// must stay valid until the constructor returns (a mapped GGUF file does).
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

/// One key and its value, for `RopeGguf::entries`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeGgufEntry {
    /// The key, NUL-terminated (e.g. "llama.rope.freq_base").
    pub key: *const c_char,
    /// Its value.
    pub value: RopeGgufValue,
}

/// `RopeGguf::mode`: the mode llama.cpp uses for the file's architecture.
pub const ROPE_GGUF_MODE_AUTO: i32 = -1;

/// Where `rope_create_gguf` reads a GGUF file's metadata, and what the file holds
/// besides. Start from `rope_gguf_init`, which sets `size`; fields added by later versions
/// go after the last one here.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeGguf {
    /// `sizeof(RopeGguf)`, set by `rope_gguf_init`.
    pub size: u32,
    /// ROPE_GGUF_MODE_AUTO (the architecture's mode), or ggml's mode (0 normal, 2 neox,
    /// 8 M-RoPE, 40 interleaved M-RoPE, 24 vision) for an architecture the library does
    /// not know.
    pub mode: i32,
    /// A ROPE_BACKEND_* value (ROPE_BACKEND_AUTO: the best this CPU runs).
    pub backend: i32,
    /// The metadata through a lookup callback (with `user`), or NULL to read `entries`.
    pub lookup: RopeGgufLookup,
    /// Passed to `lookup`.
    pub user: *mut c_void,
    /// The metadata as `n_entries` keys and values (at least "general.architecture" and
    /// the keys starting with the architecture's name; the first of equal keys is read),
    /// when `lookup` is NULL.
    pub entries: *const RopeGgufEntry,
    /// Number of entries.
    pub n_entries: usize,
    /// The file's `rope_freqs` tensor (float32, one per rotated pair), or NULL when it
    /// has none: Llama 3.1 and later files carry their frequency scaling there.
    pub freq_factors: *const f32,
    /// Number of values at `freq_factors` (0 with NULL; NULL with more is
    /// ROPE_ERR_NULL, unlike the NULL-means-none arrays of `RopeConfig`).
    pub n_freq_factors: usize,
}

/// The defaults, with `size` set: the architecture's mode, the best backend, no lookup,
/// no entries, no `rope_freqs`.
///
/// # Safety
/// `gguf` NULL (ignored) or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn rope_gguf_init(gguf: *mut RopeGguf) {
    if gguf.is_null() {
        return;
    }
    let g = RopeGguf {
        size: size_of::<RopeGguf>() as u32,
        mode: ROPE_GGUF_MODE_AUTO,
        backend: ROPE_BACKEND_AUTO,
        lookup: None,
        user: core::ptr::null_mut(),
        entries: core::ptr::null(),
        n_entries: 0,
        freq_factors: core::ptr::null(),
        n_freq_factors: 0,
    };
    // SAFETY: non-NULL and writable (caller).
    unsafe { gguf.write(g) };
}

/// A value as the crate reads it: `None` for ROPE_GGUF_NONE, an unknown kind, a NULL
/// `data` or a string that is not UTF-8.
///
/// # Safety
/// `v.data` NULL or valid for `v.len` elements of its kind's type for `'a`.
unsafe fn value<'a>(v: &RopeGgufValue) -> Option<GgufValue<'a>> {
    let what = "value.data";
    Some(match v.kind {
        ROPE_GGUF_U32 => GgufValue::U32(v.u as u32),
        ROPE_GGUF_I32 => GgufValue::I32(v.i as i32),
        ROPE_GGUF_U64 => GgufValue::U64(v.u),
        ROPE_GGUF_I64 => GgufValue::I64(v.i),
        ROPE_GGUF_F32 => GgufValue::F32(v.f as f32),
        ROPE_GGUF_F64 => GgufValue::F64(v.f),
        // SAFETY (the three below): forwarded from this function's contract, per kind.
        ROPE_GGUF_STR => {
            let bytes = unsafe { slice(v.data.cast::<u8>(), v.len, what) }.ok()?;
            GgufValue::Str(core::str::from_utf8(bytes).ok()?)
        }
        ROPE_GGUF_I32S => GgufValue::I32s(unsafe { slice(v.data.cast(), v.len, what) }.ok()?),
        ROPE_GGUF_U32S => GgufValue::U32s(unsafe { slice(v.data.cast(), v.len, what) }.ok()?),
        _ => return None,
    })
}

/// Create a description from a GGUF file's metadata, the way llama.cpp runs the model:
/// the keys it needs ("general.architecture", "{arch}.rope.freq_base", ...) from
/// `gguf->lookup` or `gguf->entries`, with the file's `rope_freqs` tensor when given.
/// Otherwise as `rope_create`.
///
/// # Safety
/// `gguf` NULL (an error) or valid, its `lookup` a valid function that fills `*out` with
/// data valid until this call returns, its `entries` valid for `n_entries` (each key
/// NUL-terminated, each value's data valid), `freq_factors` valid for `n_freq_factors`
/// floats; otherwise as `rope_create`.
#[no_mangle]
pub unsafe extern "C" fn rope_create_gguf(
    gguf: *const RopeGguf,
    mem: *mut c_void,
    mem_size: usize,
    out: *mut *mut RopeHandle,
    err: *mut RopeErrorInfo,
) -> i32 {
    let make = |slot: &mut MaybeUninit<Rope>| {
        // SAFETY: `gguf` per the contract.
        let g = unsafe { versioned(gguf, "gguf")? };
        let backend = wanted_backend(g.backend)?;
        let mode = match g.mode {
            ROPE_GGUF_MODE_AUTO => None,
            m => Some(GgmlMode::from_ggml(m).ok_or(Fail::BadEnum("gguf.mode", m.into()))?),
        };
        let entries: &[RopeGgufEntry] = match (g.entries.is_null(), g.n_entries) {
            (true, 0) => &[],
            // SAFETY: valid for `n_entries` (caller).
            _ => unsafe { slice(g.entries, g.n_entries, "gguf.entries")? },
        };
        if entries.iter().any(|e| e.key.is_null()) {
            return Err(Fail::Null("a key of gguf.entries"));
        }
        if g.lookup.is_some() && !entries.is_empty() {
            return Err(RopeError::Conflict {
                what: "gguf.lookup and gguf.entries (give one)",
            }
            .into());
        }
        let failed = core::cell::Cell::new(None);
        let get = |key: &str| -> Option<GgufValue<'_>> {
            let Some(lookup) = g.lookup else {
                let entry = entries.iter().find(|e| {
                    // SAFETY: a non-NULL (checked above), NUL-terminated key (caller).
                    unsafe { CStr::from_ptr(e.key) }.to_bytes() == key.as_bytes()
                })?;
                // SAFETY: the entry's data is valid (caller).
                return unsafe { value(&entry.value) };
            };
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
            let rc = unsafe { lookup(g.user, z.as_ptr().cast(), &mut v) };
            if rc != 0 {
                failed.set(Some(rc));
                return None;
            }
            // SAFETY: `data` is NULL (refused) or valid for `len` elements of the kind's
            // type until this call returns (the callback's contract).
            unsafe { value(&v) }
        };
        // The metadata first: a failed lookup writes nothing.
        let metadata = GgufRope::from_metadata(get);
        if let Some(rc) = failed.get() {
            return Err(Fail::Callback(rc));
        }
        let mut metadata = metadata?;
        // The tensor's float32 values widened, as `Ggml::freq_factors` takes them.
        let mut factors = [0.0f64; MAX_ROTARY_DIM / 2];
        if !(g.freq_factors.is_null() && g.n_freq_factors == 0) {
            // SAFETY: valid for `n_freq_factors` floats (caller).
            let given = unsafe { slice(g.freq_factors, g.n_freq_factors, "gguf.freq_factors")? };
            let pairs = metadata.dimension_count.or(metadata.head_dim).unwrap_or(0) / 2;
            let widened = factors
                .get_mut(..given.len())
                .ok_or(RopeError::WrongLength {
                    what: "gguf.freq_factors",
                    expected: pairs,
                    got: given.len(),
                })?;
            for (w, &f) in widened.iter_mut().zip(given) {
                *w = f64::from(f);
            }
            metadata.freq_factors = Some(&widened[..]);
        }
        use_backend(metadata.rope_in_place(mode, slot)?, backend)
    };
    // SAFETY: forwarded contract.
    unsafe { create(mem, mem_size, out, err, make) }
}
