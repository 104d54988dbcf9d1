//! What a description is: its dimensions and layout (`rope_info`), its frequencies
//! (`rope_inv_freqs`), and the cos/sin its rotations use at a position (`rope_cos_sin`),
//! for a runtime that builds the description here and rotates elsewhere too.

use rope_simd::{PairLayout, RopeError, MAX_POSITION};

use crate::config::{
    ROPE_LAYOUT_HALF_SPLIT, ROPE_LAYOUT_INTERLEAVED, ROPE_LAYOUT_INTERLEAVED_TO_HALF_SPLIT,
};
use crate::create::{handle, RopeHandle};
use crate::status::{run, RopeErrorInfo};
use crate::tensor::slice_mut;

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
        // SAFETY: `rope` and `info` are NULL (an error) or valid, as this function's
        // contract asks.
        let (r, out) = unsafe { (handle(rope)?, slice_mut(info, 1, "info")?) };
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

/// Write the description's inverse frequencies (radians per position, one per pair, as
/// every rotation uses them) into `out`, which holds `len >= pairs` doubles
/// (`rope_info`); the values past `pairs` are left as they were.
///
/// # Safety
/// `rope` from a `rope_create*` function; `out` valid for `len` doubles (or NULL, an
/// error); `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rope_inv_freqs(
    rope: *const RopeHandle,
    out: *mut f64,
    len: usize,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: `rope` and `out` are NULL (an error) or valid, as this function's
        // contract asks.
        let (r, out) = unsafe { (handle(rope)?, slice_mut(out, len, "out")?) };
        let freqs = r.inv_freqs();
        let dst = out.get_mut(..freqs.len()).ok_or(RopeError::WrongLength {
            what: "out (the description's pairs)",
            expected: freqs.len(),
            got: len,
        })?;
        dst.copy_from_slice(freqs);
        Ok(())
    })
}

/// Write the cos and sin that rotations use at `position` (`position * theta_i` with
/// the exact angle, times the scale, rounded to f32), one per pair, into `cos` and `sin`,
/// each holding `len >= pairs` floats; a multi-axis description's pairs all take this one
/// coordinate. Nothing is written on error.
///
/// # Safety
/// `rope` from a `rope_create*` function; `cos` and `sin` valid for `len` floats (or
/// NULL, an error) and not overlapping; `err` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn rope_cos_sin(
    rope: *const RopeHandle,
    position: u64,
    cos: *mut f32,
    sin: *mut f32,
    len: usize,
    err: *mut RopeErrorInfo,
) -> i32 {
    run(err, || {
        // SAFETY: as for `rope_inv_freqs`, for both buffers.
        let (r, cos, sin) = unsafe {
            (
                handle(rope)?,
                slice_mut(cos, len, "cos")?,
                slice_mut(sin, len, "sin")?,
            )
        };
        let pairs = r.pairs();
        if len < pairs {
            return Err(RopeError::WrongLength {
                what: "cos and sin (the description's pairs)",
                expected: pairs,
                got: len,
            }
            .into());
        }
        if position >= MAX_POSITION {
            return Err(RopeError::PositionTooLarge { position }.into());
        }
        for (i, (c, s)) in cos.iter_mut().zip(sin.iter_mut()).take(pairs).enumerate() {
            (*c, *s) = r.cos_sin(position, i);
        }
        Ok(())
    })
}
