//! How a call's buffer is laid out ([`Shape`], [`Order`]) and which way it turns
//! ([`Direction`]).

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
