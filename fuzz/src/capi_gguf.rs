//! The `capi` fuzz target's GGUF constructor case (`rope_create_gguf`), part of
//! `capi_case.rs`'s check: metadata through the lookup callback or as entries, the
//! `rope_freqs` tensor and the mode, against what the Rust API builds from the same.

use super::{call, check, empty_info};
use crate::bytes::Bytes;
use rope_simd::{GgmlMode, GgufRope, GgufValue, RopeError};
use rope_simd_c::*;
use std::ffi::c_void;
use std::ptr::{null, null_mut};

/// GGUF metadata as a C runtime hands it over: the keys' values and their storage.
struct Metadata {
    arch: &'static str,
    entries: Vec<(String, RopeGgufValue)>,
    /// A key whose lookup fails (the callback returns nonzero), and whether it was asked.
    fail: Option<String>,
    failed: std::cell::Cell<bool>,
    /// Bytes that are not UTF-8, for a string value.
    bad_utf8: [u8; 2],
    ints: Vec<i32>,
    uints: Vec<u32>,
}

/// The lookup callback over a `Metadata`.
///
/// # Safety
/// `user` a live `Metadata`, `key` NUL-terminated, `out` valid.
unsafe extern "C" fn lookup(
    user: *mut c_void,
    key: *const std::ffi::c_char,
    out: *mut RopeGgufValue,
) -> i32 {
    // SAFETY: the library passes our pointer back, a NUL-terminated key and an out value.
    let (m, key, out) = unsafe {
        (
            &*user.cast::<Metadata>(),
            std::ffi::CStr::from_ptr(key)
                .to_str()
                .expect("an ASCII key"),
            &mut *out,
        )
    };
    if m.fail.as_deref() == Some(key) {
        m.failed.set(true);
        return -7;
    }
    let arch = RopeGgufValue {
        kind: ROPE_GGUF_STR,
        data: m.arch.as_ptr().cast(),
        len: m.arch.len(),
        ..gguf_none()
    };
    *out = match key {
        "general.architecture" => arch,
        _ => m
            .entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map_or(gguf_none(), |&(_, v)| v),
    };
    0
}

fn gguf_none() -> RopeGgufValue {
    RopeGgufValue {
        kind: ROPE_GGUF_NONE,
        i: 0,
        u: 0,
        f: 0.0,
        data: null(),
        len: 0,
    }
}

/// A C value as the header says the library reads it: `None` for an absent key, a
/// kind it does not know, NULL data or a string that is not UTF-8.
fn as_rust(v: &RopeGgufValue) -> Option<GgufValue<'_>> {
    // SAFETY: `data` points into the live `Metadata` for `len` elements of its kind.
    let slice = |size: usize| unsafe {
        (!v.data.is_null()).then(|| std::slice::from_raw_parts(v.data.cast::<u8>(), v.len * size))
    };
    Some(match v.kind {
        ROPE_GGUF_U32 => GgufValue::U32(v.u as u32),
        ROPE_GGUF_I32 => GgufValue::I32(v.i as i32),
        ROPE_GGUF_U64 => GgufValue::U64(v.u),
        ROPE_GGUF_I64 => GgufValue::I64(v.i),
        ROPE_GGUF_F32 => GgufValue::F32(v.f as f32),
        ROPE_GGUF_F64 => GgufValue::F64(v.f),
        ROPE_GGUF_STR => GgufValue::Str(std::str::from_utf8(slice(1)?).ok()?),
        // SAFETY: as above, 4-byte elements of the kind's type.
        ROPE_GGUF_I32S => {
            GgufValue::I32s(unsafe { std::slice::from_raw_parts(slice(4)?.as_ptr().cast(), v.len) })
        }
        // SAFETY: as above.
        ROPE_GGUF_U32S => {
            GgufValue::U32s(unsafe { std::slice::from_raw_parts(slice(4)?.as_ptr().cast(), v.len) })
        }
        _ => return None,
    })
}

/// `rope_create_gguf` over metadata from the input (the keys llama.cpp reads, values of
/// every kind, some of the wrong kind, NULL or not UTF-8, a failing lookup): a known
/// code with a message; where the lookups succeed, what the Rust API builds from the
/// same metadata or its refusal; and a built handle rotates as the Rust `Rope` does.
pub(super) fn gguf(b: &mut Bytes<'_>) {
    const ARCHS: [&str; 6] = ["llama", "qwen2", "qwen2vl", "deepseek2", "phi3", "unknown"];
    const SUFFIXES: [&str; 12] = [
        "attention.key_length",
        "attention.head_count",
        "embedding_length",
        "context_length",
        "rope.freq_base",
        "rope.dimension_count",
        "rope.scaling.type",
        "rope.scaling.factor",
        "rope.scaling.original_context_length",
        "rope.scaling.attn_factor",
        "rope.scaling.yarn_log_multiplier",
        "rope.dimension_sections",
    ];
    const TYPES: [&str; 5] = ["none", "linear", "yarn", "longrope", "xpos"];
    let arch = ARCHS[usize::from(b.u8()) % ARCHS.len()];
    let mut m = Box::new(Metadata {
        arch,
        entries: Vec::new(),
        fail: None,
        failed: Default::default(),
        bad_utf8: [0xff, 0xfe],
        ints: (0..usize::from(b.u8() % 6))
            .map(|_| b.u32() as i32 % 64)
            .collect(),
        uints: (0..usize::from(b.u8() % 6)).map(|_| b.u32() % 64).collect(),
    });
    let n = usize::from(b.u8() % 12);
    for _ in 0..n {
        let key = format!("{arch}.{}", SUFFIXES[usize::from(b.u8()) % SUFFIXES.len()]);
        let small = u64::from(b.u16()) * 2;
        let v = match b.u8() % 12 {
            0 => RopeGgufValue {
                kind: ROPE_GGUF_U32,
                u: small,
                ..gguf_none()
            },
            1 => RopeGgufValue {
                kind: ROPE_GGUF_I32,
                i: small as i64 - 100,
                ..gguf_none()
            },
            2 => RopeGgufValue {
                kind: ROPE_GGUF_U64,
                u: b.u64(),
                ..gguf_none()
            },
            3 => RopeGgufValue {
                kind: ROPE_GGUF_I64,
                i: b.u64() as i64,
                ..gguf_none()
            },
            4 => RopeGgufValue {
                kind: ROPE_GGUF_F32,
                f: b.param(&[1e4, 4.0]),
                ..gguf_none()
            },
            5 => RopeGgufValue {
                kind: ROPE_GGUF_F64,
                f: b.param(&[1e6, 0.5]),
                ..gguf_none()
            },
            6 => {
                let t = TYPES[usize::from(b.u8()) % TYPES.len()];
                RopeGgufValue {
                    kind: ROPE_GGUF_STR,
                    data: t.as_ptr().cast(),
                    len: t.len(),
                    ..gguf_none()
                }
            }
            7 => RopeGgufValue {
                kind: ROPE_GGUF_I32S,
                data: m.ints.as_ptr().cast(),
                len: m.ints.len(),
                ..gguf_none()
            },
            8 => RopeGgufValue {
                kind: ROPE_GGUF_U32S,
                data: m.uints.as_ptr().cast(),
                len: m.uints.len(),
                ..gguf_none()
            },
            9 => RopeGgufValue {
                kind: ROPE_GGUF_STR,
                data: m.bad_utf8.as_ptr().cast(),
                len: 2,
                ..gguf_none()
            },
            10 => RopeGgufValue {
                kind: ROPE_GGUF_I32S,
                data: null(),
                len: 3,
                ..gguf_none()
            },
            _ => RopeGgufValue {
                kind: 40 + u32::from(b.u8()),
                u: small,
                ..gguf_none()
            },
        };
        m.entries.push((key, v));
    }
    if b.u8().is_multiple_of(8) && !m.entries.is_empty() {
        m.fail = Some(m.entries[usize::from(b.u8()) % m.entries.len()].0.clone());
    }
    // The rope_freqs tensor: none, one value a pair (of the metadata's head), or another
    // count; and a mode: the architecture's, or one given (ggml's five and a bad one).
    let factors: Option<Vec<f32>> = match b.u8() % 4 {
        0 | 1 => None,
        k => {
            let n = if k == 2 {
                64
            } else {
                usize::from(b.u16() % 300)
            };
            Some((0..n).map(|_| b.param(&[1.0, 8.0]) as f32).collect())
        }
    };
    let mode = match b.u8() % 8 {
        k @ 0..=4 => [0, 2, 8, 24, 40][usize::from(k)],
        5 => 3,
        _ => ROPE_GGUF_MODE_AUTO,
    };
    // Through the callback, or as entries (no lookup to fail there).
    let as_entries = b.bool();
    if as_entries {
        m.fail = None;
    }
    let widened: Option<Vec<f64>> = factors
        .as_ref()
        .map(|f| f.iter().map(|&x| f64::from(x)).collect());
    let rust = GgufRope::from_metadata(|key: &str| match key {
        "general.architecture" => Some(GgufValue::Str(arch)),
        _ => m
            .entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| as_rust(v)),
    })
    .and_then(|mut g| {
        g.freq_factors = widened.as_deref();
        match mode {
            ROPE_GGUF_MODE_AUTO => g.rope(),
            m => match GgmlMode::from_ggml(m) {
                Some(mode) => g.rope_in(mode),
                // The C call refuses it (ROPE_ERR_BAD_ENUM); any error here compares.
                None => Err(RopeError::BadMetadata {
                    what: "a mode ggml does not have",
                }),
            },
        }
    });
    // The entries, last value of a key first (as the lookup finds it).
    let keys: Vec<std::ffi::CString> = std::iter::once("general.architecture".to_owned())
        .chain(m.entries.iter().rev().map(|(k, _)| k.clone()))
        .map(|k| std::ffi::CString::new(k).expect("no NUL in a key"))
        .collect();
    let arch_value = RopeGgufValue {
        kind: ROPE_GGUF_STR,
        data: arch.as_ptr().cast(),
        len: arch.len(),
        ..gguf_none()
    };
    let entries: Vec<RopeGgufEntry> = std::iter::once(arch_value)
        .chain(m.entries.iter().rev().map(|&(_, v)| v))
        .zip(&keys)
        .map(|(value, key)| RopeGgufEntry {
            key: key.as_ptr(),
            value,
        })
        .collect();
    let user: *mut Metadata = &mut *m;
    let mut gg = std::mem::MaybeUninit::uninit();
    // SAFETY: writable.
    unsafe { rope_gguf_init(gg.as_mut_ptr()) };
    // SAFETY: initialized just above.
    let mut gg = unsafe { gg.assume_init() };
    gg.mode = mode;
    if as_entries {
        (gg.entries, gg.n_entries) = (entries.as_ptr(), entries.len());
    } else {
        (gg.lookup, gg.user) = (Some(lookup as _), user.cast());
    }
    if let Some(f) = &factors {
        (gg.freq_factors, gg.n_freq_factors) = (f.as_ptr(), f.len());
    }
    let (mut handle, mut info) = (null_mut(), empty_info());
    // SAFETY: `lookup` reads `user`, a live `Metadata` whose values point into it; the
    // entries' keys and values and the factors live until the end of this function.
    let rc = unsafe { rope_create_gguf(&gg, null_mut(), 0, &mut handle, &mut info) };
    check(rc, &info, "rope_create_gguf");
    assert_eq!(rc == ROPE_OK, !handle.is_null());
    // A failed lookup fails the constructor; otherwise it builds what the Rust API does.
    if m.failed.get() {
        assert_eq!(
            rc, ROPE_ERR_BAD_METADATA,
            "rope_create_gguf after a failed lookup"
        );
    } else {
        assert_eq!(
            rc == ROPE_OK,
            rust.is_ok(),
            "rope_create_gguf vs GgufRope: {rust:?}"
        );
    }
    // (Heads the metadata makes very wide, past what a test buffer should take, are not
    // rotated: `call` allocates tokens x 4 heads of them.)
    match &rust {
        Ok(rust) if rc == ROPE_OK && rust.head_dim() <= 1024 => call(b, handle, rust),
        _ => {}
    }
    // SAFETY: from rope_create_gguf (or NULL), destroyed once.
    unsafe { rope_destroy(handle) };
    // Both sources at once, and no struct: refused.
    gg.mode = ROPE_GGUF_MODE_AUTO;
    (gg.entries, gg.n_entries) = (entries.as_ptr(), entries.len());
    (gg.lookup, gg.user) = (Some(lookup as _), user.cast());
    // SAFETY: as above (refused before any lookup).
    let rc = unsafe { rope_create_gguf(&gg, null_mut(), 0, &mut handle, &mut info) };
    assert_eq!(
        rc, ROPE_ERR_CONFLICT,
        "rope_create_gguf with a lookup and entries"
    );
    // SAFETY: valid out pointers.
    let rc = unsafe { rope_create_gguf(null(), null_mut(), 0, &mut handle, &mut info) };
    assert_eq!(rc, ROPE_ERR_NULL, "rope_create_gguf without its struct");
}
