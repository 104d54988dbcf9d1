//! Where a call's tokens are: a start, a list (unsigned or signed, 32- or 64-bit), one
//! position for all, or several coordinates per token for multi-axis sources.

use crate::error::RopeError;

/// The most position coordinates a token can have (ggml's M-RoPE: t, h, w and an extra).
pub(crate) const MAX_AXES: usize = 4;

/// The positions of the tokens in a buffer.
///
/// ```
/// use rope_simd::Positions;
/// let prefill = Positions::Start(0);          // tokens at 0, 1, 2, ...
/// let decode = Positions::Start(4095);        // one token at 4095
/// let scattered = Positions::List(&[7, 3, 3, 100]); // any order, repeats allowed
/// let mrope = Positions::Axes(&[0, 0, 0, 1, 3, 5]); // (t, h, w) per token, M-RoPE
/// let shift = Positions::Signed(&[-28, -28, 5]); // ggml's int32 positions, signs mixed
/// # let _ = (prefill, decode, scattered, mrope, shift);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Positions<'a> {
    /// Consecutive positions `start, start + 1, ...`, one per token in the buffer; the token
    /// count comes from the buffer length.
    Start(u64),
    /// One position per token; the buffer must hold exactly this many tokens.
    List(&'a [u32]),
    /// One position per token, 64-bit; each must be below [`MAX_POSITION`](crate::MAX_POSITION).
    List64(&'a [u64]),
    /// One signed position per token (ggml's `int32` positions; llama.cpp's cache shift
    /// passes negative ones): a token at `-p` turns by `-p * theta`, the rotation at `p`
    /// transposed (the magnitude scale still applies). Signs may mix in one call; each
    /// `|p|` must be below [`MAX_POSITION`](crate::MAX_POSITION).
    Signed(&'a [i32]),
    /// One signed 64-bit position per token, as [`Positions::Signed`].
    Signed64(&'a [i64]),
    /// Every token at this one position; the token count comes from the buffer length.
    /// (Shifting cached keys by a fixed delta is a rotation of all of them by one angle.)
    Same(u64),
    /// Several coordinates per token, token by token, for a source built with more than
    /// one position axis ([`Axes`](crate::Axes)): `(t, h, w)` for M-RoPE, `(row, column)`
    /// for 2-D axial RoPE. The buffer must hold `len / axes` tokens.
    Axes(&'a [u32]),
    /// [`Positions::Axes`] with 64-bit coordinates; each must be below
    /// [`MAX_POSITION`](crate::MAX_POSITION).
    Axes64(&'a [u64]),
}

/// One token's coordinates: one per axis (all equal unless given as [`Positions::Axes`]).
#[derive(Clone, Copy)]
pub(crate) struct At {
    pub coords: [u64; MAX_AXES],
    /// `false` when every axis has the same coordinate `coords[0]`.
    pub multi: bool,
    /// A signed position below zero: the token turns by `-coords[0] * theta`.
    pub negative: bool,
}

impl At {
    /// One token's coordinates from a slice of them.
    #[inline]
    fn of_axes<T: Copy + PartialEq>(c: &[T], wide: impl Fn(T) -> u64) -> At {
        let mut coords = [wide(c[0]); MAX_AXES];
        for (d, &s) in coords.iter_mut().zip(c) {
            *d = wide(s);
        }
        At {
            coords,
            multi: c.iter().any(|&v| v != c[0]),
            negative: false,
        }
    }

    #[inline]
    pub fn is_zero(&self) -> bool {
        self.coords[0] == 0 && (!self.multi || self.coords.iter().all(|&c| c == 0))
    }
}

impl<'a> Positions<'a> {
    /// The positions of tokens `first..first + n` of a call with these positions (`axes`
    /// coordinates per token for [`Positions::Axes`]).
    pub(crate) fn tokens(
        self,
        first: usize,
        n: usize,
        axes: usize,
    ) -> Result<Positions<'a>, RopeError> {
        fn part<T>(l: &[T], first: usize, n: usize, per: usize) -> Result<&[T], RopeError> {
            first
                .checked_add(n)
                .and_then(|end| Some((first.checked_mul(per)?, end.checked_mul(per)?)))
                .and_then(|(a, b)| l.get(a..b))
                .ok_or(RopeError::TokenRange {
                    first,
                    tokens: n,
                    total: l.len() / per.max(1),
                })
        }
        Ok(match self {
            Positions::Start(s) => Positions::Start(
                s.checked_add(first as u64)
                    .ok_or(RopeError::PositionTooLarge { position: s })?,
            ),
            Positions::Same(p) => Positions::Same(p),
            Positions::List(l) => Positions::List(part(l, first, n, 1)?),
            Positions::List64(l) => Positions::List64(part(l, first, n, 1)?),
            Positions::Signed(l) => Positions::Signed(part(l, first, n, 1)?),
            Positions::Signed64(l) => Positions::Signed64(part(l, first, n, 1)?),
            Positions::Axes(l) => Positions::Axes(part(l, first, n, axes)?),
            Positions::Axes64(l) => Positions::Axes64(part(l, first, n, axes)?),
        })
    }

    pub(crate) fn list_len(&self, axes: usize) -> Option<usize> {
        match self {
            Positions::Start(_) | Positions::Same(_) => None,
            Positions::List(l) => Some(l.len()),
            Positions::List64(l) => Some(l.len()),
            Positions::Signed(l) => Some(l.len()),
            Positions::Signed64(l) => Some(l.len()),
            Positions::Axes(l) => Some(l.len() / axes),
            Positions::Axes64(l) => Some(l.len() / axes),
        }
    }

    #[inline]
    pub(crate) fn get(&self, t: usize, axes: usize) -> At {
        let one = |p: u64| At {
            coords: [p; MAX_AXES],
            multi: false,
            negative: false,
        };
        let signed = |p: i64| At {
            negative: p < 0,
            ..one(p.unsigned_abs())
        };
        match self {
            Positions::Start(s) => one(s + t as u64),
            Positions::List(l) => one(u64::from(l[t])),
            Positions::List64(l) => one(l[t]),
            Positions::Signed(l) => signed(i64::from(l[t])),
            Positions::Signed64(l) => signed(l[t]),
            Positions::Same(p) => one(*p),
            Positions::Axes(l) => At::of_axes(&l[t * axes..(t + 1) * axes], u64::from),
            Positions::Axes64(l) => At::of_axes(&l[t * axes..(t + 1) * axes], |v| v),
        }
    }

    /// Check every position a call of `tokens` tokens uses with `check` (given each
    /// `|position|`).
    pub(crate) fn check_each(
        &self,
        tokens: usize,
        mut check: impl FnMut(u64) -> Result<(), RopeError>,
    ) -> Result<(), RopeError> {
        match *self {
            Positions::Start(start) => {
                if tokens > 0 {
                    let last = start
                        .checked_add(tokens as u64 - 1)
                        .ok_or(RopeError::PositionTooLarge { position: start })?;
                    check(last)?;
                }
                Ok(())
            }
            Positions::List(l) => l.iter().try_for_each(|&p| check(u64::from(p))),
            Positions::List64(l) => l.iter().try_for_each(|&p| check(p)),
            Positions::Signed(l) => l
                .iter()
                .try_for_each(|&p| check(u64::from(p.unsigned_abs()))),
            Positions::Signed64(l) => l.iter().try_for_each(|&p| check(p.unsigned_abs())),
            Positions::Same(p) if tokens > 0 => check(p),
            Positions::Same(_) => Ok(()),
            Positions::Axes(l) => l.iter().try_for_each(|&p| check(u64::from(p))),
            Positions::Axes64(l) => l.iter().try_for_each(|&p| check(p)),
        }
    }
}

impl<'a> From<&'a [u32]> for Positions<'a> {
    fn from(l: &'a [u32]) -> Self {
        Positions::List(l)
    }
}

impl<'a> From<&'a [u64]> for Positions<'a> {
    fn from(l: &'a [u64]) -> Self {
        Positions::List64(l)
    }
}

impl<'a> From<&'a [i32]> for Positions<'a> {
    fn from(l: &'a [i32]) -> Self {
        Positions::Signed(l)
    }
}

impl<'a> From<&'a [i64]> for Positions<'a> {
    fn from(l: &'a [i64]) -> Self {
        Positions::Signed64(l)
    }
}
