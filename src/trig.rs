//! Exact angles: `cos(p * theta)` and `sin(p * theta)` rounded to f32, accurate at any position.
//!
//! The usual `(p as f32) * theta` loses the angle at long context: at p = 500 000 an f32
//! product is off by up to ~3e-2 rad. Here every angle is formed and reduced in
//! double-double arithmetic, then evaluated in f64:
//!
//! 1. Once per frequency, `theta / 2pi` is stored as a double-double `t = hi + lo`
//!    (≈106 bits), so the angle in *turns* is `p * t`. Frequencies are at most 2pi
//!    (validated), so `t <= 1` and `p * t < 2^53`.
//! 2. Per position, `p * hi` is split exactly into `h + l` (Dekker's two-product; `p` is an
//!    integer below 2^53, exact in f64), the whole turns `round(h)` are dropped exactly, and
//!    `f = (h - round(h)) + (l + p * lo)` is the fraction of a turn, in [-0.5, 0.5], with an
//!    absolute error near 2^-54 turns for every position below 2^32 (the error
//!    of `p * lo` grows with `p`, and stays below 2^-53 turns up to the 2^53 limit).
//! 3. `f * 2pi` (|x| <= pi) goes to `libm`'s f64 `sin`/`cos` (< 1 f64 ulp), the magnitude
//!    scale is applied in f64, and the result is rounded to f32 once.
//!
//! The f64 value is within about 1e-15 of the true `cos(p*theta)` (theta being the f64
//! inverse frequency), so the f32 result is the correctly rounded one but for values within
//! ~2^-28 ulp of a rounding tie: at most 1 ulp off, at position 10 or position 10^9 alike. Every
//! step is plain IEEE f64 arithmetic with no fused operations, so the bits are the same on
//! every architecture and backend. The measured accuracy is in the crate docs and checked by
//! `tests/angles.rs`.

/// 2*pi split as a double-double: `TAU_HI + TAU_LO` to ~107 bits.
const TAU_HI: f64 = core::f64::consts::TAU;
const TAU_LO: f64 = 2.449_293_598_294_706_4e-16;

/// Dekker's split of an f64 into two halves of 26 significant bits each.
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    let c = 134_217_729.0 * a; // 2^27 + 1
    let hi = c - (c - a);
    (hi, a - hi)
}

/// `a * b` as an exact sum `p + e` (no FMA, so identical on every target).
#[inline(always)]
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

/// An inverse frequency expressed in turns per position (`theta / 2pi`) as a double-double.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Turns {
    hi: f64,
    lo: f64,
}

impl Turns {
    /// `theta / 2pi` to about 106 bits (double-double division by `TAU_HI + TAU_LO`).
    pub(crate) fn from_inv_freq(theta: f64) -> Self {
        let hi = theta / TAU_HI;
        let (p, e) = two_prod(hi, TAU_HI);
        let rem = ((theta - p) - e) - hi * TAU_LO;
        Turns {
            hi,
            lo: rem / TAU_HI,
        }
    }

    /// The inverse frequency these turns came from (to f64 precision).
    #[cfg(test)]
    pub(crate) fn inv_freq(self) -> f64 {
        self.hi * TAU_HI + (self.lo * TAU_HI + self.hi * TAU_LO)
    }

    /// The angle `position * theta` reduced to [-pi, pi], in radians.
    #[inline]
    pub(crate) fn reduced_angle(self, position: u64) -> f64 {
        let p = position as f64; // exact: positions are validated to be < 2^53
        let (h, l) = two_prod(p, self.hi);
        let whole = libm::round(h);
        let frac = (h - whole) + (l + p * self.lo);
        frac * TAU_HI
    }
}

/// `(cos, sin)` of `position * theta` in f64 (within about 1e-16 of the true values).
#[inline]
pub(crate) fn cos_sin_f64(position: u64, turns: Turns) -> (f64, f64) {
    let (s, c) = libm::sincos(turns.reduced_angle(position));
    (c, s)
}

/// `(cos, sin)` of `position * theta`, times `scale`, each rounded once to f32.
#[inline]
pub(crate) fn cos_sin(position: u64, turns: Turns, scale: f64) -> (f32, f32) {
    let x = turns.reduced_angle(position);
    let (s, c) = libm::sincos(x);
    ((c * scale) as f32, (s * scale) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_prod_is_exact_on_integers() {
        let (p, e) = two_prod(123_456_789.0, 987_654_321.0);
        // 123456789 * 987654321 = 121932631112635269, beyond 2^53.
        assert_eq!(p as u128 as i128 + e as i128, 121_932_631_112_635_269);
    }

    #[test]
    fn turns_round_trip_the_frequency() {
        for theta in [1.0, 0.1, 1e-4, 3.7e-7] {
            let t = Turns::from_inv_freq(theta);
            assert!((t.inv_freq() - theta).abs() <= theta * 1e-15);
        }
    }

    #[test]
    fn reduced_angle_of_multiples_of_turn() {
        // theta = 2pi/8 (to f64): p = 8k is (almost) a whole number of turns.
        let t = Turns::from_inv_freq(TAU_HI / 8.0);
        let x = t.reduced_angle(8 * 1_000_003);
        assert!(x.abs() < 1e-8, "{x}");
    }
}
