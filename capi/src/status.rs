//! Result codes, one per mistake, and the detail message a failing call writes into the
//! caller's `RopeErrorInfo` (no allocation: formatted into the struct's own buffer; the
//! code's summary instead without the `error-detail` feature).

use core::ffi::c_char;
use core::fmt::{self, Write};

use rope_simd::RopeError;

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
/// A scale factor is not in [1/65536, 65536].
pub const ROPE_ERR_BAD_SCALE: i32 = -8;
/// A length (frequencies, factors, table storage, positions) is wrong.
pub const ROPE_ERR_WRONG_LENGTH: i32 = -9;
/// A given inverse frequency is not in [0, 2pi] (or is NaN).
pub const ROPE_ERR_BAD_FREQUENCY: i32 = -10;
/// A head count is zero.
pub const ROPE_ERR_ZERO_HEADS: i32 = -11;
/// A buffer's length is not a whole number of token rows, or not the call's tokens.
pub const ROPE_ERR_BUFFER_LENGTH: i32 = -12;
/// The call's buffers hold different numbers of tokens.
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
/// A frequency-schedule parameter is outside its domain.
pub const ROPE_ERR_BAD_PARAMETER: i32 = -19;
/// A tensor's view cannot describe its buffer (heads past the row, strides too small or
/// overlapping).
pub const ROPE_ERR_BAD_VIEW: i32 = -20;
/// A window (`window = 1`) has no room for the call's tokens.
pub const ROPE_ERR_NO_ROOM: i32 = -21;
/// A destination tensor has another head count than its source.
pub const ROPE_ERR_HEAD_MISMATCH: i32 = -22;
/// Two descriptions that must match (a re-rotation) differ.
pub const ROPE_ERR_INCOMPATIBLE: i32 = -23;
/// Options that cannot be combined.
pub const ROPE_ERR_CONFLICT: i32 = -24;
/// Position-axis sections do not sum to the pair count.
pub const ROPE_ERR_BAD_SECTIONS: i32 = -25;
/// Multi-axis positions given to a description with one position axis.
pub const ROPE_ERR_NOT_MULTI_AXIS: i32 = -26;
/// A model configuration lacks a value its RoPE needs.
pub const ROPE_ERR_MISSING_FIELD: i32 = -27;
/// An allocation failed.
pub const ROPE_ERR_ALLOC_FAILED: i32 = -28;
/// A GGUF metadata value has a type or value RoPE cannot use.
pub const ROPE_ERR_BAD_METADATA: i32 = -29;
/// A struct's `size` field is smaller than the first version of the struct.
pub const ROPE_ERR_BAD_STRUCT_SIZE: i32 = -30;
/// Caller memory for a handle is too small or misaligned (`rope_handle_size`,
/// `rope_handle_align`).
pub const ROPE_ERR_BAD_MEMORY: i32 = -31;
/// A config.json text is not valid JSON for a transformers configuration.
pub const ROPE_ERR_BAD_JSON: i32 = -32;
/// A part of a call covers tokens the call's positions do not have.
pub const ROPE_ERR_TOKEN_RANGE: i32 = -33;
/// An error this version of the header has no code for (a newer rope-simd); the
/// detail message says what.
pub const ROPE_ERR_OTHER: i32 = -34;
/// Buffers of a call that must share an element type or view do not.
pub const ROPE_ERR_MISMATCH: i32 = -35;

/// Bytes of `RopeErrorInfo::message`, its NUL included.
pub const ROPE_ERROR_MESSAGE_LEN: usize = 256;

/// What a failing call writes when given a non-NULL `RopeErrorInfo *`: its code and a
/// NUL-terminated message naming the argument and the values involved (truncated to
/// fit; a library built without the `error-detail` feature writes the code's summary,
/// `rope_error_message`, instead). A successful call leaves it as it was.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RopeErrorInfo {
    /// The code the call returned.
    pub code: i32,
    /// The detail, NUL-terminated UTF-8.
    pub message: [c_char; ROPE_ERROR_MESSAGE_LEN],
}

/// Why a call failed, on the Rust side.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fail {
    Rope(RopeError),
    /// This argument is NULL.
    Null(&'static str),
    /// This argument holds a value that is not one of the constants.
    BadEnum(&'static str, i64),
    /// A struct's size field: given, and the smallest accepted.
    StructSize(&'static str, usize, usize),
    /// Handle memory: the bytes and alignment needed.
    Memory(usize, usize),
    /// Two arguments that must agree (element types, cache views) do not.
    Mismatch(&'static str),
    /// A GGUF lookup callback returned this nonzero value.
    Callback(i32),
    /// A panic (a bug) was caught.
    #[allow(dead_code)]
    Panic,
}

impl From<RopeError> for Fail {
    fn from(e: RopeError) -> Self {
        Fail::Rope(e)
    }
}

impl Fail {
    fn code(self) -> i32 {
        match self {
            Fail::Rope(e) => code_of(e),
            Fail::Null(_) => ROPE_ERR_NULL,
            Fail::BadEnum(..) => ROPE_ERR_BAD_ENUM,
            Fail::StructSize(..) => ROPE_ERR_BAD_STRUCT_SIZE,
            Fail::Memory(..) => ROPE_ERR_BAD_MEMORY,
            Fail::Mismatch(_) => ROPE_ERR_MISMATCH,
            Fail::Callback(_) => ROPE_ERR_BAD_METADATA,
            Fail::Panic => ROPE_ERR_INTERNAL,
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fail::Rope(e) => write!(f, "{e}"),
            Fail::Null(what) => write!(f, "{what} is NULL; it must point to valid memory"),
            Fail::BadEnum(what, v) => write!(f, "{what} is {v}, not one of its ROPE_* constants"),
            Fail::StructSize(what, got, min) => write!(
                f,
                "{what}.size is {got} but must be at least {min}; set it with its init function"
            ),
            Fail::Memory(size, align) => write!(
                f,
                "handle memory must hold {size} bytes aligned to {align} (rope_handle_size, rope_handle_align)"
            ),
            Fail::Mismatch(what) => write!(f, "{what}"),
            Fail::Callback(v) => {
                write!(f, "the GGUF lookup callback failed (returned {v}); nothing was built")
            }
            Fail::Panic => write!(f, "internal error in rope-simd (please report it); nothing was written"),
        }
    }
}

/// The code of each `RopeError` variant.
pub(crate) fn code_of(e: RopeError) -> i32 {
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
        RopeError::BadView { .. } => ROPE_ERR_BAD_VIEW,
        RopeError::NoRoom { .. } => ROPE_ERR_NO_ROOM,
        RopeError::HeadMismatch { .. } => ROPE_ERR_HEAD_MISMATCH,
        RopeError::Incompatible { .. } => ROPE_ERR_INCOMPATIBLE,
        RopeError::Conflict { .. } => ROPE_ERR_CONFLICT,
        RopeError::BadSections { .. } => ROPE_ERR_BAD_SECTIONS,
        RopeError::NotMultiAxis => ROPE_ERR_NOT_MULTI_AXIS,
        RopeError::MissingField { .. } => ROPE_ERR_MISSING_FIELD,
        RopeError::AllocFailed { .. } => ROPE_ERR_ALLOC_FAILED,
        RopeError::BadMetadata { .. } => ROPE_ERR_BAD_METADATA,
        RopeError::BadJson { .. } => ROPE_ERR_BAD_JSON,
        RopeError::TokenRange { .. } => ROPE_ERR_TOKEN_RANGE,
        _ => ROPE_ERR_OTHER,
    }
}

/// Formats into a `RopeErrorInfo`'s buffer, truncating, always NUL-terminated.
struct Cursor<'a> {
    buf: &'a mut [c_char; ROPE_ERROR_MESSAGE_LEN],
    at: usize,
}

impl Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.at + 1 >= ROPE_ERROR_MESSAGE_LEN {
                break;
            }
            self.buf[self.at] = b as c_char;
            self.at += 1;
        }
        Ok(())
    }
}

/// Run `f` (inside `catch_unwind` with std: a panic is `ROPE_ERR_INTERNAL`), return its
/// code, and on failure write the code and detail into `*info` when `info` is not NULL.
pub(crate) fn run(info: *mut RopeErrorInfo, f: impl FnOnce() -> Result<(), Fail>) -> i32 {
    #[cfg(feature = "std")]
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(Err(Fail::Panic));
    #[cfg(not(feature = "std"))]
    let result = f();
    match result {
        Ok(()) => ROPE_OK,
        Err(fail) => report(info, fail),
    }
}

/// The failure's code, written with its detail into `*info` when `info` is not NULL: one
/// body for every entry point (`run` is compiled into each).
#[inline(never)]
fn report(info: *mut RopeErrorInfo, fail: Fail) -> i32 {
    let code = fail.code();
    if !info.is_null() {
        // SAFETY: a non-NULL `info` points to a writable RopeErrorInfo (the contract of
        // every function that takes one).
        let info = unsafe { &mut *info };
        info.code = code;
        let mut c = Cursor {
            buf: &mut info.message,
            at: 0,
        };
        #[cfg(feature = "error-detail")]
        let _ = write!(c, "{fail}");
        #[cfg(not(feature = "error-detail"))]
        let _ = c.write_str(summary(code));
        let end = c.at;
        info.message[end] = 0;
    }
    code
}

/// The summary of a code, without its NUL.
#[cfg(any(test, not(feature = "error-detail")))]
fn summary(code: i32) -> &'static str {
    // SAFETY: `rope_error_message` returns a static NUL-terminated ASCII string.
    let text = unsafe { core::ffi::CStr::from_ptr(rope_error_message(code)) };
    text.to_str().unwrap_or("")
}

/// A static, NUL-terminated summary of a ROPE_OK / ROPE_ERR_* code (the detail of a
/// particular failure is in its `RopeErrorInfo`).
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
        ROPE_ERR_BAD_SCALE => b"a scale must be in [1/65536, 65536]\0",
        ROPE_ERR_WRONG_LENGTH => b"a length (frequencies, factors, table storage) is wrong\0",
        ROPE_ERR_BAD_FREQUENCY => b"an inverse frequency is not in [0, 2pi]\0",
        ROPE_ERR_ZERO_HEADS => b"a head count is zero\0",
        ROPE_ERR_BUFFER_LENGTH => b"a buffer length does not match its token rows\0",
        ROPE_ERR_TOKEN_MISMATCH => b"the call's buffers hold different numbers of tokens\0",
        ROPE_ERR_SIZE_OVERFLOW => b"a size computation overflows\0",
        ROPE_ERR_POSITION_TOO_LARGE => b"a position is >= 2^53 or start + tokens overflows\0",
        ROPE_ERR_POSITION_OUT_OF_TABLE => b"a position is past the end of the table\0",
        ROPE_ERR_BACKEND_UNAVAILABLE => b"the backend does not run on this CPU\0",
        ROPE_ERR_INTERNAL => b"internal error in rope-simd (please report it)\0",
        ROPE_ERR_BAD_PARAMETER => b"a schedule parameter is out of its domain\0",
        ROPE_ERR_BAD_VIEW => b"a tensor's view does not fit its buffer\0",
        ROPE_ERR_NO_ROOM => b"a window has no room for the call's tokens\0",
        ROPE_ERR_HEAD_MISMATCH => b"a destination has another head count than its source\0",
        ROPE_ERR_INCOMPATIBLE => b"the two descriptions differ where they must match\0",
        ROPE_ERR_CONFLICT => b"options that cannot be combined\0",
        ROPE_ERR_BAD_SECTIONS => b"position-axis sections do not sum to the pair count\0",
        ROPE_ERR_NOT_MULTI_AXIS => b"multi-axis positions for a one-axis description\0",
        ROPE_ERR_MISSING_FIELD => b"the model configuration lacks a value its RoPE needs\0",
        ROPE_ERR_ALLOC_FAILED => b"an allocation failed\0",
        ROPE_ERR_BAD_METADATA => b"a GGUF metadata value does not fit\0",
        ROPE_ERR_BAD_STRUCT_SIZE => b"a struct's size field is too small\0",
        ROPE_ERR_BAD_MEMORY => b"handle memory is too small or misaligned\0",
        ROPE_ERR_BAD_JSON => b"not a transformers config.json\0",
        ROPE_ERR_TOKEN_RANGE => b"a part of a call is past its positions\0",
        ROPE_ERR_OTHER => b"an error this header has no code for (see the detail)\0",
        ROPE_ERR_MISMATCH => b"buffers that must share an element type or view do not\0",
        _ => b"unknown error code\0",
    };
    s.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(info: &RopeErrorInfo) -> String {
        let bytes: Vec<u8> = info.message.iter().map(|&c| c as u8).collect();
        let end = bytes.iter().position(|&b| b == 0).expect("NUL-terminated");
        String::from_utf8(bytes[..end].to_vec()).expect("UTF-8")
    }

    /// A failure writes its code and, with `error-detail`, the formatted detail, else
    /// the code's summary; a NULL `info` is skipped.
    #[test]
    fn report_writes_the_code_and_message() {
        let mut info = RopeErrorInfo {
            code: 0,
            message: [b'#' as c_char; ROPE_ERROR_MESSAGE_LEN],
        };
        let fail = Fail::Rope(RopeError::OddDim {
            what: "head_dim",
            value: 63,
        });
        assert_eq!(report(&mut info, fail), ROPE_ERR_ODD_DIM);
        assert_eq!(info.code, ROPE_ERR_ODD_DIM);
        let text = message(&info);
        if cfg!(feature = "error-detail") {
            assert!(text.contains("head_dim") && text.contains("63"), "{text}");
        } else {
            assert_eq!(text, summary(ROPE_ERR_ODD_DIM));
        }
        assert_eq!(report(core::ptr::null_mut(), fail), ROPE_ERR_ODD_DIM);
        assert_eq!(summary(ROPE_ERR_NULL), "a required pointer is NULL");
    }
}
