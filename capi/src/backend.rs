//! Backends: the constants, and choosing one for a description.

use core::ffi::c_char;

use rope_simd::{Backend, Rope, RopeError};

use crate::create::{handle, RopeHandle};
use crate::status::{run, Fail, RopeErrorInfo};

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
/// aarch64 NEON (4 lanes; bf16 rounded in integer lanes).
pub const ROPE_BACKEND_NEON: i32 = 5;
/// aarch64 NEON with FEAT_BF16 (bf16 rounded with `bfcvtn`).
pub const ROPE_BACKEND_NEON_BF16: i32 = 6;

pub(crate) fn backend_from(code: i32) -> Result<Option<Backend>, Fail> {
    Ok(match code {
        ROPE_BACKEND_AUTO => None,
        ROPE_BACKEND_SCALAR => Some(Backend::Scalar),
        ROPE_BACKEND_LANES => Some(Backend::Lanes),
        ROPE_BACKEND_AVX2 => Some(Backend::Avx2),
        ROPE_BACKEND_AVX512 => Some(Backend::Avx512),
        ROPE_BACKEND_AVX512_BF16 => Some(Backend::Avx512Bf16),
        ROPE_BACKEND_NEON => Some(Backend::Neon),
        ROPE_BACKEND_NEON_BF16 => Some(Backend::NeonBf16),
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
        Backend::Neon => ROPE_BACKEND_NEON,
        Backend::NeonBf16 => ROPE_BACKEND_NEON_BF16,
        _ => ROPE_BACKEND_SCALAR,
    }
}

/// The backend a constructor's `backend` argument asks for (`None`: the best), checked
/// available before anything is built, so that a refused one writes nothing.
pub(crate) fn wanted_backend(code: i32) -> Result<Option<Backend>, Fail> {
    match backend_from(code)? {
        Some(backend) if !backend.is_available() => {
            Err(RopeError::BackendUnavailable { backend }.into())
        }
        wanted => Ok(wanted),
    }
}

/// Put `rope` on the backend [`wanted_backend`] gave (checked available).
pub(crate) fn use_backend(rope: &mut Rope, wanted: Option<Backend>) -> Result<(), Fail> {
    if let Some(b) = wanted {
        rope.set_backend(b)?;
    }
    Ok(())
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
        h.rope.set_backend(b)?;
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
/// "avx512", "avx512bf16", "neon", "neonbf16", "auto"; "unknown" otherwise).
#[no_mangle]
pub extern "C" fn rope_backend_name(backend: i32) -> *const c_char {
    let s: &'static [u8] = match backend_from(backend) {
        Ok(None) => b"auto\0",
        Ok(Some(Backend::Scalar)) => b"scalar\0",
        Ok(Some(Backend::Lanes)) => b"lanes\0",
        Ok(Some(Backend::Avx2)) => b"avx2\0",
        Ok(Some(Backend::Avx512)) => b"avx512\0",
        Ok(Some(Backend::Avx512Bf16)) => b"avx512bf16\0",
        Ok(Some(Backend::Neon)) => b"neon\0",
        Ok(Some(Backend::NeonBf16)) => b"neonbf16\0",
        _ => b"unknown\0",
    };
    s.as_ptr().cast()
}
