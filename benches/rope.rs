//! Criterion benches, organised by the user's question: how long does a decode step / a
//! prefill take, per backend and dtype, next to two baselines measured in the same run:
//!
//! - `naive`: the loop a user writes by hand (scalar, cos/sin from the same table,
//!   `half` conversions per element for 16-bit types);
//! - `memory`: an in-place pass `x *= c` over the same number of bytes (the roof).
//!
//! Throughput is the buffer's bytes (each is read and written once).
//!
//! `cargo bench --bench rope` (all), or e.g. `cargo bench --bench rope -- decode/f32`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rope_simd::{
    bf16, f16, Backend, CosSinTable, Direction, Element, PairLayout, Positions, Rope, Rotate,
    Shape, Slot,
};

const HEADS: usize = 32;
const HEAD_DIM: usize = 128;

fn rope(backend: Backend) -> Rope {
    Rope::builder(HEAD_DIM)
        .base(500_000.0)
        .layout(PairLayout::HalfSplit)
        .backend(backend)
        .build()
        .unwrap()
}

/// What a user writes by hand: half-split pairs, cos/sin from a table, f32 arithmetic.
fn naive<E: Element>(x: &mut [E], table: &CosSinTable<Vec<f32>>, start: usize) {
    let half = HEAD_DIM / 2;
    for (t, token) in x.chunks_exact_mut(HEADS * HEAD_DIM).enumerate() {
        let (cos, sin) = table.cos_sin(start + t).unwrap();
        for head in token.chunks_exact_mut(HEAD_DIM) {
            for i in 0..half {
                let (a, b) = (head[i].to_f32(), head[i + half].to_f32());
                head[i] = E::from_f32(a * cos[i] - b * sin[i]);
                head[i + half] = E::from_f32(b * cos[i] + a * sin[i]);
            }
        }
    }
}

fn group<E: Element>(c: &mut Criterion, name: &str, tokens: usize, start: usize) {
    let n = tokens * HEADS * HEAD_DIM;
    let bytes = n * std::mem::size_of::<E>();
    let mut g = c.benchmark_group(format!("{name}/{}", E::NAME));
    g.throughput(Throughput::Bytes(bytes as u64));
    let best = rope(Backend::detect());
    let table = best.table(start + tokens).unwrap();
    let mut x: Vec<E> = (0..n)
        .map(|i| E::from_f32((i % 97) as f32 * 0.01 - 0.5))
        .collect();

    let mut roof = vec![0.5f32; bytes / 4];
    g.bench_function("memory", |b| {
        b.iter(|| {
            for v in roof.iter_mut() {
                *v *= 1.000_001;
            }
            black_box(&mut roof);
        })
    });
    g.bench_function("naive", |b| {
        b.iter(|| naive(black_box(&mut x), &table, start))
    });
    for backend in Backend::available() {
        let r = rope(backend);
        let t = r.table(start + tokens).unwrap();
        g.bench_function(BenchmarkId::new("table", backend.name()), |b| {
            b.iter(|| {
                t.rotate(black_box(&mut x), HEADS, Positions::Start(start as u64))
                    .unwrap()
            })
        });
    }
    let compact = best.compact_table(start + tokens).unwrap();
    g.bench_function(
        BenchmarkId::new("compact_table", best.backend().name()),
        |b| {
            b.iter(|| {
                compact
                    .rotate(black_box(&mut x), HEADS, Positions::Start(start as u64))
                    .unwrap()
            })
        },
    );
    g.bench_function(BenchmarkId::new("on_the_fly", best.backend().name()), |b| {
        b.iter(|| {
            best.rotate(black_box(&mut x), HEADS, Positions::Start(start as u64))
                .unwrap()
        })
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    group::<f32>(c, "decode", 1, 4096);
    group::<f16>(c, "decode", 1, 4096);
    group::<bf16>(c, "decode", 1, 4096);
}

fn prefill(c: &mut Criterion) {
    for tokens in [512, 4096] {
        let name = format!("prefill{tokens}");
        group::<f32>(c, &name, tokens, 0);
        group::<f16>(c, &name, tokens, 0);
        group::<bf16>(c, &name, tokens, 0);
    }
}

/// f32 activations into an f16 cache, 4096-token prefill: fused rotate-into (reads 4 and
/// writes 2 bytes per element) against rotating in place and then converting (4+4, then
/// 4+2), both with the best backend and a table.
fn fused(c: &mut Criterion) {
    let tokens = 4096;
    let n = tokens * HEADS * HEAD_DIM;
    let mut g = c.benchmark_group("fused_f32_to_f16/prefill4096");
    g.throughput(Throughput::Bytes((n * 4) as u64));
    let table = rope(Backend::detect()).table(tokens).unwrap();
    let mut x: Vec<f32> = (0..n).map(|i| (i % 97) as f32 * 0.01 - 0.5).collect();
    let mut cache = vec![f16::ZERO; n];
    let shape = Shape::tokens_heads(HEADS);
    let slot = Slot::tokens_heads(0, HEADS * HEAD_DIM, HEAD_DIM);
    g.bench_function("rotate_then_convert", |b| {
        b.iter(|| {
            table
                .rotate(black_box(&mut x), HEADS, Positions::Start(0))
                .unwrap();
            // Position 0 is the identity: a pure SIMD conversion pass.
            table
                .rotate_into(
                    &x,
                    shape,
                    &mut cache,
                    slot,
                    Positions::Same(0),
                    Direction::Forward,
                )
                .unwrap();
            black_box(&mut cache);
        })
    });
    g.bench_function("rotate_into", |b| {
        b.iter(|| {
            table
                .rotate_into(
                    black_box(&x),
                    shape,
                    &mut cache,
                    slot,
                    Positions::Start(0),
                    Direction::Forward,
                )
                .unwrap();
            black_box(&mut cache);
        })
    });
    g.finish();
}

/// Building each kind of table for 131072 positions (head_dim 128).
fn table_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("table_build/131072");
    g.sample_size(10);
    let r = rope(Backend::detect());
    g.bench_function("full", |b| b.iter(|| black_box(r.table(131_072).unwrap())));
    g.bench_function("compact", |b| {
        b.iter(|| black_box(r.compact_table(131_072).unwrap()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = decode, prefill, fused, table_build }
criterion_main!(benches);
