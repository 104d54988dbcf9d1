//! Exact angles: `cos(p * theta)` and `sin(p * theta)` rounded to f32, accurate at any position.
//!
//! The usual `(p as f32) * theta` loses the angle at long context: at p = 500 000 an f32
//! product is off by up to ~3e-2 rad. Here every angle is formed and reduced in
//! double-double arithmetic, then evaluated in f64:
//!
//! 1. Once per frequency, `theta / 2pi` is stored as a double-double `t = hi + lo`
//!    (≈106 bits), so the angle in *turns* is `p * t`. Frequencies are at most 2pi
//!    (validated), so `t <= 1` and `p * t < 2^53`.
//! 2. Per position, the angle in turns is split into whole turns, dropped exactly, and a
//!    fraction `f` in [-0.5, 0.5] (up to a whole turn more for huge products), with an
//!    absolute error near 2^-54 turns for every position below 2^32 (the error of `p * lo`
//!    grows with `p`, and stays below 2^-53 turns up to the 2^53 limit). Two exact ways to
//!    form it, both in plain f64 (`p` is an integer below 2^53, exact in f64):
//!    - positions below 2^24 (every context a model runs today): `hi` is cut into its top
//!      26 significant bits `hi26` and the rest `mid = hi - hi26` (exact), so `p * hi26`
//!      is exact (at most 50 bits); `f = (p*hi26 - round(p*hi26)) + (p*mid + p*lo)`, where
//!      `p * mid < 0.5` is rounded once, to 2^-55;
//!    - larger positions: `p * hi` is split exactly into `h + l` (Dekker's two-product),
//!      and `f = (h - round(h)) + (l + p * lo)`.
//!
//!    The first takes 11 operations per pair where the second takes 20; which one runs
//!    depends on the position only, so a given position always gets the same bits.
//! 3. The fraction is split into a quarter turn `q` (its nearest multiple of 1/4) and a
//!    remainder `r` in [-1/8, 1/8] turns (exactly), `x = r * 2pi` (|x| <= pi/4), and
//!    sin/cos of `x` come from the minimax polynomials of degree 13 and 14 that fdlibm's
//!    `__kernel_sin`/`__kernel_cos` use (Sun Microsystems, 1993; error below 2^-58 on
//!    |x| <= pi/4), evaluated in f64 by Horner's rule; the quadrant `q` swaps and negates
//!    them. The magnitude scale is applied in f64 (skipped when it is 1) and the result
//!    rounded to f32 once.
//!
//! Within a batch every step is branch-free f64 arithmetic on independent pairs (the
//! choices above are made once per batch), so a token's pairs are
//! computed in SIMD lanes where the compiler vectorizes the loop (AVX-512 and AVX2 builds
//! of it are dispatched at run time) and in plain scalar code elsewhere, with the same
//! bits: IEEE operations in a fixed order, no fused multiply-add, no library calls.
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

/// `a * b` as an exact sum `p + e` (no FMA, so identical on every target); also
/// `float_text.rs`'s.
#[inline(always)]
pub(crate) fn two_prod(a: f64, b: f64) -> (f64, f64) {
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

    /// From the parts returned by [`Turns::parts`].
    pub(crate) fn from_parts(hi: f64, lo: f64) -> Self {
        Turns { hi, lo }
    }

    /// The turn's parts, for the batch kernel.
    pub(crate) fn parts(self) -> (f64, f64) {
        (self.hi, self.lo)
    }
}

/// `x` rounded to the nearest integer (ties to even) for `|x| < 2^52`; for larger `|x|`
/// (already integers) it may be off by a whole number, which only adds whole turns.
#[inline(always)]
fn round_int(x: f64) -> f64 {
    const SIGN: u64 = 1 << 63;
    let magic = f64::from_bits(0x4330_0000_0000_0000 | (x.to_bits() & SIGN)); // +-2^52
    (x + magic) - magic
}

// fdlibm's minimax coefficients (k_sin.c, k_cos.c), by their bits: on |x| <= pi/4,
// |sin(x)/x - (1 + S1 x^2 + ... + S6 x^12)| <= 2^-58 and
// |cos(x) - (1 - x^2/2 + C1 x^4 + ... + C6 x^14)| <= 2^-58.
const S1: f64 = f64::from_bits(0xBFC5_5555_5555_5549); // -1.66666666666666324348e-01
const S2: f64 = f64::from_bits(0x3F81_1111_1110_F8A6); // 8.33333333332248946124e-03
const S3: f64 = f64::from_bits(0xBF2A_01A0_19C1_61D5); // -1.98412698298579493134e-04
const S4: f64 = f64::from_bits(0x3EC7_1DE3_57B1_FE7D); // 2.75573137070700676789e-06
const S5: f64 = f64::from_bits(0xBE5A_E5E6_8A2B_9CEB); // -2.50507602534068634195e-08
const S6: f64 = f64::from_bits(0x3DE5_D93A_5ACF_D57C); // 1.58969099521155010221e-10
const C1: f64 = f64::from_bits(0x3FA5_5555_5555_554C); // 4.16666666666666019037e-02
const C2: f64 = f64::from_bits(0xBF56_C16C_16C1_5177); // -1.38888888888741095749e-03
const C3: f64 = f64::from_bits(0x3EFA_01A0_19CB_1590); // 2.48015872894767294178e-05
const C4: f64 = f64::from_bits(0xBE92_7E4F_809C_52AD); // -2.75573143513906633035e-07
const C5: f64 = f64::from_bits(0x3E21_EE9E_BDB4_B1C4); // 2.08757232129817482790e-09
const C6: f64 = f64::from_bits(0xBDA8_FAE9_BE88_38D4); // -1.13596475577881948265e-11

/// Positions below this take the short exact product (see the module docs, step 2).
const SHORT_PRODUCT_BELOW: f64 = 16_777_216.0; // 2^24

/// The fraction of a turn of the angle `p * (hi + lo)` turns (step 2 of the module docs):
/// `SHORT` selects the product for `p < 2^24`, which the caller checked.
#[inline(always)]
fn turn_fraction<const SHORT: bool>(p: f64, hi: f64, lo: f64) -> f64 {
    if SHORT {
        // The top 26 significant bits of `hi` (the sign and exponent kept), and the rest.
        let hi26 = f64::from_bits(hi.to_bits() & !((1u64 << 27) - 1));
        let mid = hi - hi26;
        let h = p * hi26;
        (h - round_int(h)) + (p * mid + p * lo)
    } else {
        let (h, l) = two_prod(p, hi);
        (h - round_int(h)) + (l + p * lo)
    }
}

/// sin and cos of `x`, `|x| <= pi/4`, from fdlibm's polynomials, by Horner's rule.
///
/// fdlibm adds a compensation term to the cosine (the rounding of `1 - x^2/2`); here it
/// would buy nothing: the angle itself carries up to ~3.5e-16 rad of reduction error
/// (step 2), more than this evaluation's ~1.1e-16, and the operations it saves are most
/// of what a decode step spends on the on-the-fly source.
#[inline(always)]
fn sin_cos_kernel(x: f64) -> (f64, f64) {
    let z = x * x;
    let r = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    let s = x + (z * x) * (S1 + z * r);
    let r = C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6))));
    let c = 1.0 - z * (0.5 - z * r);
    (s, c)
}

/// `(cos, sin)` in f64 of the angle `p * (hi + lo)` turns (p an integer below 2^53,
/// below 2^24 if `SHORT`).
#[inline(always)]
fn cos_sin_turns<const SHORT: bool>(p: f64, hi: f64, lo: f64) -> (f64, f64) {
    let frac = turn_fraction::<SHORT>(p, hi, lo); // turns, |frac| <= ~1.5
                                                  // Nearest quarter turn: q4 + MAGIC holds the integer round(q4) in its low bits.
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
    let quarters = frac * 4.0;
    let biased = quarters + MAGIC;
    let q = biased - MAGIC;
    let quadrant = biased.to_bits() & 3;
    // |x| <= pi/4. The subtraction is exact, and the product is the one rounding of
    // `(frac - q/4) * TAU_HI` (scaling by 4 is exact).
    let x = (quarters - q) * (TAU_HI * 0.25);
    let (s, c) = sin_cos_kernel(x);
    // Turn by the quadrant: (sin, cos) of x + quadrant * pi/2.
    let (s, c) = if quadrant & 1 == 1 { (c, s) } else { (s, c) };
    let sin_neg = (quadrant & 2) << 62;
    let cos_neg = ((quadrant + 1) & 2) << 62;
    (
        f64::from_bits(c.to_bits() ^ cos_neg),
        f64::from_bits(s.to_bits() ^ sin_neg),
    )
}

/// `(cos, sin)` of `position * theta` in f64 (within about 1e-16 of the true values).
#[inline]
pub(crate) fn cos_sin_f64(position: u64, turns: Turns) -> (f64, f64) {
    let p = position as f64;
    if p < SHORT_PRODUCT_BELOW {
        cos_sin_turns::<true>(p, turns.hi, turns.lo)
    } else {
        cos_sin_turns::<false>(p, turns.hi, turns.lo)
    }
}

/// `(cos, sin)` of `position * theta`, times `scale`, each rounded once to f32.
#[inline]
pub(crate) fn cos_sin(position: u64, turns: Turns, scale: f64) -> (f32, f32) {
    let (c, s) = cos_sin_f64(position, turns);
    ((c * scale) as f32, (s * scale) as f32)
}

/// [`cos_sin`] for every pair at once: `hi[i] + lo[i]` are pair `i`'s turns. Written as
/// one branch-free loop so that it vectorizes; inlined into each backend's
/// `#[target_feature]` entry point.
///
/// Each product has a loop of its own, so that each vectorizes with no test inside. With
/// `SKIP_ONE`, a scale of 1 has one more of its own, which skips the multiply (it changes
/// no bit): the fast ISAs' choice (the on-the-fly rows of `BENCHMARKS.md`); the others
/// multiply, two loops where there were four (`Vector::SKIP_SCALE_ONE`).
///
/// `#[inline]`, not `#[inline(always)]`, and a copy per ISA (`T`, its vector type, so
/// that each copy has one caller and LLVM inlines it): inlined before LLVM sees it, it
/// lost what its slice arguments say (that `cos` and `sin` overlap nothing), and the
/// vectorized loops checked every pair of pointers for overlap at run time first (run
/// `python3 scripts/ab_probe.py REV fly_decode` to see).
#[inline]
pub(crate) fn cos_sin_batch<T, const SKIP_ONE: bool>(
    position: u64,
    hi: &[f64],
    lo: &[f64],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    let p = position as f64;
    match (p < SHORT_PRODUCT_BELOW, SKIP_ONE && scale == 1.0) {
        (true, true) => batch::<T, true, false>(p, hi, lo, scale, cos, sin),
        (true, false) => batch::<T, true, true>(p, hi, lo, scale, cos, sin),
        (false, true) => batch::<T, false, false>(p, hi, lo, scale, cos, sin),
        (false, false) => batch::<T, false, true>(p, hi, lo, scale, cos, sin),
    }
}

/// [`cos_sin_batch`] with the product chosen, and the scale applied if `SCALED` (one
/// caller each: `#[inline]` for the reason given there).
#[inline]
#[allow(clippy::extra_unused_type_parameters)] // `T` makes the copy per ISA
fn batch<T, const SHORT: bool, const SCALED: bool>(
    p: f64,
    hi: &[f64],
    lo: &[f64],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    let n = cos.len().min(sin.len()).min(hi.len()).min(lo.len());
    let (c, s, hi, lo) = (&mut cos[..n], &mut sin[..n], &hi[..n], &lo[..n]);
    let one = |hi: f64, lo: f64| {
        let (c, s) = cos_sin_turns::<SHORT>(p, hi, lo);
        if SCALED {
            ((c * scale) as f32, (s * scale) as f32)
        } else {
            (c as f32, s as f32)
        }
    };
    // Two independent pairs per iteration, half the run apart, so that the vectorized
    // loop carries two dependency chains side by side (each is long: the polynomials).
    let half = n / 2;
    let (c0, c1) = c.split_at_mut(half);
    let (s0, s1) = s.split_at_mut(half);
    let (h0, h1) = hi.split_at(half);
    let (l0, l1) = lo.split_at(half);
    let (c1, s1, h1, l1) = (&mut c1[..half], &mut s1[..half], &h1[..half], &l1[..half]);
    for i in 0..half {
        (c0[i], s0[i]) = one(h0[i], l0[i]);
        (c1[i], s1[i]) = one(h1[i], l1[i]);
    }
    if n % 2 == 1 {
        (c[n - 1], s[n - 1]) = one(hi[n - 1], lo[n - 1]);
    }
}

/// cos/sin of `a + b` from those of `a` (`coarse = [cos a, sin a]`) and `b` (`fine`), times
/// `scale`, rounded to f32: the compact table's lookup. A branch-free loop that vectorizes;
/// inlined into each backend's `#[target_feature]` wrapper.
#[inline(always)]
pub(crate) fn angle_sum(
    coarse: [&[f64]; 2],
    fine: [&[f64]; 2],
    scale: f64,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    let [cc, cs] = coarse;
    let [fc, fs] = fine;
    let n = cos
        .len()
        .min(sin.len())
        .min(cc.len())
        .min(cs.len())
        .min(fc.len())
        .min(fs.len());
    for i in 0..n {
        let c = cc[i] * fc[i] - cs[i] * fs[i];
        let s = cs[i] * fc[i] + cc[i] * fs[i];
        cos[i] = (c * scale) as f32;
        sin[i] = (s * scale) as f32;
    }
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
    fn multiples_of_a_turn_give_cos_one() {
        // theta = 2pi/8 (to f64): p = 8k is (almost) a whole number of turns.
        let t = Turns::from_inv_freq(TAU_HI / 8.0);
        let (c, s) = cos_sin_f64(8 * 1_000_003, t);
        assert!((c - 1.0).abs() < 1e-15 && s.abs() < 1e-8, "{c} {s}");
    }

    #[test]
    fn coefficient_bits_are_the_published_decimals() {
        let published = [
            (S1, "-1.66666666666666324348e-01"),
            (S2, "8.33333333332248946124e-03"),
            (S3, "-1.98412698298579493134e-04"),
            (S4, "2.75573137070700676789e-06"),
            (S5, "-2.50507602534068634195e-08"),
            (S6, "1.58969099521155010221e-10"),
            (C1, "4.16666666666666019037e-02"),
            (C2, "-1.38888888888741095749e-03"),
            (C3, "2.48015872894767294178e-05"),
            (C4, "-2.75573143513906633035e-07"),
            (C5, "2.08757232129817482790e-09"),
            (C6, "-1.13596475577881948265e-11"),
        ];
        for (bits, text) in published {
            assert_eq!(bits, text.parse::<f64>().unwrap(), "{text}");
        }
    }

    #[test]
    fn kernels_match_libm_on_the_reduced_interval() {
        // 2^-58 polynomial error plus a few roundings of values up to 1.
        let n = if cfg!(miri) { 200 } else { 200_000 };
        for i in -n..=n {
            let x = core::f64::consts::FRAC_PI_4 * f64::from(i) / f64::from(n);
            let (s, c) = sin_cos_kernel(x);
            assert!((s - libm::sin(x)).abs() <= 2.3e-16, "sin {x}");
            assert!((c - libm::cos(x)).abs() <= 2.3e-16, "cos {x}");
        }
    }

    #[test]
    fn short_and_long_products_agree_below_2_pow_24() {
        // Frequencies with all 53 bits in use, positive and negative (cache deltas).
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..if cfg!(miri) { 200 } else { 20_000 } {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let theta = (seed >> 11) as f64 / (1u64 << 53) as f64 * core::f64::consts::TAU;
            let theta = if seed & 1 == 1 { -theta } else { theta };
            let (hi, lo) = Turns::from_inv_freq(theta).parts();
            let p = ((seed >> 20) % (1 << 24)) as f64;
            for p in [p, 16_777_215.0] {
                let short = turn_fraction::<true>(p, hi, lo);
                let long = turn_fraction::<false>(p, hi, lo);
                // Both within ~2^-54 turns of the truth, up to a whole turn.
                let d = (short - long) - (short - long).round();
                assert!(d.abs() <= 1.2e-16, "{p} {theta}: {short} vs {long}");
            }
        }
    }

    #[test]
    fn every_quadrant_matches_libm() {
        for i in -2000..=2000 {
            let theta = 0.001 * f64::from(i) + 0.000_37;
            let t = Turns::from_inv_freq(theta.abs());
            for p in [1u64, 3, 17, 1000] {
                let (c, s) = cos_sin_f64(p, t);
                // The reference's own product `p * theta` is rounded: allow for that.
                let x = p as f64 * theta.abs();
                let tol = 4e-16 + x * 2.3e-16;
                assert!(
                    (c - libm::cos(x)).abs() < tol && (s - libm::sin(x)).abs() < tol,
                    "{p} {theta}"
                );
            }
        }
    }
}
