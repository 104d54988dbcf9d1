//! KV-cache operations: shifting cached keys by a position delta, and re-rotating them
//! from one frequency schedule to another, without recomputing them.

use crate::config::Rope;
use crate::element::Element;
use crate::error::RopeError;
use crate::rotate::{Direction, Positions, Rotate, View};
use crate::source::{Geom, Source, RUN};
use crate::trig::Turns;

/// A `Rope` seen with magnitude scale 1: a pure rotation (for shifts).
struct Unscaled<'a>(&'a Rope);

impl Source for Unscaled<'_> {
    fn erased(&self) -> &dyn crate::source::Runs {
        self
    }

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
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut keys = vec![0.25f32; 100 * 8 * 64]; // [tokens 100, kv heads 8, 64]
    /// rope.rotate(&mut keys, 8, Positions::Start(28))?; // cached at positions 28..128
    /// rope.shift(&mut keys, View::tokens_heads(8), -28)?; // now as if at 0..100
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::apply`]; [`RopeError::PositionTooLarge`] if `|delta| >= 2^53`.
    pub fn shift<E: Element>(
        &self,
        keys: &mut [E],
        view: View,
        delta: i64,
    ) -> Result<(), RopeError> {
        let (p, direction) = if delta >= 0 {
            (delta.unsigned_abs(), Direction::Forward)
        } else {
            (delta.unsigned_abs(), Direction::Inverse)
        };
        Unscaled(self).apply(keys, view, Positions::Same(p), direction)
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
