//! Calls every in-place and out-of-place rotation entry point once, for each element
//! type and each (source, destination) pair: the program `scripts/sizes.sh` measures for
//! the code size a Rust user pays for the whole kernel surface (the rope-simd functions
//! in its release build).
//!
//! ```text
//! cargo run --release --example every_entry
//! ```

use std::hint::black_box;

use rope_simd::{
    bf16, f16, Direction, Element, PairLayout, Positions, Rope, RopeError, Rotate, View,
};

const HEADS: usize = 8;
const HEAD_DIM: usize = 128;

fn in_place<E: Element>(rope: &Rope) -> Result<f32, RopeError> {
    let mut x = vec![E::from_f32(0.5); black_box(HEADS * HEAD_DIM)];
    rope.rotate(&mut x, HEADS, Positions::Start(black_box(7)))?;
    Ok(x[1].to_f32())
}

fn into<S: Element, D: Element>(rope: &Rope) -> Result<f32, RopeError> {
    let src = vec![S::from_f32(0.5); black_box(HEADS * HEAD_DIM)];
    let mut cache = vec![D::from_f32(0.0); 4 * HEADS * HEAD_DIM];
    let slot = View::tokens_heads(HEADS).at(black_box(2));
    let shape = View::tokens_heads(HEADS);
    let pos = Positions::Start(black_box(7));
    rope.apply_into(&src, shape, &mut cache, slot, pos, Direction::Forward)?;
    Ok(cache[2 * HEADS * HEAD_DIM + 1].to_f32())
}

fn into_all<S: Element>(rope: &Rope) -> Result<f32, RopeError> {
    Ok(into::<S, f32>(rope)? + into::<S, f16>(rope)? + into::<S, bf16>(rope)?)
}

fn main() -> Result<(), RopeError> {
    let rope = Rope::new(HEAD_DIM, 500_000.0, PairLayout::HalfSplit)?;
    let sum = in_place::<f32>(&rope)?
        + in_place::<f16>(&rope)?
        + in_place::<bf16>(&rope)?
        + into_all::<f32>(&rope)?
        + into_all::<f16>(&rope)?
        + into_all::<bf16>(&rope)?;
    println!("every entry point on {}: {sum}", rope.backend());
    Ok(())
}
