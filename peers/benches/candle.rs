//! rope-simd against candle-nn's CPU rope kernels, on the shapes of `benches/rope.rs`
//! (Q with 32 heads and K with 8, head_dim 64/128/256; decode at position 4095, prefill of
//! 512 and 4096 tokens), f32, f16 and bf16, measured in the same run.
//!
//! Group `peers/<phase>/<dtype>/hd<head_dim>`; ids:
//! - `candle/rope_thd/1thread`: `candle_nn::rotary_emb::rope_thd`, `[1, tokens, heads, dim]`
//!   half-split (candle parallelises it over the batch only, so it is single-threaded here);
//! - `candle/rope/1thread`, `candle/rope/all_threads`: `rope`, `[1, heads, tokens, dim]`
//!   half-split, parallel over heads with rayon;
//! - `candle/rope_i/1thread`: `rope_i`, `[1, heads, tokens, dim]` interleaved;
//! - `rope_simd/tokens_heads/1thread`, `rope_simd/heads_tokens/1thread`,
//!   `rope_simd/interleaved/1thread` (heads-tokens, interleaved) and
//!   `rope_simd/tokens_heads/all_threads` (`par_apply`): the same work with a cos/sin table
//!   and the best backend.
//!
//! candle's ops are out of place (each call allocates its output tensor) and take cos/sin
//! in the activations' dtype; ours rotate in place with f32 cos/sin. "1thread" runs inside
//! a one-thread rayon pool, "all_threads" in one with every core.
//!
//! `cargo bench -p rope-simd-peers` (about 11 minutes here); then
//! `python3 scripts/bench_report.py` puts the figures into BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rope_simd::{
    bf16, f16, Backend, Direction, Element, PairLayout, Positions, Rope, Rotate, View,
};

const Q_HEADS: usize = 32;
const KV_HEADS: usize = 8;

trait Dt: Element + Send {
    const DTYPE: DType;
}
impl Dt for f32 {
    const DTYPE: DType = DType::F32;
}
impl Dt for f16 {
    const DTYPE: DType = DType::F16;
}
impl Dt for bf16 {
    const DTYPE: DType = DType::BF16;
}

fn data(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i % 97) as f32 * 0.01 - 0.5).collect()
}

fn pools() -> [(rayon::ThreadPool, &'static str); 2] {
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    [
        (pool(1), "1thread"),
        (
            pool(std::thread::available_parallelism().map_or(1, |n| n.get())),
            "all_threads",
        ),
    ]
}

fn group<E: Dt>(c: &mut Criterion, phase: &str, tokens: usize, start: usize, hd: usize) {
    let (nq, nk) = (tokens * Q_HEADS * hd, tokens * KV_HEADS * hd);
    let bytes = (nq + nk) * std::mem::size_of::<E>();
    let mut g = c.benchmark_group(format!("peers/{phase}/{}/hd{hd}", E::NAME));
    g.throughput(Throughput::Bytes(bytes as u64));
    let [(one, one_name), (all, all_name)] = pools();
    let dev = Device::Cpu;

    // candle: cos/sin [tokens, hd/2] for positions start.., in the activations' dtype.
    let half_split = Rope::builder(hd)
        .base(500_000.0)
        .layout(PairLayout::HalfSplit)
        .build()
        .unwrap();
    let table = half_split.table(start + tokens).unwrap();
    let (mut cos, mut sin) = (Vec::new(), Vec::new());
    for p in start..start + tokens {
        let (c, s) = table.cos_sin(p).unwrap();
        cos.extend_from_slice(c);
        sin.extend_from_slice(s);
    }
    let cs = |v: Vec<f32>| {
        Tensor::from_vec(v, (tokens, hd / 2), &dev)
            .unwrap()
            .to_dtype(E::DTYPE)
            .unwrap()
    };
    let (cos_t, sin_t) = (cs(cos), cs(sin));
    let x = |heads: usize, thd: bool| {
        let shape = if thd {
            (1, tokens, heads, hd)
        } else {
            (1, heads, tokens, hd)
        };
        Tensor::from_vec(data(tokens * heads * hd), shape, &dev)
            .unwrap()
            .to_dtype(E::DTYPE)
            .unwrap()
    };
    let (q_thd, k_thd) = (x(Q_HEADS, true), x(KV_HEADS, true));
    let (q_bhtd, k_bhtd) = (x(Q_HEADS, false), x(KV_HEADS, false));
    use candle_nn::rotary_emb::{rope, rope_i, rope_thd};
    g.bench_function(format!("candle/rope_thd/{one_name}"), |b| {
        one.install(|| {
            b.iter(|| {
                black_box(rope_thd(&q_thd, &cos_t, &sin_t).unwrap());
                black_box(rope_thd(&k_thd, &cos_t, &sin_t).unwrap());
            })
        })
    });
    for (pool, name) in [(&one, one_name), (&all, all_name)] {
        g.bench_function(format!("candle/rope/{name}"), |b| {
            pool.install(|| {
                b.iter(|| {
                    black_box(rope(&q_bhtd, &cos_t, &sin_t).unwrap());
                    black_box(rope(&k_bhtd, &cos_t, &sin_t).unwrap());
                })
            })
        });
    }
    g.bench_function(format!("candle/rope_i/{one_name}"), |b| {
        one.install(|| {
            b.iter(|| {
                black_box(rope_i(&q_bhtd, &cos_t, &sin_t).unwrap());
                black_box(rope_i(&k_bhtd, &cos_t, &sin_t).unwrap());
            })
        })
    });

    // rope-simd: in place, same shapes, cos/sin table, best backend.
    let (mut q, mut k): (Vec<E>, Vec<E>) = (
        data(nq).into_iter().map(E::from_f32).collect(),
        data(nk).into_iter().map(E::from_f32).collect(),
    );
    let pos = Positions::Start(start as u64);
    let f = Direction::Forward;
    let interleaved = Rope::builder(hd)
        .base(500_000.0)
        .layout(PairLayout::Interleaved)
        .build()
        .unwrap()
        .table(start + tokens)
        .unwrap();
    assert_eq!(half_split.backend(), Backend::detect());
    let by_head = (View::heads_tokens(Q_HEADS), View::heads_tokens(KV_HEADS));
    for (t, (sq, sk), id) in [
        (
            &table,
            (View::tokens_heads(Q_HEADS), View::tokens_heads(KV_HEADS)),
            "tokens_heads",
        ),
        (&table, by_head, "heads_tokens"),
        (&interleaved, by_head, "interleaved"),
    ] {
        g.bench_function(format!("rope_simd/{id}/{one_name}"), |b| {
            b.iter(|| {
                t.apply_qk(black_box(&mut q), sq, &mut k, sk, pos, f)
                    .unwrap()
            })
        });
    }
    g.bench_function(format!("rope_simd/tokens_heads/{all_name}"), |b| {
        all.install(|| {
            b.iter(|| {
                table
                    .par_apply(black_box(&mut q), View::tokens_heads(Q_HEADS), pos, f)
                    .unwrap();
                table
                    .par_apply(&mut k, View::tokens_heads(KV_HEADS), pos, f)
                    .unwrap();
            })
        })
    });
    g.finish();
}

fn all_groups<E: Dt>(c: &mut Criterion) {
    for hd in [64, 128, 256] {
        group::<E>(c, "decode", 1, 4095, hd);
        group::<E>(c, "prefill512", 512, 0, hd);
        group::<E>(c, "prefill4096", 4096, 0, hd);
    }
}

fn f32s(c: &mut Criterion) {
    all_groups::<f32>(c);
}
fn f16s(c: &mut Criterion) {
    all_groups::<f16>(c);
}
fn bf16s(c: &mut Criterion) {
    all_groups::<bf16>(c);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! { name = benches; config = config(); targets = f32s, f16s, bf16s }
criterion_main!(benches);
