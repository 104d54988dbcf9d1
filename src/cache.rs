//! KV-cache operations: shifting cached keys by a position delta, and re-rotating them
//! from one frequency schedule to another, without recomputing them.

use crate::config::Rope;
use crate::element::Element;
use crate::error::RopeError;
use crate::rotate::{private::Source, Direction, Geom, Positions, Rotate, Shape};
use crate::table::RUN;
use crate::trig::Turns;

/// A `Rope` seen with magnitude scale 1: a pure rotation (for shifts).
struct Unscaled<'a>(&'a Rope);

impl Source for Unscaled<'_> {
    fn geom(&self) -> Geom {
        // Cached keys are already in the rotated layout.
        let g = self.0.geom();
        Geom {
            scale: 1.0,
            layout: g.layout.rotated(),
            ..g
        }
    }
    fn check_position(&self, _position: u64) -> Result<(), RopeError> {
        Ok(())
    }
    fn for_each_run<F: FnMut(usize, &[f32], &[f32])>(&self, position: u64, mut f: F) {
        let (mut cos, mut sin) = ([0.0f32; RUN], [0.0f32; RUN]);
        let pairs = self.0.pairs();
        let mut first = 0;
        while first < pairs {
            let n = RUN.min(pairs - first);
            self.0
                .fill(position, first, 1.0, &mut cos[..n], &mut sin[..n]);
            f(first, &cos[..n], &sin[..n]);
            first += n;
        }
    }
}

impl Rope {
    /// Shift cached keys by `delta` positions: keys rotated at positions `p` become keys
    /// rotated at `p + delta` (negative to slide a window forward: after dropping the
    /// first `d` tokens, shift the kept ones by `-d`). Every key turns by the same angle.
    ///
    /// A pure rotation: the magnitude scale (YaRN's mscale) is **not** applied again,
    /// since the cached keys already carry it. Exact to the same bound as rotating from
    /// scratch at the new position, composed once (see the crate docs).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate, Shape};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut keys = vec![0.25f32; 100 * 8 * 64]; // [tokens 100, kv heads 8, 64]
    /// rope.rotate(&mut keys, 8, Positions::Start(28))?; // cached at positions 28..128
    /// rope.shift(&mut keys, Shape::tokens_heads(8), -28)?; // now as if at 0..100
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::apply`]; [`RopeError::PositionTooLarge`] if `|delta| >= 2^53`.
    pub fn shift<E: Element>(
        &self,
        keys: &mut [E],
        shape: Shape,
        delta: i64,
    ) -> Result<(), RopeError> {
        let (p, direction) = if delta >= 0 {
            (delta.unsigned_abs(), Direction::Forward)
        } else {
            (delta.unsigned_abs(), Direction::Inverse)
        };
        Unscaled(self).apply(keys, shape, Positions::Same(p), direction)
    }

    /// The rotation that turns keys cached with this description's frequencies into keys
    /// with `to`'s: pair `i` turns by `position * (to.theta_i - self.theta_i)`. Apply it
    /// with the keys' own positions, for example when Phi-3's LongRoPE switches from the
    /// short to the long factors as the context grows past the original length, so that
    /// the cache need not be recomputed. A pure rotation: scale 1 (the magnitude scales of
    /// `self` and `to` are not involved; if they differ, that is a separate multiply).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// let short = Rope::new(8, 10_000.0, PairLayout::HalfSplit)?;
    /// let long = Rope::builder(8).inv_freqs(&[0.5, 0.05, 0.005, 0.0005]).build()?;
    /// let mut keys = vec![1.0f32; 4 * 8];
    /// short.rotate(&mut keys, 1, Positions::Start(100))?;
    /// short.rerotation(&long)?.rotate(&mut keys, 1, Positions::Start(100))?;
    /// // keys now as if rotated by `long` (within the rounding bound, twice)
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::Incompatible`] if the head or rotary dimensions, layouts or position
    /// axes differ.
    pub fn rerotation(&self, to: &Rope) -> Result<Rope, RopeError> {
        for (what, same) in [
            ("head_dim", self.head_dim == to.head_dim),
            ("rotary_dim", self.rotary_dim == to.rotary_dim),
            ("layout", self.layout == to.layout),
            ("channel_offset", self.offset == to.offset),
            ("axes", self.axes == to.axes),
        ] {
            if !same {
                return Err(RopeError::Incompatible { what });
            }
        }
        let mut delta = self.clone();
        delta.scale = 1.0;
        // It turns keys already rotated, so in the layout rotation leaves them in.
        delta.layout = self.layout.rotated();
        for i in 0..self.pairs() {
            delta.inv_freq[i] = to.inv_freq[i] - self.inv_freq[i]; // in [-2pi, 2pi]
            (delta.turn_hi[i], delta.turn_lo[i]) = Turns::from_inv_freq(delta.inv_freq[i]).parts();
        }
        Ok(delta)
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
