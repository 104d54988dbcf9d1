//! Criterion benches, organised by the user's question: how long does a decode step / a
//! prefill of one Llama-shaped layer take (Q with 32 heads and K with 8, rotated together),
//! per head size, dtype, backend, pair layout and sin/cos source, next to two baselines
//! measured in the same group and run:
//!
//! - `naive/<layout>`: the loop a user writes by hand (scalar, cos/sin from the same table,
//!   `half` conversions per element for 16-bit types);
//! - `memory`: an in-place pass `x *= c` over the same number of bytes (the roof);
//! - `memory16` (f16 and bf16, x86_64): `x *= c` over the 16-bit buffer itself, with the
//!   widest conversions the CPU has, AVX-512 or AVX2 + F16C (the roof of a 16-bit pass;
//!   `common/roof16.rs`).
//!
//! Groups are `<phase>/<dtype>/hd<head_dim>` with phase `decode` (1 token at position
//! 4095), `prefill512` or `prefill4096` (positions from 0); ids are `memory`,
//! `naive/<layout>`, `table/<backend>/<layout>` (every backend on this CPU),
//! `compact/<best>/<layout>` and `fly/<best>/<layout>` (the compact table and on-the-fly
//! sources, best backend). Throughput is bytes of Q and K (each read and written once);
//! `scripts/bench_report.py` also reports elements per second and writes BENCHMARKS.md.
//!
//! Also: `fused_f32_to_f16/prefill4096` (rotate into an f16 cache vs rotate then convert),
//! `into/<source>_to_<destination>/hd<head_dim>` (out of place through f32 rows),
//! `misaligned/hd<head_dim>/<layout>` (rows off a cache line, the aligned run's case),
//! `table_build/131072`, and with `--features rayon`, `parallel/prefill4096/<dtype>/hd128`
//! (`par_apply` on 1 and 2 threads).
//!
//! `cargo bench -p rope-simd-benches --features rayon --bench rope` (everything, ~12 min here), or a filter such as
//! `cargo bench -p rope-simd-benches --bench rope -- decode/f32/hd128`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rope_simd::{
    bf16, f16, Backend, CosSinTable, Direction, Element, Heads, KvCache, PairLayout, Positions,
    Rope, Rotate, View,
};

const Q_HEADS: usize = 32;
const KV_HEADS: usize = 8;
const HEAD_DIMS: [usize; 3] = [64, 128, 256];
const LAYOUTS: [(PairLayout, &str); 2] = [
    (PairLayout::HalfSplit, "half_split"),
    (PairLayout::Interleaved, "interleaved"),
];

fn rope(head_dim: usize, layout: PairLayout, backend: Backend) -> Rope {
    Rope::builder(head_dim)
        .base(500_000.0)
        .layout(layout)
        .backend(backend)
        .build()
        .unwrap()
}

/// A user's own conversions: `half`'s for 16-bit values (the crate has its own, faster
/// scalar ones, with the same bits).
trait ByHand: Element {
    fn widen(self) -> f32;
    fn round(v: f32) -> Self;
}

impl ByHand for f32 {
    fn widen(self) -> f32 {
        self
    }
    fn round(v: f32) -> Self {
        v
    }
}

macro_rules! by_half {
    ($t:ty) => {
        impl ByHand for $t {
            fn widen(self) -> f32 {
                <$t>::to_f32(self) // half's inherent method
            }
            fn round(v: f32) -> Self {
                <$t>::from_f32(v)
            }
        }
    };
}
by_half!(f16);
by_half!(bf16);

/// What a user writes by hand: cos/sin from a table, f32 arithmetic, one element at a time,
/// `half`'s conversions.
fn naive<E: ByHand>(
    x: &mut [E],
    heads: usize,
    head_dim: usize,
    layout: PairLayout,
    table: &CosSinTable<Vec<f32>>,
    start: usize,
) {
    let half = head_dim / 2;
    for (t, token) in x.chunks_exact_mut(heads * head_dim).enumerate() {
        let (cos, sin) = table.cos_sin(start + t).unwrap();
        for head in token.chunks_exact_mut(head_dim) {
            for i in 0..half {
                // The benches time the two plain layouts.
                let (ia, ib) = match layout {
                    PairLayout::Interleaved => (2 * i, 2 * i + 1),
                    _ => (i, i + half),
                };
                let (a, b) = (head[ia].widen(), head[ib].widen());
                head[ia] = E::round(a * cos[i] - b * sin[i]);
                head[ib] = E::round(b * cos[i] + a * sin[i]);
            }
        }
    }
}

fn data<E: Element>(n: usize) -> Vec<E> {
    (0..n)
        .map(|i| E::from_f32((i % 97) as f32 * 0.01 - 0.5))
        .collect()
}

fn group<E: ByHand>(c: &mut Criterion, phase: &str, tokens: usize, start: usize, hd: usize) {
    let (nq, nk) = (tokens * Q_HEADS * hd, tokens * KV_HEADS * hd);
    let bytes = (nq + nk) * std::mem::size_of::<E>();
    let mut g = c.benchmark_group(format!("{phase}/{}/hd{hd}", E::NAME));
    g.throughput(Throughput::Bytes(bytes as u64));
    let (mut q, mut k) = (data::<E>(nq), data::<E>(nk));
    let pos = Positions::Start(start as u64);

    let mut roof = vec![0.5f32; bytes / 4];
    g.bench_function("memory", |b| {
        b.iter(|| {
            for v in roof.iter_mut() {
                *v *= 1.000_001;
            }
            black_box(&mut roof);
        })
    });
    #[cfg(target_arch = "x86_64")]
    if let Some(pass) = roof16_pass::<E>() {
        let mut roof16: Vec<E> = data(nq + nk);
        g.bench_function("memory16", |b| {
            b.iter(|| scale16(pass, black_box(&mut roof16)))
        });
    }
    let best = Backend::detect();
    for (layout, lname) in LAYOUTS {
        let table = rope(hd, layout, best).table(start + tokens).unwrap();
        g.bench_function(BenchmarkId::new("naive", lname), |b| {
            b.iter(|| {
                naive(black_box(&mut q), Q_HEADS, hd, layout, &table, start);
                naive(black_box(&mut k), KV_HEADS, hd, layout, &table, start);
            })
        });
        for backend in Backend::available() {
            let t = rope(hd, layout, backend).table(start + tokens).unwrap();
            let id = format!("table/{}/{lname}", backend.name());
            g.bench_function(id, |b| {
                b.iter(|| {
                    t.rotate_qk(black_box(&mut q), Q_HEADS, &mut k, KV_HEADS, pos)
                        .unwrap()
                })
            });
        }
        let r = rope(hd, layout, best);
        let compact = r.compact_table(start + tokens).unwrap();
        g.bench_function(format!("compact/{}/{lname}", best.name()), |b| {
            b.iter(|| {
                compact
                    .rotate_qk(black_box(&mut q), Q_HEADS, &mut k, KV_HEADS, pos)
                    .unwrap()
            })
        });
        g.bench_function(format!("fly/{}/{lname}", best.name()), |b| {
            b.iter(|| {
                r.rotate_qk(black_box(&mut q), Q_HEADS, &mut k, KV_HEADS, pos)
                    .unwrap()
            })
        });
    }
    g.finish();
}

#[cfg(target_arch = "x86_64")]
#[path = "common/roof16.rs"]
mod roof16;

/// The second roof for 16-bit buffers, `memory16`: `x *= c` in place over the 16-bit
/// buffer itself (not the f32 pass over the same bytes that `memory` is), with the widest
/// of the passes in `common/roof16.rs` this CPU has (AVX-512, else AVX2 + F16C): the
/// least work an in-place 16-bit pass computing in f32 does. `None` for f32. (Off x86_64
/// there is no `memory16`.)
#[cfg(target_arch = "x86_64")]
fn roof16_pass<E: Element>() -> Option<fn(&mut [u16])> {
    if E::NAME == "f32" {
        return None;
    }
    roof16::widest(E::NAME == "f16")
}

/// `pass` (from [`roof16_pass`]) over the f16 or bf16 values `x`, and the values after
/// its last whole block.
#[cfg(target_arch = "x86_64")]
fn scale16<E: Element>(pass: fn(&mut [u16]), x: &mut [E]) {
    assert_ne!(E::NAME, "f32");
    // SAFETY: E is f16 or bf16 (asserted), both a transparent u16.
    let bits = unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<u16>(), x.len()) };
    pass(bits);
    let body = x.len() / 32 * 32;
    for v in &mut x[body..] {
        *v = E::from_f32(v.to_f32() * roof16::C);
    }
}

fn phases<E: ByHand>(c: &mut Criterion) {
    for hd in HEAD_DIMS {
        group::<E>(c, "decode", 1, 4095, hd);
        group::<E>(c, "prefill512", 512, 0, hd);
        group::<E>(c, "prefill4096", 4096, 0, hd);
    }
}

fn f32s(c: &mut Criterion) {
    phases::<f32>(c);
}
fn f16s(c: &mut Criterion) {
    phases::<f16>(c);
}
fn bf16s(c: &mut Criterion) {
    phases::<bf16>(c);
}

/// f32 activations into an f16 cache, 4096-token prefill, head_dim 128, 32 heads: fused
/// rotate-into (reads 4 and writes 2 bytes per element) against rotating in place and
/// then converting (4+4, then 4+2), both with the best backend and a table.
fn fused(c: &mut Criterion) {
    let (tokens, heads, hd) = (4096, Q_HEADS, 128);
    let n = tokens * heads * hd;
    let mut g = c.benchmark_group("fused_f32_to_f16/prefill4096");
    g.throughput(Throughput::Bytes((n * 4) as u64));
    let table = rope(hd, PairLayout::HalfSplit, Backend::detect())
        .table(tokens)
        .unwrap();
    let mut x: Vec<f32> = data(n);
    let mut cache = vec![f16::ZERO; n];
    let shape = View::tokens_heads(heads);
    let slot = View::tokens_heads(heads).at(0);
    g.bench_function("rotate_then_convert", |b| {
        b.iter(|| {
            table
                .rotate(black_box(&mut x), heads, Positions::Start(0))
                .unwrap();
            // Position 0 is the identity: a pure SIMD conversion pass.
            table
                .rotate_into(&x, shape, &mut cache, slot, Positions::Same(0))
                .unwrap();
            black_box(&mut cache);
        })
    });
    g.bench_function("rotate_into", |b| {
        b.iter(|| {
            table
                .rotate_into(black_box(&x), shape, &mut cache, slot, Positions::Start(0))
                .unwrap();
            black_box(&mut cache);
        })
    });
    g.finish();
}

/// Out of place between the pairs that go through f32 rows (`src/backend/through_f32.rs`):
/// 64 tokens of 8 heads from a source into a cache slot, with the best backend and a
/// table; `into/<source>_to_<destination>/hd<head_dim>`, ids `table/<backend>/<layout>`.
fn into_pairs(c: &mut Criterion) {
    into_pair::<f16, f16>(c, "f16_to_f16");
    into_pair::<bf16, bf16>(c, "bf16_to_bf16");
    into_pair::<f16, f32>(c, "f16_to_f32");
    into_pair::<f32, f32>(c, "f32_to_f32");
}

/// [`into_pairs`] for one (source, destination) pair.
fn into_pair<S: Element, D: Element>(c: &mut Criterion, pair: &str) {
    let (tokens, heads) = (64, KV_HEADS);
    for hd in [64, 128] {
        let n = tokens * heads * hd;
        let mut g = c.benchmark_group(format!("into/{pair}/hd{hd}"));
        g.throughput(Throughput::Bytes(
            (n * (std::mem::size_of::<S>() + std::mem::size_of::<D>())) as u64,
        ));
        let src: Vec<S> = data(n);
        let mut cache = vec![D::from_f32(0.0); 2 * n];
        let shape = View::tokens_heads(heads);
        let slot = View::tokens_heads(heads).at(tokens);
        for (layout, name) in LAYOUTS {
            let best = Backend::detect();
            let table = rope(hd, layout, best).table(4096).unwrap();
            let id = format!("table/{}/{name}", best.name());
            g.bench_function(id, |b| {
                b.iter(|| {
                    table
                        .rotate_into(
                            black_box(&src),
                            shape,
                            &mut cache,
                            slot,
                            Positions::Start(64),
                        )
                        .unwrap();
                    black_box(&mut cache);
                })
            });
        }
        g.finish();
    }
}

/// The decode step of 32 query and 8 KV heads of 128, f32 activations into an f16 cache:
/// its three steps (rotate Q in place, rotate K into the cache, then V converted by a
/// hand-written loop, or by the crate's own conversion, `rotate_into` at the identity)
/// against `rotate_decode`, from a table and on the fly; `rotate_qk` (Q and K in place, no
/// cache) is the reference.
fn decode_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_step/f32_to_f16/hd128");
    let fly = rope(128, PairLayout::HalfSplit, Backend::detect());
    let table = fly.table(4096).unwrap();
    decode_sources(&mut g, "table", &table);
    decode_sources(&mut g, "fly", &fly);
    let (mut q, mut k): (Vec<f32>, Vec<f32>) = (data(Q_HEADS * 128), data(KV_HEADS * 128));
    g.bench_function("rotate_qk/table", |b| {
        b.iter(|| {
            table
                .rotate_qk(
                    black_box(&mut q),
                    Q_HEADS,
                    &mut k,
                    KV_HEADS,
                    Positions::Start(4095),
                )
                .unwrap()
        })
    });
    g.finish();
}

/// [`decode_step`]'s three versions with one sin/cos source.
fn decode_sources<R: Rotate>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    src: &R,
) {
    let (hd, pos) = (128, 4095);
    let mut q: Vec<f32> = data(Q_HEADS * hd);
    let (k, v): (Vec<f32>, Vec<f32>) = (data(KV_HEADS * hd), data(KV_HEADS * hd));
    let size = 4096 * KV_HEADS * hd;
    let (mut k_cache, mut v_cache) = (vec![f16::ZERO; size], vec![f16::ZERO; size]);
    let slot = View::tokens_heads(KV_HEADS).at(pos);
    let (at, shape) = (Positions::Start(pos as u64), View::tokens_heads(KV_HEADS));
    for simd_copy in [false, true] {
        let id = if simd_copy {
            "three_steps_simd_copy"
        } else {
            "three_steps"
        };
        g.bench_function(format!("{id}/{name}"), |b| {
            b.iter(|| {
                src.rotate(black_box(&mut q), Q_HEADS, at).unwrap();
                src.apply_into(&k, shape, &mut k_cache, slot, at, Direction::Forward)
                    .unwrap();
                if simd_copy {
                    let same = Positions::Same(0);
                    src.apply_into(&v, shape, &mut v_cache, slot, same, Direction::Forward)
                        .unwrap();
                } else {
                    let row = pos * KV_HEADS * hd;
                    for (d, s) in v_cache[row..row + v.len()].iter_mut().zip(&v) {
                        *d = f16::from_f32(*s);
                    }
                }
            })
        });
    }
    g.bench_function(format!("rotate_decode/{name}"), |b| {
        b.iter(|| {
            let cache = KvCache {
                k: &mut k_cache,
                v: &mut v_cache,
                view: slot,
            };
            let heads = Heads {
                q: Q_HEADS,
                kv: KV_HEADS,
            };
            src.rotate_decode(black_box(&mut q), &k, &v, heads, cache, at)
                .unwrap()
        })
    });
}

/// Building each kind of table for 131072 positions (head_dim 128).
fn table_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("table_build/131072");
    g.sample_size(10);
    let r = rope(128, PairLayout::HalfSplit, Backend::detect());
    g.bench_function("full", |b| b.iter(|| black_box(r.table(131_072).unwrap())));
    g.bench_function("compact", |b| {
        b.iter(|| black_box(r.compact_table(131_072).unwrap()))
    });
    g.finish();
}

/// `par_apply` of a 4096-token prefill (Q and K) on rayon pools of 1 and 2 threads.
#[cfg(feature = "rayon")]
fn parallel(c: &mut Criterion) {
    fn one<E: Element + Send>(c: &mut Criterion) {
        let (tokens, hd) = (4096, 128);
        let (nq, nk) = (tokens * Q_HEADS * hd, tokens * KV_HEADS * hd);
        let bytes = (nq + nk) * std::mem::size_of::<E>();
        let mut g = c.benchmark_group(format!("parallel/prefill4096/{}/hd{hd}", E::NAME));
        g.throughput(Throughput::Bytes(bytes as u64));
        let (mut q, mut k) = (data::<E>(nq), data::<E>(nk));
        let table = rope(hd, PairLayout::HalfSplit, Backend::detect())
            .table(tokens)
            .unwrap();
        let mut roof = vec![0.5f32; bytes / 4];
        g.bench_function("memory", |b| {
            b.iter(|| {
                for v in roof.iter_mut() {
                    *v *= 1.000_001;
                }
                black_box(&mut roof);
            })
        });
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            g.bench_function(BenchmarkId::new("threads", threads), |b| {
                b.iter(|| {
                    pool.install(|| {
                        let f = Direction::Forward;
                        let p = Positions::Start(0);
                        table
                            .par_apply(black_box(&mut q), View::tokens_heads(Q_HEADS), p, f)
                            .unwrap();
                        table
                            .par_apply(&mut k, View::tokens_heads(KV_HEADS), p, f)
                            .unwrap();
                    })
                })
            });
        }
        g.finish();
    }
    one::<f32>(c);
    one::<f16>(c);
    one::<bf16>(c);
}
#[cfg(not(feature = "rayon"))]
fn parallel(_: &mut Criterion) {}

/// `misaligned/hd<head_dim>/<layout>`: f32 rows 16 bytes past a 64-byte line (what the
/// aligned run is for, on AVX2 and AVX-512) against the same rows on a line, the best
/// backend, a table: a decode step of 2, 8 and 32 heads (the K of small and large GQA
/// models, a Q) and 64 tokens of 2, 4, 8 and 32 heads (a prefill). Ids
/// `<tokens>x<heads>/aligned` and `/off16`.
fn misaligned(c: &mut Criterion) {
    for hd in [64, 128] {
        for (layout, lname) in LAYOUTS {
            let mut g = c.benchmark_group(format!("misaligned/hd{hd}/{lname}"));
            let table = rope(hd, layout, Backend::detect()).table(4096).unwrap();
            for (tokens, heads) in [(1, 2), (1, 8), (1, 32), (64, 2), (64, 4), (64, 8), (64, 32)] {
                let n = tokens * heads * hd;
                let mut buf: Vec<f32> = data(n + 32);
                let line = buf.as_ptr().align_offset(64);
                let pos = Positions::Start(4096 - tokens as u64);
                g.throughput(Throughput::Bytes(4 * n as u64));
                for (name, at) in [("aligned", line), ("off16", line + 4)] {
                    let x = &mut buf[at..at + n];
                    g.bench_function(format!("{tokens}x{heads}/{name}"), |b| {
                        b.iter(|| table.rotate(black_box(&mut *x), heads, pos).unwrap())
                    });
                }
            }
            g.finish();
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! { name = benches; config = config(); targets = f32s, f16s, bf16s, fused, into_pairs, decode_step, misaligned, table_build, parallel }
criterion_main!(benches);
