//! Shared test harness: the float64 reference (the oracle), element helpers, the error
//! bound, and the list of backends that run on this machine.
#![allow(dead_code)]

pub mod fingerprint;
pub mod rng;
pub mod ropes;
pub use rng::Rng;

use rope_simd::{bf16, f16, Backend, Element, PairLayout, View};

/// How a test buffer's tokens and heads are laid out (the reference's own notion; the
/// crate's is [`View`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `[tokens, heads, head_dim]`.
    TokensHeads,
    /// `[heads, tokens, head_dim]`.
    HeadsTokens,
}

/// The crate's view of a whole buffer laid out in `order`.
pub fn view(heads: usize, order: Order) -> View {
    match order {
        Order::TokensHeads => View::tokens_heads(heads),
        Order::HeadsTokens => View::heads_tokens(heads),
    }
}

/// The float64 reference, written plainly from the formula: for every token `t`, head `h`
/// and pair `i`, turn the pair by `angle = sign * positions[t] * inv_freq[i]` and multiply by
/// `scale`. It shares no code with the crate.
pub struct Reference<'a> {
    pub head_dim: usize,
    pub rotary_dim: usize,
    pub layout: PairLayout,
    pub inv_freq: &'a [f64],
    pub scale: f64,
}

impl Reference<'_> {
    /// The reference for `rope`'s configuration: its shape, layout, attention scale and
    /// inverse frequencies (the formula stays this file's own).
    pub fn of(rope: &rope_simd::Rope) -> Reference<'_> {
        Reference {
            head_dim: rope.head_dim(),
            rotary_dim: rope.rotary_dim(),
            layout: rope.layout(),
            inv_freq: rope.inv_freqs(),
            scale: rope.scale(),
        }
    }

    /// Plain default frequencies: `base^(-2i/rotary_dim)`.
    pub fn default_freqs(base: f64, rotary_dim: usize) -> Vec<f64> {
        (0..rotary_dim / 2)
            .map(|i| base.powf(-((2 * i) as f64) / rotary_dim as f64))
            .collect()
    }

    /// Index of the two channels of pair `i` within a head (the same in input and output
    /// for every layout but DeepSeek's; see [`Reference::pair_in`]).
    pub fn pair(&self, i: usize) -> (usize, usize) {
        self.pair_in(i, false)
    }

    /// Where pair `i` is read, forward or inverse. DeepSeek's `InterleavedToHalfSplit`
    /// reads interleaved pairs and writes half-split ones; its inverse the other way.
    pub fn pair_in(&self, i: usize, inverse: bool) -> (usize, usize) {
        let split = (i, i + self.rotary_dim / 2);
        match self.layout {
            PairLayout::Interleaved => (2 * i, 2 * i + 1),
            PairLayout::HalfSplit => split,
            PairLayout::InterleavedToHalfSplit if inverse => split,
            PairLayout::InterleavedToHalfSplit => (2 * i, 2 * i + 1),
            other => panic!("no reference for {other:?}"),
        }
    }

    /// Where pair `i` is written, forward or inverse.
    pub fn pair_out(&self, i: usize, inverse: bool) -> (usize, usize) {
        match self.layout {
            PairLayout::InterleavedToHalfSplit => self.pair_in(i, !inverse),
            _ => self.pair_in(i, inverse),
        }
    }

    /// Offset of head `h` of token `t` in a buffer of `tokens` tokens and `heads` heads.
    pub fn head_offset(
        &self,
        order: Order,
        tokens: usize,
        heads: usize,
        t: usize,
        h: usize,
    ) -> usize {
        match order {
            Order::TokensHeads => (t * heads + h) * self.head_dim,
            Order::HeadsTokens => (h * tokens + t) * self.head_dim,
        }
    }

    /// Rotate `x` (widened to f64) and return the f64 result.
    pub fn rotate(
        &self,
        x: &[f64],
        heads: usize,
        order: Order,
        positions: &[u64],
        inverse: bool,
    ) -> Vec<f64> {
        self.rotate_at(
            x,
            heads,
            order,
            positions.len(),
            |t, _| positions[t],
            inverse,
        )
    }

    /// Rotate `x`, with pair `i` of token `t` at position `position(t, i)` (several
    /// position axes).
    pub fn rotate_at(
        &self,
        x: &[f64],
        heads: usize,
        order: Order,
        tokens: usize,
        position: impl Fn(usize, usize) -> u64,
        inverse: bool,
    ) -> Vec<f64> {
        self.rotate_signed_at(x, heads, order, tokens, position, |_| false, inverse)
    }

    /// [`Reference::rotate_at`] with signed positions: token `t` is at
    /// `-position(t, i)` where `negative(t)` (turned back, times the scale).
    ///
    /// `inverse` is the true inverse: turned back and divided by the scale. (The
    /// transpose, turned back and times the scale, is every position negative.)
    #[allow(clippy::too_many_arguments)]
    pub fn rotate_signed_at(
        &self,
        x: &[f64],
        heads: usize,
        order: Order,
        tokens: usize,
        position: impl Fn(usize, usize) -> u64,
        negative: impl Fn(usize) -> bool,
        inverse: bool,
    ) -> Vec<f64> {
        assert_eq!(x.len(), tokens * heads * self.head_dim);
        let mut y = x.to_vec();
        let scale = if inverse {
            1.0 / self.scale
        } else {
            self.scale
        };
        for t in 0..tokens {
            let sign = if inverse != negative(t) { -1.0 } else { 1.0 };
            for h in 0..heads {
                let o = self.head_offset(order, tokens, heads, t, h);
                for (i, &theta) in self.inv_freq.iter().enumerate() {
                    let p = position(t, i);
                    let angle = sign * (p as f64) * theta;
                    let (c, s) = (angle.cos() * scale, angle.sin() * scale);
                    let (ia, ib) = self.pair_in(i, inverse);
                    let (oa, ob) = self.pair_out(i, inverse);
                    let (a, b) = (x[o + ia], x[o + ib]);
                    y[o + oa] = a * c - b * s;
                    y[o + ob] = b * c + a * s;
                }
            }
        }
        y
    }
}

/// Which coordinate (0 = t / row, 1 = h / column, 2 = w) pair `i` of `pairs` turns by,
/// written from the models' descriptions (Qwen2-VL's contiguous `mrope_section`, Qwen3-VL's
/// interleaving, the vision encoder's row/column halves), independently of the crate.
pub fn axis_of(axes: rope_simd::Axes, i: usize, pairs: usize) -> usize {
    use rope_simd::Axes;
    match axes {
        Axes::MRope(s) => {
            let (t, h) = (s[0] as usize, s[1] as usize);
            if i < t {
                0
            } else if i < t + h {
                1
            } else {
                2
            }
        }
        Axes::MRopeInterleaved(s) => {
            // Qwen3-VL: start from all-temporal, then overwrite H at 1, 4, 7, ... below
            // 3 * s[1] and W at 2, 5, 8, ... below 3 * s[2].
            let mut axis = 0;
            if i % 3 == 1 && i < 3 * s[1] as usize {
                axis = 1;
            }
            if i % 3 == 2 && i < 3 * s[2] as usize {
                axis = 2;
            }
            axis
        }
        Axes::Axial2d => {
            if i < pairs / 2 {
                0
            } else {
                1
            }
        }
        // ggml's multi-section modes: the pair's place within sections that repeat when
        // they sum to fewer pairs (`ggml_rope_multi`'s `sector`).
        Axes::GgmlMRope(s) | Axes::GgmlVision(s) => {
            let sector = i % s.iter().sum::<u32>() as usize;
            let ends = [s[0], s[0] + s[1], s[0] + s[1] + s[2]].map(|e| e as usize);
            ends.iter().position(|&e| sector < e).unwrap_or(3)
        }
        Axes::GgmlIMRope(s) => {
            let sector = i % s.iter().sum::<u32>() as usize;
            let below = |k: usize| sector < 3 * s[k] as usize;
            match sector % 3 {
                1 if below(1) => 1,
                2 if below(2) => 2,
                0 if below(0) => 0,
                _ => 3,
            }
        }
        _ => 0,
    }
}

/// Test-side facts about each element type.
pub trait TestElement: fingerprint::Bits + PartialEq + core::fmt::Debug {
    /// Relative half-ulp of the type (the rounding of the final narrowing).
    const REL: f64;
    /// Half the smallest subnormal step (absolute rounding near zero).
    const ABS: f64;
    /// The largest finite value.
    const MAX: f64;
    /// The bits, for bit-exact comparison (NaNs compared as "is NaN").
    fn bits(self) -> u32 {
        self.bits32()
    }
    fn is_nan(self) -> bool {
        self.to_f32().is_nan()
    }
}

impl TestElement for f32 {
    const REL: f64 = 0.0;
    /// Three half-ulps of the f32 subnormal spacing (2^-149): two products and a sum may
    /// each round there (found by the fuzzer: `fuzz/regressions/rotate/subnormal-output`).
    const ABS: f64 = 3.0 * 7.006_492_321_624_085e-46;
    const MAX: f64 = f32::MAX as f64;
}
impl TestElement for f16 {
    const REL: f64 = 1.0 / 2048.0;
    const ABS: f64 = 1.0 / 33_554_432.0; // 2^-25
    const MAX: f64 = 65_504.0;
}
impl TestElement for bf16 {
    const REL: f64 = 1.0 / 256.0;
    const ABS: f64 = 1e-40;
    const MAX: f64 = 3.389_531_389_251_535e38;
}

/// The documented bound for one output element of a pair `(a, b)` (inputs as f64):
/// `|y - reference| <= 4 * 2^-24 * scale * (|a| + |b|)` from the f32 arithmetic (cos and sin
/// each within 1 ulp, two products and one sum rounded), plus half an ulp of a 16-bit type,
/// plus the absolute rounding of subnormal results.
pub fn bound<E: TestElement>(a: f64, b: f64, reference: f64, scale: f64) -> f64 {
    4.0 * f64::from(f32::EPSILON / 2.0) * scale * (a.abs() + b.abs())
        + E::REL * reference.abs()
        + E::ABS
}

/// Assert `y` matches the f64 reference within [`bound`], pair by pair; NaN where the
/// reference is NaN. Channels past `rotary_dim` must equal the input exactly (checked
/// separately by callers that care about bits).
pub fn assert_close<E: TestElement>(
    r: &Reference<'_>,
    x: &[E],
    y: &[E],
    reference: &[f64],
    what: &str,
) {
    assert_close_dir(r, x, y, reference, false, what)
}

/// [`assert_close`] for a forward or an inverse rotation (they read pairs from different
/// channels in DeepSeek's layout).
pub fn assert_close_dir<E: TestElement>(
    r: &Reference<'_>,
    x: &[E],
    y: &[E],
    reference: &[f64],
    inverse: bool,
    what: &str,
) {
    let rows = x.len() / r.head_dim;
    for row in 0..rows {
        let o = row * r.head_dim;
        for i in 0..r.rotary_dim / 2 {
            let (ia, ib) = r.pair_in(i, inverse);
            let (oa, ob) = r.pair_out(i, inverse);
            let (a, b) = (f64::from(x[o + ia].to_f32()), f64::from(x[o + ib].to_f32()));
            for idx in [o + oa, o + ob] {
                let got = f64::from(y[idx].to_f32());
                let want = reference[idx];
                if want.is_nan() || !want.is_finite() {
                    // Inf/NaN inputs: IEEE propagation, checked as "not finite either".
                    assert!(
                        !got.is_finite(),
                        "{what}: element {idx}: reference {want}, got {got}"
                    );
                    continue;
                }
                // The larger of the forward and the inverse magnitudes.
                let tol = bound::<E>(a, b, want, r.scale.max(1.0 / r.scale));
                assert!(
                    (got - want).abs() <= tol,
                    "{what}: element {idx} (pair {i} of row {row}): got {got}, reference {want}, \
                     diff {:e} > bound {tol:e}; inputs ({a}, {b})",
                    (got - want).abs()
                );
            }
        }
    }
}

/// Assert two buffers hold the same bits (NaNs compared only as NaN).
pub fn assert_same_bits<E: TestElement>(a: &[E], b: &[E], what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        if x.is_nan() && y.is_nan() {
            continue;
        }
        assert_eq!(x.bits(), y.bits(), "{what}: element {i}: {x:?} vs {y:?}");
    }
}

/// The backends this machine runs, printed once so a test log shows what was covered.
pub fn backends() -> Vec<Backend> {
    let list: Vec<Backend> = Backend::available().collect();
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| eprintln!("rope-simd tests: backends on this machine: {list:?}"));
    list
}

impl Rng {
    pub fn vec<E: Element>(&mut self, n: usize, range: f32) -> Vec<E> {
        let mut v = vec![E::from_f32(0.0); n];
        self.fill(&mut v, range);
        v
    }
}

pub fn widen<E: Element>(x: &[E]) -> Vec<f64> {
    x.iter().map(|v| f64::from(v.to_f32())).collect()
}
