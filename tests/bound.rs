//! The documented f32 error bound, measured: over many rotations (random inputs, positions
//! up to 2^24, scales of real models), the largest `|y - exact| / (2^-24 * scale * (|a| +
//! |b|))` for each magnitude scale, printed for the crate docs and checked against the
//! documented 4 (`cargo test --release --test bound -- --nocapture`).

mod common;
use common::Order;

use common::{Reference, Rng};
use rope_simd::{Backend, PairLayout, Positions, Rope, Rotate};

#[test]
fn f32_error_against_the_documented_bound() {
    let tokens = if cfg!(miri) { 2 } else { 2000 };
    let unit = f64::from(f32::EPSILON) / 2.0; // 2^-24
                                              // Scale 1, YaRN factor 4 (1 + 0.1 ln 4), ggml's attn_factor 0.8, gpt-oss (1 + 0.1 ln 32).
    for scale in [1.0, 1.138_629_436_111_989, 0.8, 1.346_573_590_279_972_7] {
        let mut worst: f64 = 0.0;
        for layout in [PairLayout::HalfSplit, PairLayout::Interleaved] {
            let rope = Rope::builder(128)
                .layout(layout)
                .base(500_000.0)
                .scale(scale)
                .backend(Backend::detect())
                .build()
                .unwrap();
            let mut rng = Rng(scale.to_bits() ^ 0x5eed);
            let positions: Vec<u64> = (0..tokens).map(|_| rng.below(1 << 24)).collect();
            let x: Vec<f32> = rng.vec(tokens * 128, 30.0);
            let mut y = x.clone();
            rope.rotate(&mut y, 1, Positions::List64(&positions))
                .unwrap();
            let r = Reference::of(&rope);
            let xf: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
            let want = r.rotate(&xf, 1, Order::TokensHeads, &positions, false);
            for t in 0..tokens {
                let o = t * 128;
                for i in 0..64 {
                    let (ia, ib) = r.pair(i);
                    let norm = xf[o + ia].abs() + xf[o + ib].abs();
                    for idx in [o + ia, o + ib] {
                        let err = (f64::from(y[idx]) - want[idx]).abs();
                        worst = worst.max(err / (unit * scale * norm));
                    }
                }
            }
        }
        eprintln!("scale {scale}: max |y - exact| = {worst:.2} x 2^-24 x scale x (|a| + |b|)");
        assert!(
            worst <= 4.0,
            "scale {scale}: {worst} over the documented bound 4"
        );
    }
}
