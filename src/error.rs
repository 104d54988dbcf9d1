//! The one error type: a variant per mistake, each saying what to fix.

use core::fmt;

use crate::backend::Backend;
use crate::float_text::FloatText;

/// Everything that can go wrong in a call to this crate.
///
/// Every fallible call validates all of its input before it writes anything, so when
/// an in-place call returns an `Err` the buffer is exactly as it was.
#[derive(Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum RopeError {
    /// A dimension that must be even is odd.
    OddDim {
        /// Which dimension (`"head_dim"` or `"rotary_dim"`).
        what: &'static str,
        /// The value given.
        value: usize,
    },
    /// `head_dim` or `rotary_dim` is zero.
    ZeroDim {
        /// Which dimension.
        what: &'static str,
    },
    /// `rotary_dim` is larger than `head_dim`.
    RotaryDimTooLarge {
        /// The rotary dimension given.
        rotary_dim: usize,
        /// The head dimension it must not exceed.
        head_dim: usize,
    },
    /// `rotary_dim` is larger than [`MAX_ROTARY_DIM`](crate::MAX_ROTARY_DIM).
    RotaryDimOverMax {
        /// The rotary dimension given.
        rotary_dim: usize,
        /// The largest supported.
        max: usize,
    },
    /// The frequency base (theta) is not finite or not greater than 1.
    BadBase {
        /// The base given.
        base: f64,
    },
    /// A scale factor (such as the magnitude scale) is not in `[2^-16, 2^16]`
    /// (see [`MAX_SCALE`](crate::MAX_SCALE)).
    BadScale {
        /// What the factor is.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// A slice (frequencies, cos, sin) has the wrong length.
    WrongLength {
        /// What the slice is.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// A caller-supplied inverse frequency is not in `[0, 2pi]` (radians per position; a
    /// larger one only aliases a smaller one at integer positions), or is NaN.
    BadFrequency {
        /// Its index in the slice.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A head count is zero.
    ZeroHeads {
        /// Which count: the buffer's (`"x"`, `"q"`, `"k"`), `"heads"`, `"q_heads"` or
        /// `"kv_heads"`.
        what: &'static str,
    },
    /// The buffer length is not `tokens * heads * head_dim` (a whole buffer's tokens are
    /// the position list's, when there is one).
    BufferLength {
        /// What buffer (`"x"`, `"q"`, `"k"`).
        what: &'static str,
        /// Its length in elements.
        len: usize,
        /// Elements of one token row (`heads * head_dim`; a packed QKV buffer's whole row):
        /// the length must be a multiple of it.
        row: usize,
        /// The token count from the positions list, if one was given.
        tokens: Option<usize>,
    },
    /// A call's buffers hold different numbers of tokens (K or V against Q).
    TokenMismatch {
        /// The buffer that differs (`"k"`, `"v"`).
        what: &'static str,
        /// Tokens in it.
        tokens: usize,
        /// Tokens in Q, the call's first buffer.
        q_tokens: usize,
    },
    /// A size computation (`tokens * heads * head_dim`, table length) overflows `usize`.
    SizeOverflow,
    /// A position is too large: at or past [`MAX_POSITION`](crate::MAX_POSITION), or
    /// `start + tokens` overflows.
    PositionTooLarge {
        /// The first offending position (or the range start).
        position: u64,
    },
    /// A position is at or past the end of the cos/sin table.
    PositionOutOfTable {
        /// The position asked for.
        position: u64,
        /// The table covers `0..max_pos`.
        max_pos: usize,
    },
    /// A [`View`](crate::View) cannot describe its buffer: its heads run past the token
    /// row, or its strides are too small or make rows overlap.
    BadView {
        /// Which buffer (`"x"`, `"src"`, `"dst"`, `"k_cache"`, ...).
        what: &'static str,
        /// What is wrong, and the fix.
        why: &'static str,
    },
    /// A view's window ([`View::at`](crate::View::at)) has no room for the call's tokens:
    /// rows `first..first + tokens` are past the buffer's `capacity` rows.
    NoRoom {
        /// Which buffer.
        what: &'static str,
        /// The window's first token row.
        first: usize,
        /// The call's tokens.
        tokens: usize,
        /// Token rows the buffer holds.
        capacity: usize,
    },
    /// A destination view has another head count than its source.
    HeadMismatch {
        /// Which destination.
        what: &'static str,
        /// Its head count.
        heads: usize,
        /// The source's head count.
        expected: usize,
    },
    /// Two descriptions that must match (for a re-rotation) differ.
    Incompatible {
        /// What differs: `"head_dim"`, `"rotary_dim"`, `"layout"` or `"axes"`.
        what: &'static str,
    },
    /// A frequency-schedule parameter is outside its domain.
    BadParameter {
        /// Which parameter (and the rule it breaks).
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// Builder options that cannot be combined.
    Conflict {
        /// Which options.
        what: &'static str,
    },
    /// M-RoPE sections do not sum to the pair count (`rotary_dim / 2`), or 2-D axial RoPE
    /// has an odd pair count.
    BadSections {
        /// The sections' sum (or the pair count for axial).
        sum: usize,
        /// What it must be.
        expected: usize,
    },
    /// Multi-axis positions ([`Positions::Axes`](crate::Positions::Axes)) given to a
    /// source with one position axis.
    NotMultiAxis,
    /// A part of a call ([`Rotate::apply_tokens`](crate::Rotate::apply_tokens)) covers
    /// tokens the call's position list does not have.
    TokenRange {
        /// The part's first token.
        first: usize,
        /// Tokens in the part.
        tokens: usize,
        /// Tokens in the position list.
        total: usize,
    },
    /// A model configuration ([`HfConfig`](crate::HfConfig),
    /// [`GgufRope`](crate::GgufRope)) lacks a value its RoPE needs.
    MissingField {
        /// The field, as the configuration spells it.
        what: &'static str,
    },
    /// The allocator could not give an owned table its memory.
    AllocFailed {
        /// The bytes asked for.
        bytes: usize,
    },
    /// A GGUF metadata value has a type or value RoPE cannot use.
    BadMetadata {
        /// The key (without the `{arch}.` prefix) and what it must hold.
        what: &'static str,
    },
    /// A `config.json` given to [`HfConfig::from_json`](crate::HfConfig::from_json) is not
    /// JSON, or a field it reads has a value of the wrong type.
    BadJson {
        /// Byte offset in the text.
        at: usize,
        /// The field, as the config spells it (empty outside the fields read).
        field: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// The requested backend does not run on this CPU (or this build target).
    BackendUnavailable {
        /// The backend asked for.
        backend: Backend,
    },
}

impl fmt::Display for RopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OddDim { what, value } => write!(f, "{what} must be even, got {value}"),
            Self::ZeroDim { what } => write!(f, "{what} must be at least 2, got 0"),
            Self::RotaryDimTooLarge { rotary_dim, head_dim } => write!(
                f,
                "rotary_dim {rotary_dim} is larger than head_dim {head_dim}; it must be <= head_dim"
            ),
            Self::RotaryDimOverMax { rotary_dim, max } => {
                write!(f, "rotary_dim {rotary_dim} is over the supported maximum {max}")
            }
            Self::BadBase { base } => {
                write!(f, "base (theta) must be finite and > 1, got {}", FloatText(base))
            }
            Self::BadScale { what, value } => {
                write!(f, "{what} must be in [1/65536, 65536], got {}", FloatText(value))
            }
            Self::WrongLength { what, expected, got } => {
                write!(f, "{what} must have {expected} elements, got {got}")
            }
            Self::BadFrequency { index, value } => write!(
                f,
                "inverse frequency {index} must be in [0, 2pi] radians per position, got {}",
                FloatText(value)
            ),
            Self::ZeroHeads { what } => {
                write!(f, "the head count of {what} must be at least 1, got 0")
            }
            Self::BufferLength { what, len, row, tokens: Some(t) } => write!(
                f,
                "buffer {what} has {len} elements but the call's {t} tokens x {row} (one token \
                 row) need {}; a whole buffer holds exactly the call's tokens (View::at for a window)",
                t.saturating_mul(row)
            ),
            Self::BufferLength { what, len, row, tokens: None } => write!(
                f,
                "buffer {what} has {len} elements, not a whole number of token rows of {row} \
                 (heads * head_dim); check the head count"
            ),
            Self::TokenMismatch { what, tokens, q_tokens } => write!(
                f,
                "q holds {q_tokens} tokens but {what} holds {tokens}; every buffer of the call holds \
                 one token row per position"
            ),
            Self::SizeOverflow => write!(
                f,
                "a buffer, stride or table size overflows usize; check the head counts, strides and max_pos"
            ),
            Self::PositionTooLarge { position } => write!(
                f,
                "position {position} is too large (positions must be < 2^53, and start + tokens must not overflow)"
            ),
            Self::PositionOutOfTable { position, max_pos } => write!(
                f,
                "position {position} is past the cos/sin table, which covers 0..{max_pos}; build a larger table"
            ),
            Self::BadView { what, why } => write!(f, "the view of {what} does not fit it: {why}"),
            Self::NoRoom { what, first, tokens, capacity } => write!(
                f,
                "{what} has {capacity} token rows, so rows {first}..{} do not fit; use a larger \
                 buffer (capacity) or an earlier first token",
                first.saturating_add(tokens)
            ),
            Self::HeadMismatch { what, heads, expected } => write!(
                f,
                "the view of {what} has {heads} heads but its source has {expected}; they must match"
            ),
            Self::Incompatible { what } => {
                write!(f, "the two RoPE descriptions have different {what}; they must match")
            }
            Self::BadParameter { what, value } => {
                write!(f, "schedule parameter {what} is out of its domain, got {}", FloatText(value))
            }
            Self::Conflict { what } => write!(f, "these options cannot be combined: {what}"),
            Self::BadSections { sum, expected } => write!(
                f,
                "position-axis sections sum to {sum} pairs but must sum to {expected} (rotary_dim / 2; \
                 an even pair count for 2-D axial)"
            ),
            Self::NotMultiAxis => write!(
                f,
                "Positions::Axes needs a Rope built with more than one position axis (Axes::MRope, Axes::Axial2d)"
            ),
            Self::TokenRange { first, tokens, total } => write!(
                f,
                "tokens {first}..{} are past the {total} positions of the call",
                first.saturating_add(tokens)
            ),
            Self::MissingField { what } => write!(
                f,
                "the model configuration has no {what}, which its RoPE needs; set it"
            ),
            Self::AllocFailed { bytes } => write!(
                f,
                "could not allocate {bytes} bytes for a table; use a smaller max_pos or a compact table"
            ),
            Self::BadMetadata { what } => {
                write!(f, "GGUF metadata key {what} has a type or value that does not fit")
            }
            Self::BadJson { at, field: "", why } => {
                write!(f, "config.json: {why} at byte {at}")
            }
            Self::BadJson { at, field, why } => {
                write!(f, "config.json field {field}: {why} at byte {at}")
            }
            Self::BackendUnavailable { backend } => write!(
                f,
                "backend {backend:?} does not run on this CPU; see Backend::available()"
            ),
        }
    }
}

/// The variant's name, then `Display`'s text (`BadBase: base (theta) must be finite and >
/// 1, got 0.5`), so that an `unwrap()` says what to fix. Not derived: the derived form
/// printed the floats and strings with core's formatting and escaping, which every program
/// that unwraps then linked (`docs/design.md`, "Code size", has the measurement).
impl fmt::Debug for RopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::OddDim { .. } => "OddDim",
            Self::ZeroDim { .. } => "ZeroDim",
            Self::RotaryDimTooLarge { .. } => "RotaryDimTooLarge",
            Self::RotaryDimOverMax { .. } => "RotaryDimOverMax",
            Self::BadBase { .. } => "BadBase",
            Self::BadScale { .. } => "BadScale",
            Self::WrongLength { .. } => "WrongLength",
            Self::BadFrequency { .. } => "BadFrequency",
            Self::ZeroHeads { .. } => "ZeroHeads",
            Self::BufferLength { .. } => "BufferLength",
            Self::TokenMismatch { .. } => "TokenMismatch",
            Self::SizeOverflow => "SizeOverflow",
            Self::PositionTooLarge { .. } => "PositionTooLarge",
            Self::PositionOutOfTable { .. } => "PositionOutOfTable",
            Self::BadView { .. } => "BadView",
            Self::NoRoom { .. } => "NoRoom",
            Self::HeadMismatch { .. } => "HeadMismatch",
            Self::Incompatible { .. } => "Incompatible",
            Self::BadParameter { .. } => "BadParameter",
            Self::Conflict { .. } => "Conflict",
            Self::BadSections { .. } => "BadSections",
            Self::NotMultiAxis => "NotMultiAxis",
            Self::TokenRange { .. } => "TokenRange",
            Self::MissingField { .. } => "MissingField",
            Self::AllocFailed { .. } => "AllocFailed",
            Self::BadMetadata { .. } => "BadMetadata",
            Self::BadJson { .. } => "BadJson",
            Self::BackendUnavailable { .. } => "BackendUnavailable",
        };
        write!(f, "{name}: {self}")
    }
}

impl core::error::Error for RopeError {}

/// `Ok` if a slice of `got` elements has the `expected` length, else
/// [`RopeError::WrongLength`] naming `what`.
pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), RopeError> {
    if got == expected {
        Ok(())
    } else {
        Err(RopeError::WrongLength {
            what,
            expected,
            got,
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::RopeError;
    use std::format;

    #[test]
    fn debug_is_the_name_then_the_message() {
        let e = RopeError::BadBase { base: 0.5 };
        assert_eq!(
            format!("{e:?}"),
            "BadBase: base (theta) must be finite and > 1, got 0.5"
        );
        let e = RopeError::BadScale {
            what: "attention_factor",
            value: 1e30,
        };
        assert_eq!(
            format!("{e:?}"),
            "BadScale: attention_factor must be in [1/65536, 65536], got 1e30"
        );
        assert_eq!(
            format!("{:?}", RopeError::SizeOverflow),
            format!("SizeOverflow: {}", RopeError::SizeOverflow)
        );
    }
}
