//! ggml's whole RoPE parameter set against a float64 reference written here from ggml's
//! formulas (`ggml_rope_ext` and `ggml_rope_multi` in ggml's CPU backend, commit d99724f
//! of ggml-org/ggml: `ggml_rope_cache_init`, `ggml_mrope_cache_init`, `rotate_pairs`),
//! with no ggml dependency: every mode (normal, NeoX, M-RoPE, interleaved M-RoPE,
//! vision), sections that wrap, YaRN, freq factors, a channel offset (`n_offs`) and
//! signed positions, on every backend.
//!
//! Where the results differ from ggml's own: ggml forms each angle in f32 (`theta_scale`
//! multiplied `i` times, then `cosf`/`sinf` of an f32 product), so its outputs carry an
//! angle error that grows with the position; the reference here evaluates ggml's
//! formulas in f64, which is what this crate matches within its bound.

mod common;

use common::{assert_same_bits, backends, bound, Rng};
use rope_simd::{Axes, Backend, Ggml, GgmlMode, PairLayout, Positions, Rope, RopeError, Rotate};
use std::f64::consts::PI;

/// One ggml call's parameters.
struct Call<'a> {
    mode: GgmlMode,
    head_dim: usize,
    g: Ggml<'a>,
    sections: [u32; 4],
}

/// ggml's rope in f64: the cache of (cos, sin) per pair, then `rotate_pairs`.
/// `pos[t]` holds the token's four coordinates (all the same for single-axis modes).
fn reference(c: &Call<'_>, x: &[f64], heads: usize, pos: &[[i64; 4]]) -> Vec<f64> {
    let g = &c.g;
    let n_dims = g.n_dims;
    let theta_scale = g.freq_base.powf(-2.0 / n_dims as f64);
    let (mut low, mut high) = (0.0, 0.0);
    if g.ext_factor != 0.0 {
        let corr = |rot: f64| {
            n_dims as f64 * (g.n_ctx_orig as f64 / (rot * 2.0 * PI)).ln() / (2.0 * g.freq_base.ln())
        };
        low = corr(g.beta_fast).floor().max(0.0);
        high = corr(g.beta_slow).ceil().min(n_dims as f64 - 1.0);
    }
    let mut mscale = g.attn_factor;
    if g.ext_factor != 0.0 {
        mscale *= 1.0 + 0.1 * (1.0 / g.freq_scale).ln();
    }
    let s = c.sections.map(|v| v as usize);
    let sect_dims: usize = s.iter().sum();
    let multi = !matches!(c.mode, GgmlMode::Normal | GgmlMode::Neox);
    let vision = c.mode == GgmlMode::Vision;
    // Pairs the cache covers: ggml fills it for every channel, and vision uses them all.
    let pairs = if vision { c.head_dim / 2 } else { n_dims / 2 };
    let mut y = x.to_vec();
    for (t, p) in pos.iter().enumerate() {
        let cache: Vec<(f64, f64)> = (0..pairs)
            .map(|k| {
                // (coordinate, exponent) of pair k
                let (coord, exponent) = if !multi {
                    (p[0], k)
                } else {
                    let sector = k % sect_dims;
                    let axis = match c.mode {
                        GgmlMode::IMRope => {
                            if sector % 3 == 1 && sector < 3 * s[1] {
                                1
                            } else if sector % 3 == 2 && sector < 3 * s[2] {
                                2
                            } else if sector.is_multiple_of(3) && sector < 3 * s[0] {
                                0
                            } else {
                                3
                            }
                        }
                        _ => {
                            if sector < s[0] {
                                0
                            } else if sector < s[0] + s[1] {
                                1
                            } else if sector < s[0] + s[1] + s[2] {
                                2
                            } else {
                                3
                            }
                        }
                    };
                    let start: usize = s[..axis].iter().sum();
                    // Vision restarts each section's theta at its first pair.
                    (p[axis], if vision { sector - start } else { k })
                };
                let ff = g.freq_factors.map_or(1.0, |f| f[k]);
                let extrap = coord as f64 * theta_scale.powi(exponent as i32) / ff;
                let interp = g.freq_scale * extrap;
                let theta = if g.ext_factor != 0.0 {
                    let yv = (k as f64 - low) / (high - low).max(0.001);
                    let mix = (1.0 - yv.clamp(0.0, 1.0)) * g.ext_factor;
                    interp * (1.0 - mix) + extrap * mix
                } else {
                    interp
                };
                (theta.cos() * mscale, theta.sin() * mscale)
            })
            .collect();
        for h in 0..heads {
            let o = (t * heads + h) * c.head_dim;
            let (n, second) = match c.mode {
                GgmlMode::Normal => (n_dims / 2, 1),
                GgmlMode::Vision => (c.head_dim / 2, n_dims),
                _ => (n_dims / 2, n_dims / 2),
            };
            for (k, &(cs, sn)) in cache.iter().enumerate().take(n) {
                let a = match c.mode {
                    GgmlMode::Normal => o + g.n_offs + 2 * k,
                    GgmlMode::Vision => o + k,
                    _ => o + g.n_offs + k,
                };
                let (x0, x1) = (x[a], x[a + second]);
                y[a] = x0 * cs - x1 * sn;
                y[a + second] = x0 * sn + x1 * cs;
            }
        }
    }
    y
}

fn check(c: &Call<'_>, positions: &[[i64; 4]], what: &str) {
    let heads = 3;
    let rope = Rope::ggml_multi(c.head_dim, c.mode, c.sections, &c.g).unwrap();
    let n = positions.len() * heads * c.head_dim;
    let x: Vec<f32> = Rng(c.head_dim as u64 + 5).vec(n, 4.0);
    let xf: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let want = reference(c, &xf, heads, positions);
    // Positions as this crate takes them: four coordinates per token, or one (signed).
    let axes: Vec<u32> = positions.iter().flatten().map(|&p| p as u32).collect();
    let single: Vec<i64> = positions.iter().map(|p| p[0]).collect();
    let at = if rope.axes().count() == 4 {
        Positions::Axes(&axes)
    } else {
        Positions::Signed64(&single)
    };
    let mut scalar = x.clone();
    rope.clone()
        .with_backend(Backend::Scalar)
        .unwrap()
        .rotate(&mut scalar, heads, at)
        .unwrap();
    let scale = rope.scale();
    for (i, (&got, &w)) in scalar.iter().zip(&want).enumerate() {
        let tol = bound::<f32>(4.0, 4.0, w, scale);
        assert!(
            (f64::from(got) - w).abs() <= tol,
            "{what}: element {i} (channel {}): got {got}, ggml's formulas in f64 {w}",
            i % c.head_dim
        );
    }
    for backend in backends() {
        let mut y = x.clone();
        rope.clone()
            .with_backend(backend)
            .unwrap()
            .rotate(&mut y, heads, at)
            .unwrap();
        assert_same_bits(&scalar, &y, &format!("{what} {backend:?}"));
    }
}

fn coords(n: usize, seed: u64) -> Vec<[i64; 4]> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| core::array::from_fn(|_| rng.below(5000) as i64))
        .collect()
}

#[test]
fn normal_and_neox_with_yarn_freq_factors_and_offset() {
    let ff: Vec<f64> = (0..24).map(|i| 1.0 + i as f64 / 8.0).collect();
    let yarn = Ggml::new(48, 10_000.0)
        .freq_scale(0.25)
        .ext_factor(1.0)
        .n_ctx_orig(4096)
        .attn_factor(0.9);
    // ggml's int32 positions, negative ones included (llama.cpp's cache shift).
    let positions: Vec<[i64; 4]> = [0i64, 7, -300, 70_000, -1]
        .iter()
        .map(|&p| [p; 4])
        .collect();
    for mode in [GgmlMode::Normal, GgmlMode::Neox] {
        for (what, g) in [
            ("plain", Ggml::new(48, 10_000.0)),
            ("yarn", yarn),
            ("freq factors", Ggml::new(48, 500_000.0).freq_factors(&ff)),
            ("n_offs 6", yarn.n_offs(6)),
        ] {
            let c = Call {
                mode,
                head_dim: 64,
                g,
                sections: [0; 4],
            };
            check(&c, &positions, &format!("{mode:?} {what}"));
        }
    }
}

#[test]
fn multi_modes_with_four_coordinates() {
    let positions = coords(4, 3);
    let qwen2vl = Ggml::new(128, 1e6);
    for (mode, sections, what) in [
        (GgmlMode::MRope, [16, 24, 24, 0], "Qwen2-VL sections"),
        (
            GgmlMode::MRope,
            [4, 2, 2, 1],
            "sections that wrap (9 of 64 pairs)",
        ),
        (GgmlMode::IMRope, [24, 20, 20, 0], "Qwen3-VL sections"),
        (
            GgmlMode::IMRope,
            [3, 2, 2, 5],
            "interleaved, wrapping, with a fourth",
        ),
    ] {
        let c = Call {
            mode,
            head_dim: 128,
            g: qwen2vl,
            sections,
        };
        check(&c, &positions, &format!("{mode:?} {what}"));
    }
    let yarn = Ggml::new(80, 10_000.0)
        .freq_scale(0.5)
        .ext_factor(1.0)
        .n_ctx_orig(2048);
    let c = Call {
        mode: GgmlMode::MRope,
        head_dim: 96,
        g: yarn.n_offs(8),
        sections: [10, 10, 20, 0],
    };
    check(&c, &positions, "M-RoPE with YaRN and n_offs");
}

#[test]
fn vision_restarts_each_section() {
    let positions = coords(3, 8);
    for sections in [[16, 16, 0, 0], [10, 12, 6, 4]] {
        let c = Call {
            mode: GgmlMode::Vision,
            head_dim: 64,
            g: Ggml::new(32, 10_000.0),
            sections,
        };
        check(&c, &positions, &format!("vision {sections:?}"));
    }
    // With two equal sections over half the head each, ggml's vision RoPE is the
    // Qwen2-VL encoder's 2-D axial RoPE.
    let vision = Rope::ggml_multi(
        80,
        GgmlMode::Vision,
        [20, 20, 0, 0],
        &Ggml::new(40, 10_000.0),
    )
    .unwrap();
    let axial = Rope::builder(80).axes(Axes::Axial2d).build().unwrap();
    for (a, b) in vision.inv_freqs().iter().zip(axial.inv_freqs()) {
        assert!((a - b).abs() <= 2.0 * f64::EPSILON * b, "{a} vs {b}");
    }
}

/// The two interleaved M-RoPEs differ only in the pairs past the three sections: ggml turns
/// them by the fourth coordinate, transformers by the temporal one.
#[test]
fn ggml_and_transformers_interleaved_mrope_differ_as_documented() {
    let ggml = Rope::ggml_multi(16, GgmlMode::IMRope, [2, 2, 2, 2], &Ggml::new(16, 1e4)).unwrap();
    let hf = Rope::builder(16)
        .axes(Axes::MRopeInterleaved([4, 2, 2]))
        .build()
        .unwrap();
    assert_eq!(ggml.inv_freqs(), hf.inv_freqs());
    let (t, h, w, e) = (5, 9, 13, 100);
    let mut a = vec![1.0f32; 16];
    let mut b = a.clone();
    ggml.rotate(&mut a, 1, Positions::Axes(&[t, h, w, e]))
        .unwrap();
    hf.rotate(&mut b, 1, Positions::Axes(&[t, h, w])).unwrap();
    // Pairs 0..6 turn alike; pairs 6 and 7 (past 3 x 2) differ: e against t.
    for pair in 0..8 {
        let same = a[pair] == b[pair] && a[pair + 8] == b[pair + 8];
        assert_eq!(same, pair < 6, "pair {pair}");
    }
}

#[test]
fn bad_ggml_calls_are_errors() {
    let g = Ggml::new(64, 1e4);
    assert!(matches!(
        Rope::ggml_multi(64, GgmlMode::MRope, [0; 4], &g),
        Err(RopeError::BadSections { sum: 0, .. })
    ));
    assert!(matches!(
        Rope::ggml_multi(64, GgmlMode::Vision, [16, 16, 0, 0], &g),
        Err(RopeError::Conflict { .. })
    ));
    assert!(matches!(
        Rope::ggml(64, PairLayout::HalfSplit, &g.n_offs(2)),
        Err(RopeError::RotaryDimTooLarge {
            rotary_dim: 66,
            head_dim: 64
        })
    ));
    assert!(matches!(
        Rope::ggml(80, PairLayout::HalfSplit, &g.n_offs(3)),
        Err(RopeError::OddDim {
            what: "channel_offset",
            value: 3
        })
    ));
    assert_eq!(GgmlMode::from_ggml(24), Some(GgmlMode::Vision));
}
