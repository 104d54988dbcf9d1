//! A 512-token prefill (32 heads x 128, half-split, from a table) in f32, f16 and bf16:
//! medians of 11 runs each, in microseconds. Native, or in WebAssembly without the
//! JavaScript layer (how `docs/design.md` compares the dtypes' kernels under V8):
//!
//! ```text
//! cargo run --release --example dtype_speed
//! RUSTFLAGS="-C target-feature=+simd128" cargo build --release --example dtype_speed \
//!     --target wasm32-wasip1
//! node --no-warnings .ci/wasi-run.mjs target/wasm32-wasip1/release/examples/dtype_speed.wasm
//! ```

use std::time::Instant;

use rope_simd::{bf16, f16, Element, PairLayout, Positions, Rope, Rotate};

fn median<E: Element>(x: &mut [E], table: &impl Rotate) -> f64 {
    let mut times: Vec<f64> = (0..11)
        .map(|_| {
            let t = Instant::now();
            table.rotate(x, 32, Positions::Start(0)).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[5]
}

fn main() {
    let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit).unwrap();
    let table = rope.table(512).unwrap();
    let values: Vec<f32> = (0..512 * 32 * 128)
        .map(|i| (i as f32 * 0.37).sin())
        .collect();
    let mut f = values.clone();
    let mut h: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
    let mut b: Vec<bf16> = values.iter().map(|&v| bf16::from_f32(v)).collect();
    let (tf, th, tb) = (
        median(&mut f, &table),
        median(&mut h, &table),
        median(&mut b, &table),
    );
    println!(
        "512-token prefill on {}: f32 {tf:.0} us, f16 {th:.0} us, bf16 {tb:.0} us",
        rope.backend()
    );
}
