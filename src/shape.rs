//! Where heads are: one strided [`View`] of a buffer's heads, for buffers rotated in place,
//! the parts of a packed QKV buffer and KV-cache slots alike; the head counts of a
//! grouped-query step ([`Heads`]); and which way a call turns ([`Direction`]).

use crate::error::RopeError;

/// Where a buffer's heads are. Each head's `head_dim` channels are contiguous; a view says
/// how many heads each token has, where token `t`'s head `h` starts, and which token rows
/// the call covers. Strides are counted in heads wherever a layout allows it (so a head
/// count can never be mistaken for an element count); only [`View::strided`] takes
/// elements.
///
/// A view covers **the whole buffer** (every token row in it: a source, a buffer rotated in
/// place, or a destination of the same shape), or, after [`View::at`], **a window** of it:
/// the call's tokens from a given row on (a KV-cache slot). A whole buffer must hold exactly
/// the call's tokens; a window must have room for them.
///
/// ```
/// use rope_simd::{Heads, View};
/// let x = View::tokens_heads(32);               // [tokens, 32, head_dim]
/// let cache = View::heads_tokens(8).at(4096);   // [8, capacity, head_dim], rows 4096..
/// let [q, k, v] = View::packed_qkv(Heads { q: 32, kv: 8 }); // one fused QKV buffer
/// # let _ = (x, cache, q, k, v);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct View {
    heads: usize,
    first_token: Option<usize>,
    strides: Strides,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Strides {
    /// Token rows of `row` heads, the view's heads from head `first_head` of each.
    Rows { row: usize, first_head: usize },
    /// `[heads, capacity, head_dim]`, the capacity the buffer's length holds.
    HeadsTokens,
    /// Any strides, in elements.
    Elements { token: usize, head: usize },
}

impl View {
    /// `[tokens, heads, head_dim]`: the usual activation layout, and a KV cache stored by
    /// token (`[capacity, heads, head_dim]`).
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut k = vec![0.5f32; 3 * 8 * 64]; // 3 tokens of 8 heads
    /// rope.apply(&mut k, View::tokens_heads(8), Positions::Start(5), Direction::Forward)?;
    /// // A head count that does not divide the buffer is an error, not a silent misread:
    /// assert!(rope.apply(&mut k, View::tokens_heads(5), Positions::Start(5), Direction::Forward).is_err());
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub const fn tokens_heads(heads: usize) -> Self {
        Self::in_rows(heads, heads, 0)
    }

    /// `[heads, tokens, head_dim]`: heads outermost, as in a `[batch, heads, seq, dim]`
    /// tensor after the transpose, and a KV cache stored by head
    /// (`[heads, capacity, head_dim]`; the capacity is the buffer's length over
    /// `heads * head_dim`).
    ///
    /// ```
    /// use rope_simd::{f16, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let k = vec![0.5f32; 2 * 64];                    // one token of 2 heads
    /// let mut cache = vec![f16::ZERO; 2 * 1024 * 64];  // [2 heads, capacity 1024, 64]
    /// rope.rotate_into(&k, View::tokens_heads(2), &mut cache, View::heads_tokens(2).at(7), Positions::Start(7))?;
    /// assert_ne!(cache[1024 * 64 + 7 * 64], f16::ZERO); // head 1, row 7
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub const fn heads_tokens(heads: usize) -> Self {
        View {
            heads,
            first_token: None,
            strides: Strides::HeadsTokens,
        }
    }

    /// `heads` heads out of token rows of `row` heads each, from head `first_head` of every
    /// row: a part of a fused buffer (see [`View::packed_qkv`]).
    ///
    /// ```
    /// use rope_simd::View;
    /// // The K heads of a [tokens, 32 + 8 + 8, head_dim] QKV buffer:
    /// let k = View::in_rows(8, 48, 32);
    /// # let _ = k;
    /// ```
    pub const fn in_rows(heads: usize, row: usize, first_head: usize) -> Self {
        View {
            heads,
            first_token: None,
            strides: Strides::Rows { row, first_head },
        }
    }

    /// The Q, K and V views of a packed QKV buffer, as a fused QKV projection produces it:
    /// `[tokens, (q + 2 kv) heads, head_dim]`, each token's row holding its Q heads, then
    /// its K heads, then its V heads.
    ///
    /// ```
    /// use rope_simd::{f16, Heads, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let heads = Heads { q: 8, kv: 2 };
    /// let qkv = vec![0.5f32; 3 * 12 * 64]; // 3 tokens
    /// let mut k_cache = vec![f16::ZERO; 1024 * 2 * 64];
    /// let [_, k, _] = View::packed_qkv(heads);
    /// rope.rotate_into(&qkv, k, &mut k_cache, View::tokens_heads(2).at(40), Positions::Start(40))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub const fn packed_qkv(heads: Heads) -> [View; 3] {
        let row = heads.kv.saturating_mul(2).saturating_add(heads.q);
        [
            Self::in_rows(heads.q, row, 0),
            Self::in_rows(heads.kv, row, heads.q),
            Self::in_rows(heads.kv, row, heads.q.saturating_add(heads.kv)),
        ]
    }

    /// Any layout, strides counted in **elements**: token `t`'s head `h` starts at
    /// `t * token_stride + h * head_stride` (rows may be padded, heads may be spread), for a
    /// view into a runtime's own tensor. The rows must not overlap. The buffer holds as
    /// many token rows as fit in its length.
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// // 4 heads of 64, each token's row padded to 320 elements, 10 tokens:
    /// let mut x = vec![0.5f32; 10 * 320];
    /// let view = View::strided(4, 320, 64);
    /// rope.apply(&mut x, view, Positions::Start(0), Direction::Forward)?;
    /// assert_eq!(x[300], 0.5); // the padding is untouched
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub const fn strided(heads: usize, token_stride: usize, head_stride: usize) -> Self {
        View {
            heads,
            first_token: None,
            strides: Strides::Elements {
                token: token_stride,
                head: head_stride,
            },
        }
    }

    /// This view as a window from token row `first_token` on: the call's tokens go to rows
    /// `first_token..first_token + tokens` (a KV-cache slot), instead of filling the whole
    /// buffer.
    ///
    /// ```
    /// use rope_simd::{f16, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let k = vec![0.5f32; 8 * 128];                    // one new token, 8 KV heads
    /// let mut cache = vec![f16::ZERO; 4096 * 8 * 128];  // [capacity, 8, 128]
    /// rope.rotate_into(&k, View::tokens_heads(8), &mut cache, View::tokens_heads(8).at(100), Positions::Start(100))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub const fn at(self, first_token: usize) -> Self {
        View {
            first_token: Some(first_token),
            ..self
        }
    }

    /// Heads per token.
    ///
    /// ```
    /// use rope_simd::{Heads, View};
    /// let [q, k, v] = View::packed_qkv(Heads { q: 32, kv: 8 });
    /// assert_eq!((q.heads(), k.heads(), v.heads()), (32, 8, 8));
    /// ```
    pub const fn heads(&self) -> usize {
        self.heads
    }

    /// The window's first token row ([`View::at`]), or `None` for the whole buffer.
    ///
    /// ```
    /// use rope_simd::View;
    /// assert_eq!(View::tokens_heads(8).first_token(), None);
    /// assert_eq!(View::tokens_heads(8).at(100).first_token(), Some(100));
    /// ```
    pub const fn first_token(&self) -> Option<usize> {
        self.first_token
    }

    /// `Some(heads)` for a whole `[tokens, heads, head_dim]` buffer (the driver's fast
    /// path; `place` gives the same result).
    pub(crate) fn whole_tokens_heads(&self) -> Option<usize> {
        match self.strides {
            Strides::Rows { row, first_head: 0 }
                if row == self.heads && self.first_token.is_none() =>
            {
                Some(self.heads)
            }
            _ => None,
        }
    }

    /// Resolve against a buffer of `len` elements and heads of `head_dim`: every offset in
    /// elements, and the token rows the buffer has room for from the first one.
    #[inline(always)]
    pub(crate) fn place(
        &self,
        len: usize,
        head_dim: usize,
        what: &'static str,
    ) -> Result<Window, RopeError> {
        let heads = self.heads;
        if heads == 0 {
            return Err(RopeError::ZeroHeads { what });
        }
        let bad = |why| Err(RopeError::BadView { what, why });
        let length = |row| RopeError::BufferLength {
            what,
            len,
            row,
            tokens: None,
        };
        let mul = |a: usize, b: usize| a.checked_mul(b).ok_or(RopeError::SizeOverflow);
        let (offset, token_stride, head_stride, capacity, row_len, dense) = match self.strides {
            Strides::Rows { row, first_head } => {
                if first_head.checked_add(heads).is_none_or(|end| end > row) {
                    return bad("its heads run past the token row (first_head + heads > row)");
                }
                let row = mul(row, head_dim)?;
                // One division for both the count and the remainder check.
                let capacity = len / row;
                if capacity * row != len {
                    return Err(length(row));
                }
                (first_head * head_dim, row, head_dim, capacity, row, true)
            }
            Strides::HeadsTokens => {
                let block = mul(heads, head_dim)?;
                let capacity = len / block;
                if capacity * block != len {
                    return Err(length(block));
                }
                (0, head_dim, capacity * head_dim, capacity, block, true)
            }
            Strides::Elements { token, head } => {
                // A stride of less than one head is never a tensor layout: most likely a
                // count of heads where elements are meant.
                if token < head_dim || (heads > 1 && head < head_dim) {
                    return bad("a stride is smaller than head_dim (strided views count elements)");
                }
                let heads_span = mul(heads - 1, head)?
                    .checked_add(head_dim)
                    .ok_or(RopeError::SizeOverflow)?;
                let fit = if len < heads_span {
                    0
                } else {
                    (len - heads_span) / token + 1
                };
                let capacity = if heads == 1 || token >= heads_span {
                    fit // tokens outermost: each token's heads inside its row
                } else if head >= token {
                    // Heads outermost: each head's rows must end before the next head.
                    fit.min((head - head_dim) / token + 1)
                } else {
                    return bad("its rows overlap (token_stride is less than the heads' span, head_stride less than token_stride)");
                };
                (0, token, head, capacity, token, false)
            }
        };
        let first = self.first_token.unwrap_or(0);
        let at = Placed {
            heads,
            base: first
                .min(capacity)
                .checked_mul(token_stride)
                .and_then(|b| b.checked_add(offset))
                .ok_or(RopeError::SizeOverflow)?,
            token_stride,
            head_stride,
        };
        Ok(Window {
            at,
            first,
            room: capacity.saturating_sub(first),
            capacity,
            exact: dense && self.first_token.is_none(),
            len,
            row_len,
            what,
        })
    }
}

/// A [`View`] resolved against its buffer: offsets in elements (what the rotation loop
/// keeps; validation's [`Window`] has the rest).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placed {
    pub heads: usize,
    /// Where the view's first token's first head starts.
    pub base: usize,
    pub token_stride: usize,
    pub head_stride: usize,
}

/// A placed view with what validation checks: the rows it holds, and names for messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub at: Placed,
    /// The first token row, and the rows the buffer holds in all and from it.
    pub first: usize,
    pub capacity: usize,
    pub room: usize,
    /// A whole dense buffer: it must hold exactly the call's tokens.
    pub exact: bool,
    /// The buffer's length, and the elements of one token row (for messages).
    pub len: usize,
    pub row_len: usize,
    pub what: &'static str,
}

impl Placed {
    /// A placeholder, overwritten by validation.
    pub(crate) const EMPTY: Placed = Placed {
        heads: 0,
        base: 0,
        token_stride: 0,
        head_stride: 0,
    };

    /// Where token `t` of the call (row `first + t`) starts.
    pub(crate) fn row(&self, t: usize) -> usize {
        self.base + t * self.token_stride
    }
}

impl Window {
    /// The call's token count as this buffer (a source or one rotated in place) gives it:
    /// the position list's, or every row from the first.
    #[inline(always)]
    pub(crate) fn tokens(&self, list: Option<usize>) -> Result<usize, RopeError> {
        let n = list.unwrap_or(self.room);
        self.fits(n)?;
        Ok(n)
    }

    /// `Ok` if the view has room for `n` tokens (a whole dense buffer: exactly `n`).
    #[inline(always)]
    pub(crate) fn fits(&self, n: usize) -> Result<(), RopeError> {
        if self.exact && n != self.capacity {
            return Err(RopeError::BufferLength {
                what: self.what,
                len: self.len,
                row: self.row_len,
                tokens: Some(n),
            });
        }
        if n > 0 && (self.first > self.capacity || n > self.room) {
            return Err(RopeError::NoRoom {
                what: self.what,
                first: self.first,
                tokens: n,
                capacity: self.capacity,
            });
        }
        Ok(())
    }
}

/// Head counts of a grouped-query attention step: `q` query heads, `kv` key and value
/// heads (`q` a multiple of `kv` in real models; not required here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Heads {
    /// Query heads per token.
    pub q: usize,
    /// Key (and value) heads per token.
    pub kv: usize,
}

/// Which way to turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// By `+position * theta`, times the magnitude scale: the embedding.
    Forward,
    /// The true inverse of `Forward`: by `-position * theta`, divided by the magnitude
    /// scale, so that it gives the input back (within the rounding bound) for any scale.
    /// The same as [`Direction::Transpose`] at scale 1.
    Inverse,
    /// The transpose of `Forward`: by `-position * theta`, times the magnitude scale, as a
    /// backward pass needs (the gradient through the embedding; ggml's `rope_back`).
    Transpose,
}

impl Direction {
    /// `true` for the two directions that turn by `-position * theta`.
    pub(crate) fn back(self) -> bool {
        self != Direction::Forward
    }
}
