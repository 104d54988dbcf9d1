//! Where heads are: how a call's buffer is laid out ([`Shape`], [`Order`]), where an
//! out-of-place call writes ([`Slot`]), and which way it turns ([`Direction`]).

use crate::error::RopeError;

/// How a buffer's tokens and heads are laid out; each head's `head_dim` channels are
/// always contiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    /// `[tokens, heads, head_dim]`: the usual activation layout (and a KV cache stored by
    /// token).
    TokensHeads,
    /// `[heads, tokens, head_dim]`: heads outermost, as in a `[batch, heads, seq, dim]`
    /// tensor after the transpose (a KV cache stored by head).
    HeadsTokens,
}

/// A buffer's head count and [`Order`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Heads per token (at least 1).
    pub heads: usize,
    /// Where tokens and heads go.
    pub order: Order,
}

impl Shape {
    /// `[tokens, heads, head_dim]`.
    pub const fn tokens_heads(heads: usize) -> Self {
        Shape {
            heads,
            order: Order::TokensHeads,
        }
    }

    /// `[heads, tokens, head_dim]`.
    pub const fn heads_tokens(heads: usize) -> Self {
        Shape {
            heads,
            order: Order::HeadsTokens,
        }
    }
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

/// Where a call writes its tokens in a destination buffer (a KV-cache slot): element
/// `c` of head `h` of token `t` goes to
/// `(first_token + t) * token_stride + h * head_stride + c`.
///
/// ```
/// use rope_simd::Slot;
/// // A [capacity, 8 heads, 128] cache, writing from token 4096 on:
/// let by_token = Slot::tokens_heads(4096, 8 * 128, 128);
/// // A [8 heads, capacity 8192, 128] cache:
/// let by_head = Slot::heads_tokens(4096, 8192, 128);
/// # let _ = (by_token, by_head);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// The cache row of the call's first token.
    pub first_token: usize,
    /// Elements from one token to the next.
    pub token_stride: usize,
    /// Elements from one head to the next.
    pub head_stride: usize,
}

impl Slot {
    /// A `[capacity, heads, head_dim]` cache: tokens `row` **elements** apart (usually
    /// `heads * head_dim`; a head count there is an error when the slot is used), heads
    /// `head_dim` apart.
    pub const fn tokens_heads(first_token: usize, row: usize, head_dim: usize) -> Self {
        Slot {
            first_token,
            token_stride: row,
            head_stride: head_dim,
        }
    }

    /// A `[heads, capacity, head_dim]` cache: tokens `head_dim` apart, heads
    /// `capacity * head_dim` apart (saturating: a product past `usize` is an error when the
    /// slot is used, not a panic here).
    pub const fn heads_tokens(first_token: usize, capacity: usize, head_dim: usize) -> Self {
        Slot {
            first_token,
            token_stride: head_dim,
            head_stride: capacity.saturating_mul(head_dim),
        }
    }

    /// Checks that `tokens x heads` rows of `head_dim` fit in `len` without overlapping.
    pub(crate) fn check(
        &self,
        tokens: usize,
        heads: usize,
        head_dim: usize,
        len: usize,
    ) -> Result<(), RopeError> {
        if tokens == 0 || heads == 0 {
            return Ok(());
        }
        let bad = |what| Err(RopeError::BadSlot { what });
        // A stride of less than one head is never a cache layout: most likely a count of
        // heads where elements are meant (`kv_heads` for `kv_heads * head_dim`).
        if self.token_stride < head_dim {
            return bad("token_stride is smaller than head_dim; strides count elements (heads * head_dim for a [capacity, heads, head_dim] cache)");
        }
        let span = |n: usize, stride: usize| {
            (n - 1)
                .checked_mul(stride)
                .and_then(|s| s.checked_add(head_dim))
        };
        let (tok_span, head_span) = (
            span(tokens, self.token_stride),
            span(heads, self.head_stride),
        );
        let (Some(tok_span), Some(head_span)) = (tok_span, head_span) else {
            return Err(RopeError::SizeOverflow);
        };
        let disjoint = (heads == 1 || self.head_stride >= head_dim)
            && (tokens == 1 || self.token_stride >= head_span)
            || (tokens == 1 || self.token_stride >= head_dim)
                && (heads == 1 || self.head_stride >= tok_span);
        if !disjoint {
            return bad("its rows overlap (strides too small for head_dim)");
        }
        // Heads outermost ([heads, capacity, head_dim]): each head's rows must stay in its
        // own `head_stride`, or the last tokens would land in the next head's first rows.
        if heads > 1 && self.head_stride >= self.token_stride.max(tok_span) {
            let last = self
                .first_token
                .checked_add(tokens - 1)
                .and_then(|t| t.checked_mul(self.token_stride))
                .and_then(|o| o.checked_add(head_dim))
                .ok_or(RopeError::SizeOverflow)?;
            if last > self.head_stride {
                return bad("first_token + tokens is past the cache capacity (head_stride / token_stride rows per head)");
            }
        }
        let end = self
            .first_token
            .checked_add(tokens - 1)
            .and_then(|t| t.checked_mul(self.token_stride))
            .and_then(|o| o.checked_add((heads - 1).checked_mul(self.head_stride)?))
            .and_then(|o| o.checked_add(head_dim))
            .ok_or(RopeError::SizeOverflow)?;
        if end > len {
            return bad("it runs past the end of the destination buffer");
        }
        Ok(())
    }
}
