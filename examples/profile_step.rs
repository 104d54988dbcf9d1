//! One Llama decode step (Q 32 heads + K 8 heads, head_dim 128) repeated `iters` times, for
//! instruction counting under callgrind (`scripts/profile.sh`; valgrind has no counters to
//! sample here and `perf stat` is not supported on this VM).
//!
//! ```text
//! profile_step <memory|rope|naive> <f32|f16|bf16> <iters> [backend]
//! ```
//!
//! `memory` is the roof pass of the benches (`x *= c` over the same bytes), `rope` our
//! `rotate_qk` with a table, `naive` the hand-written loop. The backend defaults to the
//! best this CPU (or emulator) runs.

use std::hint::black_box;

use rope_simd::{bf16, f16, Backend, CosSinTable, Element, PairLayout, Positions, Rope, Rotate};

const Q_HEADS: usize = 32;
const KV_HEADS: usize = 8;
const HEAD_DIM: usize = 128;
const POSITION: usize = 4095;

fn naive<E: Element>(x: &mut [E], table: &CosSinTable<Vec<f32>>) {
    let half = HEAD_DIM / 2;
    let (cos, sin) = table.cos_sin(POSITION).unwrap();
    for head in x.chunks_exact_mut(HEAD_DIM) {
        for i in 0..half {
            let (a, b) = (head[i].to_f32(), head[i + half].to_f32());
            head[i] = E::from_f32(a * cos[i] - b * sin[i]);
            head[i + half] = E::from_f32(b * cos[i] + a * sin[i]);
        }
    }
}

fn run<E: Element>(what: &str, iters: usize, backend: Backend) {
    let rope = Rope::builder(HEAD_DIM)
        .base(500_000.0)
        .layout(PairLayout::HalfSplit)
        .backend(backend)
        .build()
        .unwrap();
    let table = rope.table(POSITION + 1).unwrap();
    let (nq, nk) = (Q_HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM);
    let mut q: Vec<E> = (0..nq).map(|i| E::from_f32(i as f32 * 1e-3)).collect();
    let mut k: Vec<E> = (0..nk).map(|i| E::from_f32(i as f32 * 1e-3)).collect();
    let mut roof = vec![0.5f32; (nq + nk) * std::mem::size_of::<E>() / 4];
    for _ in 0..iters {
        match what {
            "memory" => {
                for v in roof.iter_mut() {
                    *v *= 1.000_001;
                }
                black_box(&mut roof);
            }
            "rope" => table
                .rotate_qk(
                    black_box(&mut q),
                    Q_HEADS,
                    &mut k,
                    KV_HEADS,
                    Positions::Start(POSITION as u64),
                )
                .unwrap(),
            "naive" => {
                naive(black_box(&mut q), &table);
                naive(black_box(&mut k), &table);
            }
            other => panic!("unknown kind {other}"),
        }
    }
    black_box((&q, &k, &roof));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: profile_step <memory|rope|naive> <f32|f16|bf16> <iters> [backend]");
        std::process::exit(2);
    }
    let iters: usize = args[3].parse().expect("iters");
    let backend = match args.get(4).map(String::as_str) {
        None => Backend::detect(),
        Some(name) => Backend::available()
            .find(|b| b.name() == name)
            .unwrap_or_else(|| panic!("backend {name} not available here")),
    };
    match args[2].as_str() {
        "f32" => run::<f32>(&args[1], iters, backend),
        "f16" => run::<f16>(&args[1], iters, backend),
        "bf16" => run::<bf16>(&args[1], iters, backend),
        other => panic!("unknown dtype {other}"),
    }
    println!("{}", backend.name());
}
