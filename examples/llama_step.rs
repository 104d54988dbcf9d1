//! The crate's main job on a realistic shape: one Llama-3-8B attention layer's RoPE
//! (32 query heads, 8 KV heads, head_dim 128, theta 500000, half-split pairs), for a
//! 512-token prefill and a one-token decode step, in f32, f16 and bf16, with every backend
//! this machine runs.
//!
//! Prints the backend chosen, throughput, and the largest error against a float64
//! reference written from the formula.
//!
//! ```text
//! cargo run --release --example llama_step
//! ```

use std::time::Instant;

use rope_simd::{bf16, f16, Backend, Element, PairLayout, Positions, Rope, Rotate};

const Q_HEADS: usize = 32;
const KV_HEADS: usize = 8;
const HEAD_DIM: usize = 128;
const THETA: f64 = 500_000.0;

/// Median seconds of `reps` runs of `f` (after one warm-up run).
fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

/// Deterministic test data in [-1, 1).
fn data<E: Element>(n: usize, seed: u64) -> Vec<E> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            E::from_f32((s >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
        })
        .collect()
}

/// Largest |got - reference| over a [tokens, heads, 128] half-split buffer, the reference
/// computed in f64 from the formula (theta_i = THETA^(-2i/128)).
fn max_error<E: Element>(x: &[E], y: &[E], heads: usize, positions: &[u64]) -> f64 {
    let half = HEAD_DIM / 2;
    let mut worst = 0.0f64;
    for (t, &p) in positions.iter().enumerate() {
        for h in 0..heads {
            let o = (t * heads + h) * HEAD_DIM;
            for i in 0..half {
                let theta = THETA.powf(-((2 * i) as f64) / HEAD_DIM as f64);
                let (s, c) = (p as f64 * theta).sin_cos();
                let (a, b) = (
                    f64::from(x[o + i].to_f32()),
                    f64::from(x[o + i + half].to_f32()),
                );
                let want = [a * c - b * s, b * c + a * s];
                let got = [
                    f64::from(y[o + i].to_f32()),
                    f64::from(y[o + i + half].to_f32()),
                ];
                for k in 0..2 {
                    worst = worst.max((got[k] - want[k]).abs());
                }
            }
        }
    }
    worst
}

/// Rotate Q and K for `tokens` tokens from `start` on every backend; print a line each.
fn step<E: Element>(label: &str, tokens: usize, start: u64, reps: usize) {
    let positions: Vec<u64> = (start..start + tokens as u64).collect();
    let q0: Vec<E> = data(tokens * Q_HEADS * HEAD_DIM, 1);
    let k0: Vec<E> = data(tokens * KV_HEADS * HEAD_DIM, 2);
    let bytes = ((q0.len() + k0.len()) * std::mem::size_of::<E>()) as f64;
    for backend in Backend::available() {
        let rope = Rope::builder(HEAD_DIM)
            .base(THETA)
            .layout(PairLayout::HalfSplit)
            .backend(backend)
            .build()
            .expect("valid Llama configuration");
        let table = rope.table(start as usize + tokens).expect("table fits");
        let (mut q, mut k) = (q0.clone(), k0.clone());
        table
            .rotate_qk(&mut q, Q_HEADS, &mut k, KV_HEADS, Positions::Start(start))
            .expect("valid call");
        let err =
            max_error(&q0, &q, Q_HEADS, &positions).max(max_error(&k0, &k, KV_HEADS, &positions));
        let t_table = median_secs(reps, || {
            table
                .rotate_qk(&mut q, Q_HEADS, &mut k, KV_HEADS, Positions::Start(start))
                .unwrap()
        });
        let t_fly = median_secs(reps, || {
            rope.rotate_qk(&mut q, Q_HEADS, &mut k, KV_HEADS, Positions::Start(start))
                .unwrap()
        });
        println!(
            "{label:<8} {:<5} {:<7} table: {:>9.2} us {:>6.1} GB/s | on the fly: {:>9.2} us {:>6.1} GB/s | max |err| {err:.2e}",
            E::NAME,
            backend.name(),
            t_table * 1e6,
            2.0 * bytes / t_table / 1e9, // read + write
            t_fly * 1e6,
            2.0 * bytes / t_fly / 1e9,
        );
    }
}

fn main() {
    println!(
        "rope-simd: Llama-3-8B layer RoPE (Q {Q_HEADS} heads, K {KV_HEADS} heads, head_dim {HEAD_DIM}, \
         theta {THETA}); best backend on this machine: {}",
        Backend::detect().name()
    );
    println!("(GB/s counts bytes read + written; error is against an f64 reference, in units of the values)");
    step::<f32>("prefill", 512, 0, 21);
    step::<f16>("prefill", 512, 0, 21);
    step::<bf16>("prefill", 512, 0, 21);
    step::<f32>("decode", 1, 4096, 2001);
    step::<f16>("decode", 1, 4096, 2001);
    step::<bf16>("decode", 1, 4096, 2001);
    step::<f32>("decode", 1, 500_000, 2001);
}
