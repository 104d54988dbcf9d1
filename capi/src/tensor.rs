//! What the calls take: tensors (a buffer, its element type and a view of its heads),
//! positions and tables, as plain C structs, turned into the crate's types.

use core::ffi::c_void;

use rope_simd::{bf16, f16, Direction, Positions, View};

use crate::status::Fail;

/// 32-bit floats.
pub const ROPE_F32: u32 = 0;
/// IEEE half floats, as uint16_t bits.
pub const ROPE_F16: u32 = 1;
/// bfloat16, as uint16_t bits.
pub const ROPE_BF16: u32 = 2;

/// `[tokens, heads, head_dim]`.
pub const ROPE_TOKENS_HEADS: u32 = 0;
/// `[heads, tokens, head_dim]` (a cache stored by head: the capacity is `len / (heads *
/// head_dim)`).
pub const ROPE_HEADS_TOKENS: u32 = 1;
/// `heads` heads from head `first_head` of token rows of `row_heads` heads (a part of a
/// packed QKV buffer).
pub const ROPE_IN_ROWS: u32 = 2;
/// Any layout: token t's head h at `t * token_stride + h * head_stride` elements.
pub const ROPE_STRIDED: u32 = 3;

/// By +position * theta, times the magnitude scale: the embedding.
pub const ROPE_FORWARD: u32 = 0;
/// The true inverse: by -position * theta, divided by the magnitude scale (gives the
/// input back at any scale).
pub const ROPE_INVERSE: u32 = 1;
/// The transpose: by -position * theta, times the scale (a backward pass; ggml's
/// rope_back).
pub const ROPE_TRANSPOSE: u32 = 2;

/// A buffer and where its heads are. Zero the struct, then set `data`, `len`, `dtype`
/// and `heads`: that is a whole `[tokens, heads, head_dim]` buffer. `window = 1` makes
/// it the rows from `first_token` on (a KV-cache slot); otherwise the buffer must hold
/// exactly the call's tokens.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeTensor {
    /// The elements (float, or uint16_t bits of f16 / bf16).
    pub data: *mut c_void,
    /// Its length in elements.
    pub len: usize,
    /// ROPE_F32, ROPE_F16 or ROPE_BF16.
    pub dtype: u32,
    /// ROPE_TOKENS_HEADS, ROPE_HEADS_TOKENS, ROPE_IN_ROWS or ROPE_STRIDED.
    pub layout: u32,
    /// Heads per token.
    pub heads: usize,
    /// ROPE_IN_ROWS: heads per token row.
    pub row_heads: usize,
    /// ROPE_IN_ROWS: the first of this tensor's heads in each row.
    pub first_head: usize,
    /// ROPE_STRIDED: elements from one token to the next.
    pub token_stride: usize,
    /// ROPE_STRIDED: elements from one head to the next.
    pub head_stride: usize,
    /// 1: a window from token row `first_token`; 0: the whole buffer.
    pub window: u32,
    /// The window's first token row.
    pub first_token: usize,
}

/// `start, start + 1, ...` for as many tokens as the buffers hold.
pub const ROPE_POS_START: u32 = 0;
/// Every token at `start` (a shift).
pub const ROPE_POS_SAME: u32 = 1;
/// `list`: `n` uint32_t, one per token.
pub const ROPE_POS_U32: u32 = 2;
/// `list`: `n` uint64_t.
pub const ROPE_POS_U64: u32 = 3;
/// `list`: `n` int32_t (negative positions turn the other way).
pub const ROPE_POS_I32: u32 = 4;
/// `list`: `n` int64_t.
pub const ROPE_POS_I64: u32 = 5;
/// `list`: `n` uint32_t, `axes` per token (multi-axis descriptions).
pub const ROPE_POS_AXES_U32: u32 = 6;
/// `list`: `n` uint64_t, `axes` per token.
pub const ROPE_POS_AXES_U64: u32 = 7;

/// Each token's position.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopePositions {
    /// A ROPE_POS_* value.
    pub kind: u32,
    /// ROPE_POS_START and ROPE_POS_SAME.
    pub start: u64,
    /// The list of the other kinds.
    pub list: *const c_void,
    /// Elements in `list`.
    pub n: usize,
}

/// cos/sin computed on the fly (no table; a NULL `RopeTable *` means the same).
pub const ROPE_TABLE_NONE: u32 = 0;
/// A full table: float cos/sin rows for positions 0..max_pos.
pub const ROPE_TABLE_FULL: u32 = 1;
/// A compact two-level table: double rows, O(sqrt(max_pos)) memory.
pub const ROPE_TABLE_COMPACT: u32 = 2;

/// A cos/sin table in caller memory, filled by `rope_table_build`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RopeTable {
    /// A ROPE_TABLE_* value.
    pub kind: u32,
    /// The storage: float (full) or double (compact).
    pub data: *mut c_void,
    /// Its length in elements (`rope_table_len`).
    pub len: usize,
    /// Positions covered: 0..max_pos.
    pub max_pos: usize,
}

/// A slice from a C pointer and length; NULL is an error naming `what`.
///
/// # Safety
/// `p` NULL or valid for `len` elements during the call.
pub(crate) unsafe fn slice<'a, T>(
    p: *const T,
    len: usize,
    what: &'static str,
) -> Result<&'a [T], Fail> {
    if p.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: non-NULL, valid for `len` elements, aligned (C pointers to T are).
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// As [`slice`], writable.
///
/// # Safety
/// `p` NULL or valid for `len` writable elements not aliased during the call.
pub(crate) unsafe fn slice_mut<'a, T>(
    p: *mut T,
    len: usize,
    what: &'static str,
) -> Result<&'a mut [T], Fail> {
    if p.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: as `slice`, exclusively ours during the call.
    Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
}

impl RopeTensor {
    /// The crate's view of this tensor.
    pub(crate) fn view(&self, what: &'static str) -> Result<View, Fail> {
        let v = match self.layout {
            ROPE_TOKENS_HEADS => View::tokens_heads(self.heads),
            ROPE_HEADS_TOKENS => View::heads_tokens(self.heads),
            ROPE_IN_ROWS => View::in_rows(self.heads, self.row_heads, self.first_head),
            ROPE_STRIDED => View::strided(self.heads, self.token_stride, self.head_stride),
            v => return Err(Fail::BadEnum(what, v.into())),
        };
        match self.window {
            0 => Ok(v),
            1 => Ok(v.at(self.first_token)),
            w => Err(Fail::BadEnum(what, w.into())),
        }
    }

    /// The buffer, typed.
    ///
    /// # Safety
    /// `data` NULL or valid for `len` elements of the tensor's type.
    pub(crate) unsafe fn data<'a>(&self, what: &'static str) -> Result<Data<'a>, Fail> {
        // SAFETY: forwarded contract.
        unsafe {
            Ok(match self.dtype {
                ROPE_F32 => Data::F32(slice_mut(self.data.cast(), self.len, what)?),
                ROPE_F16 => Data::F16(slice_mut(self.data.cast(), self.len, what)?),
                ROPE_BF16 => Data::Bf16(slice_mut(self.data.cast(), self.len, what)?),
                v => return Err(Fail::BadEnum(what, v.into())),
            })
        }
    }
}

/// A tensor's elements, by type.
pub(crate) enum Data<'a> {
    F32(&'a mut [f32]),
    F16(&'a mut [f16]),
    Bf16(&'a mut [bf16]),
}

/// Read a tensor argument.
///
/// # Safety
/// `t` NULL or valid.
pub(crate) unsafe fn tensor<'a>(
    t: *const RopeTensor,
    what: &'static str,
) -> Result<&'a RopeTensor, Fail> {
    if t.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: non-NULL and valid (caller).
    Ok(unsafe { &*t })
}

/// The crate's positions for a `RopePositions`.
///
/// # Safety
/// `p` NULL or valid, its `list` valid for `n` elements of its kind.
pub(crate) unsafe fn positions<'a>(p: *const RopePositions) -> Result<Positions<'a>, Fail> {
    if p.is_null() {
        return Err(Fail::Null("positions"));
    }
    // SAFETY: non-NULL and valid (caller); the lists valid for `n` (caller).
    let p = unsafe { &*p };
    let what = "positions.list";
    // SAFETY: each list is NULL (an error) or valid for `n` elements of its kind (caller).
    unsafe {
        Ok(match p.kind {
            ROPE_POS_START => Positions::Start(p.start),
            ROPE_POS_SAME => Positions::Same(p.start),
            ROPE_POS_U32 => Positions::List(slice(p.list.cast(), p.n, what)?),
            ROPE_POS_U64 => Positions::List64(slice(p.list.cast(), p.n, what)?),
            ROPE_POS_I32 => Positions::Signed(slice(p.list.cast(), p.n, what)?),
            ROPE_POS_I64 => Positions::Signed64(slice(p.list.cast(), p.n, what)?),
            ROPE_POS_AXES_U32 => Positions::Axes(slice(p.list.cast(), p.n, what)?),
            ROPE_POS_AXES_U64 => Positions::Axes64(slice(p.list.cast(), p.n, what)?),
            v => return Err(Fail::BadEnum("positions.kind", v.into())),
        })
    }
}

pub(crate) fn direction(d: u32) -> Result<Direction, Fail> {
    match d {
        ROPE_FORWARD => Ok(Direction::Forward),
        ROPE_INVERSE => Ok(Direction::Inverse),
        ROPE_TRANSPOSE => Ok(Direction::Transpose),
        v => Err(Fail::BadEnum("direction", v.into())),
    }
}
