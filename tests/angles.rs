//! Accuracy of the angles: f32 cos/sin within 1 ulp of the true value at every position,
//! where a naive f32 `position * theta` is off by hundredths of a radian.

mod common;

use common::Rng;
use rope_simd::{
    ContextLengths, Ggml, Llama3, LongRope, LongRopeChoice, PairLayout, Positions, Rope, Rotate,
    Scaling, Yarn,
};

/// Distance in f32 ulps (both finite).
fn ulps(a: f32, b: f32) -> u32 {
    fn key(x: f32) -> i64 {
        let b = x.to_bits() as i32;
        i64::from(if b < 0 { i32::MIN - b } else { b })
    }
    (key(a) - key(b)).unsigned_abs() as u32
}

/// `theta` with its significand cut to the top 21 bits (exact, the rest is `theta - cut`).
fn cut21(theta: f64) -> f64 {
    let bits = theta.to_bits();
    f64::from_bits(bits & !((1u64 << 32) - 1))
}

/// cos and sin of the exact real product `p * theta` (p < 2^32), to ~1e-16 absolute.
///
/// `theta` is split exactly into `t1 + t2 + t3` of at most 21 significant bits each, so
/// each `p * ti` is exact in f64; `A = p * t1` goes to std's cos/sin (exact argument
/// reduction), the small rest `r = p*t2 + p*t3` (relative error 2^-53) by angle addition.
fn exact_cos_sin(p: u64, theta: f64) -> (f64, f64) {
    assert!(p < 1 << 32);
    let t1 = cut21(theta);
    let t2 = cut21(theta - t1);
    let t3 = theta - t1 - t2;
    let pf = p as f64;
    let (a, r) = (pf * t1, pf * t2 + pf * t3);
    let (sa, ca) = a.sin_cos();
    let (sr, cr) = r.sin_cos();
    (ca * cr - sa * sr, sa * cr + ca * sr)
}

/// Max ulp error of `rope.cos_sin` over `positions` and every pair, against the f64
/// cos/sin of the exact product `p * theta`, rounded to f32.
fn max_ulps(rope: &Rope, positions: impl Iterator<Item = u64>) -> (u32, u64, u64) {
    let (mut worst, mut exact, mut total) = (0, 0, 0);
    for p in positions {
        for (i, &theta) in rope.inv_freqs().iter().enumerate() {
            let (want_c, want_s) = exact_cos_sin(p, theta);
            let (c, s) = rope.cos_sin(p, i);
            let m = rope.scale(); // the magnitude (YaRN, LongRoPE attention factors)
            for (got, want) in [(c, (want_c * m) as f32), (s, (want_s * m) as f32)] {
                let u = ulps(got, want);
                worst = worst.max(u);
                exact += u64::from(u == 0);
                total += 1;
            }
        }
    }
    (worst, exact, total)
}

#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn cos_sin_within_one_ulp_up_to_2_pow_24() {
    for base in [10_000.0, 500_000.0, 1_000_000.0] {
        let rope = Rope::new(128, base, PairLayout::HalfSplit).unwrap();
        let mut rng = Rng(42);
        // Sampled over the whole range, plus every position near the start and the end.
        let positions = (0..2_000)
            .map(|_| rng.below(1 << 24))
            .chain(0..200)
            .chain((1 << 24) - 200..1 << 24);
        let (worst, exact, total) = max_ulps(&rope, positions);
        eprintln!("base {base}: max {worst} ulp, {exact}/{total} correctly rounded");
        assert!(worst <= 1, "base {base}: {worst} ulp");
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn every_schedule_within_one_ulp_up_to_2_pow_24() {
    let short: Vec<f64> = (0..48).map(|i| 1.0 + 0.05 * i as f64).collect();
    let long: Vec<f64> = (0..48).map(|i| 1.0 + 1.2 * i as f64).collect();
    let b = |hd: usize| Rope::builder(hd).base(10_000.0);
    let ropes = [
        (
            "linear 4",
            b(128).scaling(Scaling::Linear { factor: 4.0 }).build(),
        ),
        (
            "NTK-aware 8",
            b(128).scaling(Scaling::NtkAware { alpha: 8.0 }).build(),
        ),
        (
            "dynamic NTK",
            b(128)
                .scaling(Scaling::DynamicNtk {
                    factor: 2.0,
                    max_position_embeddings: 4096,
                    seq_len: 100_000,
                })
                .build(),
        ),
        (
            "YaRN (Qwen2.5)",
            b(128)
                .base(1e6)
                .scaling(Scaling::Yarn(Yarn::new(4.0, 32_768)))
                .build(),
        ),
        (
            "YaRN (GPT-OSS)",
            b(64)
                .base(150_000.0)
                .scaling(Scaling::Yarn(Yarn::new(32.0, 4096).truncate(false)))
                .build(),
        ),
        (
            "Llama 3.1",
            b(128)
                .base(500_000.0)
                .scaling(Scaling::Llama3(Llama3::llama_3_1()))
                .build(),
        ),
        (
            "LongRoPE long",
            b(96)
                .scaling(Scaling::LongRope(LongRope::new(
                    &short,
                    &long,
                    ContextLengths {
                        original: 4096,
                        extended: 131_072,
                    },
                    LongRopeChoice::Long,
                )))
                .build(),
        ),
        (
            "proportional",
            b(256).base(1e6).proportional_rotary(64).build(),
        ),
        (
            "ggml YaRN",
            Rope::ggml(
                128,
                PairLayout::Interleaved,
                &Ggml::new(128, 10_000.0)
                    .freq_scale(0.125)
                    .ext_factor(1.0)
                    .n_ctx_orig(8192),
            ),
        ),
    ];
    for (name, rope) in ropes {
        let rope = rope.unwrap();
        let mut rng = Rng(9);
        let positions = (0..300).map(|_| rng.below(1 << 24)).chain(0..20);
        let (worst, exact, total) = max_ulps(&rope, positions);
        eprintln!("{name}: max {worst} ulp, {exact}/{total} correctly rounded");
        assert!(worst <= 1, "{name}: {worst} ulp");
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn cos_sin_within_one_ulp_at_huge_positions() {
    // Default frequencies up to u32::MAX ...
    let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit).unwrap();
    let mut rng = Rng(11);
    let positions = (0..1_000)
        .map(|_| rng.below(1 << 32))
        .chain([u64::from(u32::MAX)]);
    let (worst, exact, total) = max_ulps(&rope, positions);
    eprintln!("positions < 2^32: max {worst} ulp, {exact}/{total} correctly rounded");
    assert!(worst <= 1, "{worst} ulp");
    // ... and dyadic ones with 20 significant bits, where even the reference is trivial.
    let freqs: Vec<f64> = (0..32)
        .map(|i| (1_048_575 - 9_973 * i) as f64 / 1_048_576.0)
        .collect();
    let rope = Rope::builder(64).inv_freqs(&freqs).build().unwrap();
    let mut rng = Rng(7);
    let positions =
        (0..3_000)
            .map(|_| rng.below(1 << 32))
            .chain([u64::from(u32::MAX), 500_000, 1_000_000]);
    let (worst, exact, total) = max_ulps(&rope, positions);
    eprintln!("dyadic, positions < 2^32: max {worst} ulp, {exact}/{total} correctly rounded");
    assert!(worst <= 1, "{worst} ulp");
}

#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn cos_sin_near_multiples_of_half_pi() {
    // theta = 1: positions whose angle is closest to a multiple of pi/2 (where cos or sin
    // is tiny and relative error is hardest): continued-fraction convergents of pi/2.
    let rope = Rope::builder(2).inv_freqs(&[1.0]).build().unwrap();
    let near = [
        11u64,
        344,
        355,
        51_819,
        52_174,
        103_993,
        833_719,
        4_272_943,
        80_143_857,
        245_850_922,
    ];
    let positions = near.iter().flat_map(|&p| p.saturating_sub(2)..p + 3);
    let (worst, _, _) = max_ulps(&rope, positions);
    assert!(worst <= 1, "{worst} ulp");
}

/// The point of all this: at long context a naive f32 angle is far off, ours is not.
#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn naive_f32_angles_are_far_off_where_ours_are_exact() {
    let rope = Rope::new(128, 10_000.0, PairLayout::HalfSplit).unwrap();
    let p = 500_000u64;
    let (mut naive_worst, mut ours_worst) = (0.0f64, 0.0f64);
    for (i, &theta) in rope.inv_freqs().iter().enumerate() {
        let exact = (p as f64 * theta).cos();
        let naive = f64::from((p as f32 * theta as f32).cos());
        let (ours, _) = rope.cos_sin(p, i);
        naive_worst = naive_worst.max((naive - exact).abs());
        ours_worst = ours_worst.max((f64::from(ours) - exact).abs());
    }
    eprintln!("position {p}: naive f32 cos off by up to {naive_worst:.2e}, ours {ours_worst:.2e}");
    assert!(naive_worst > 1e-3); // documents the problem on this very input
    assert!(ours_worst < 6e-8);
}

/// Rotated outputs at position 10^6 are as accurate as at position 10.
#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn outputs_as_accurate_at_a_million_as_at_ten() {
    let rope = Rope::new(128, 10_000.0, PairLayout::Interleaved).unwrap();
    let x: Vec<f32> = Rng(5).vec(128, 1.0);
    let worst = |p: u64| {
        let mut y = x.clone();
        rope.rotate(&mut y, 1, Positions::Start(p)).unwrap();
        let mut worst = 0.0f64;
        for (i, &theta) in rope.inv_freqs().iter().enumerate() {
            let (c, s) = ((p as f64 * theta).cos(), (p as f64 * theta).sin());
            let (a, b) = (f64::from(x[2 * i]), f64::from(x[2 * i + 1]));
            let scale = a.abs() + b.abs();
            worst = worst.max((f64::from(y[2 * i]) - (a * c - b * s)).abs() / scale);
            worst = worst.max((f64::from(y[2 * i + 1]) - (b * c + a * s)).abs() / scale);
        }
        worst
    };
    let (at10, at_million) = (worst(10), worst(1_000_000));
    eprintln!("relative output error: position 10 {at10:.2e}, position 10^6 {at_million:.2e}");
    assert!(at10 <= 2.5 * f64::from(f32::EPSILON / 2.0));
    assert!(at_million <= 2.5 * f64::from(f32::EPSILON / 2.0));
}
