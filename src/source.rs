//! Sources of cos/sin: what the driver needs from one (`Source`, `Geom`), and the
//! on-the-fly source, [`Rope`] itself. The tables (`table.rs`, `compact.rs`) are the others.

use crate::axes::Axes;
use crate::backend::Isa;
use crate::config::{PairLayout, Rope};
use crate::error::RopeError;

/// What the driver needs from a sin/cos source.
#[derive(Clone, Copy, Debug)]
pub struct Geom {
    pub head_dim: usize,
    pub rotary_dim: usize,
    pub layout: PairLayout,
    pub scale: f64,
    pub isa: Isa,
    pub axes: Axes,
    /// Channels before the rotated ones.
    pub offset: usize,
}

/// A source of cos/sin: the on-the-fly [`Rope`](crate::Rope) or a table.
pub trait Source {
    fn geom(&self) -> Geom;
    /// `Ok` if cos/sin of `position` can be had (the range check of a table).
    fn check_position(&self, position: u64) -> Result<(), RopeError>;
    /// Calls `f(first_pair, cos, sin)` for runs covering every pair of `position`.
    fn for_each_run<F: FnMut(usize, &[f32], &[f32])>(&self, position: u64, f: F);
    /// This source behind the object-safe [`Runs`] (for the driver's cold paths).
    fn erased(&self) -> &dyn Runs;
}

/// The object-safe face of a [`Source`], which the driver takes: its loops are then
/// compiled once per element type, not once per source as well (a C or wasm library
/// links all three sources; the call through it is once per token and run of pairs).
pub trait Runs {
    fn dims(&self) -> Geom;
    fn check(&self, position: u64) -> Result<(), RopeError>;
    fn runs(&self, position: u64, f: &mut RunFn<'_>);
}

/// A source behind the object-safe face is a source again, so that the driver's loops
/// take either (a packed call's Q, rotated after its K and V went into the caches).
impl Source for dyn Runs + '_ {
    fn geom(&self) -> Geom {
        self.dims()
    }

    fn check_position(&self, position: u64) -> Result<(), RopeError> {
        self.check(position)
    }

    fn for_each_run<F: FnMut(usize, &[f32], &[f32])>(&self, position: u64, mut f: F) {
        self.runs(position, &mut f)
    }

    fn erased(&self) -> &dyn Runs {
        self
    }
}

/// What takes a run of cos/sin: `f(first_pair, cos, sin)`.
pub type RunFn<'f> = dyn FnMut(usize, &[f32], &[f32]) + 'f;

impl<T: Source + Sized> Runs for T {
    fn dims(&self) -> Geom {
        self.geom()
    }

    fn check(&self, position: u64) -> Result<(), RopeError> {
        self.check_position(position)
    }

    fn runs(&self, position: u64, f: &mut RunFn<'_>) {
        self.for_each_run(position, f)
    }
}

/// Pairs computed per run by the on-the-fly source (stack space: 2 x 64 f32); a token's
/// cos/sin are computed once, in runs of this many pairs.
pub(crate) const RUN: usize = 64;

impl Source for Rope {
    fn erased(&self) -> &dyn crate::source::Runs {
        self
    }

    fn geom(&self) -> Geom {
        Geom {
            head_dim: self.head_dim,
            rotary_dim: self.rotary_dim,
            layout: self.layout,
            scale: self.scale,
            isa: self.isa,
            axes: self.axes,
            offset: self.offset,
        }
    }

    fn check_position(&self, _position: u64) -> Result<(), RopeError> {
        Ok(()) // any position below MAX_POSITION, which the driver checks
    }

    #[inline]
    fn for_each_run<F: FnMut(usize, &[f32], &[f32])>(&self, position: u64, mut f: F) {
        let pairs = self.pairs();
        let mut cos = [0.0f32; RUN];
        let mut sin = [0.0f32; RUN];
        let mut first = 0;
        while first < pairs {
            let n = RUN.min(pairs - first);
            self.fill(position, first, self.scale, &mut cos[..n], &mut sin[..n]);
            f(first, &cos[..n], &sin[..n]);
            first += n;
        }
    }
}

impl Rope {
    /// cos/sin (times `scale`) of pairs `first..first + cos.len()` at `position`.
    pub(crate) fn fill(
        &self,
        position: u64,
        first: usize,
        scale: f64,
        cos: &mut [f32],
        sin: &mut [f32],
    ) {
        let end = first + cos.len();
        let (hi, lo) = (&self.turn_hi[first..end], &self.turn_lo[first..end]);
        self.isa.cos_sin_batch(position, (hi, lo), scale, cos, sin);
    }
}
