//! Signed positions (`Positions::Signed`, `Positions::Signed64`): ggml's int32 positions and
//! llama.cpp's cache shift with negative ones, signs mixed in one call, on every backend,
//! every dtype and every sin/cos source, against the float64 reference.

mod common;
use common::Order;

use common::{assert_close, assert_same_bits, backends, widen, Reference, Rng, TestElement};
use rope_simd::{
    bf16, f16, Direction, PairLayout, Positions, Rope, RopeError, Rotate, Scaling, View, Yarn,
};

const POSITIONS: [i64; 5] = [-70_000, 3, 0, -1, 1 << 40];

/// The float64 reference with each token's own sign: a negative position turns back at
/// the forward magnitude (the transpose of the rotation at `|p|`).
fn reference(r: &Reference<'_>, x: &[f64], heads: usize, positions: &[i64]) -> Vec<f64> {
    r.rotate_signed_at(
        x,
        heads,
        Order::TokensHeads,
        positions.len(),
        |t, _| positions[t].unsigned_abs(),
        |t| positions[t] < 0,
        false,
    )
}

fn mixed_signs<E: TestElement>() {
    let heads = 3;
    for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
        for backend in backends() {
            // A YaRN scale, so that the magnitude is checked to apply to negative positions too.
            let rope = Rope::builder(64)
                .layout(layout)
                .scaling(Scaling::Yarn(Yarn::new(4.0, 4096)))
                .backend(backend)
                .build()
                .unwrap();
            let x: Vec<E> = Rng(11).vec(POSITIONS.len() * heads * 64, 8.0);
            let mut y = x.clone();
            rope.rotate(&mut y, heads, Positions::Signed64(&POSITIONS))
                .unwrap();
            let r = Reference::of(&rope);
            let what = format!("{} {layout:?} {backend:?}", E::NAME);
            let want = reference(&r, &widen(&x), heads, &POSITIONS);
            // The reference's inverse uses the conjugate angle with the same scale; the
            // bound is per pair, as for any rotation.
            assert_close(&r, &x, &y, &want, &what);
            // 32-bit signed positions: the same bits.
            let small: Vec<i32> = POSITIONS[..4].iter().map(|&p| p as i32).collect();
            let n = small.len() * heads * 64;
            let mut y32 = x[..n].to_vec();
            rope.rotate(&mut y32, heads, Positions::Signed(&small))
                .unwrap();
            assert_same_bits(&y[..n], &y32, &format!("{what} i32"));
        }
    }
}

#[test]
fn mixed_signs_match_the_reference() {
    mixed_signs::<f32>();
    mixed_signs::<f16>();
    mixed_signs::<bf16>();
}

/// A token at `-p` is the token at `p` turned the other way at the same magnitude: the same
/// bits as the transpose, from the on-the-fly source and from a table (which holds only
/// `0..max_pos`).
#[test]
fn negative_is_the_transpose_at_the_magnitude() {
    let rope = Rope::builder(32).base(1e6).scale(1.25).build().unwrap();
    let table = rope.table(100).unwrap();
    let x: Vec<f32> = Rng(2).vec(4 * 2 * 32, 3.0);
    let mut want = x.clone();
    rope.apply(
        &mut want,
        View::tokens_heads(2),
        Positions::List(&[5, 99, 0, 42]),
        Direction::Transpose,
    )
    .unwrap();
    let mut y = x.clone();
    rope.rotate(&mut y, 2, Positions::Signed(&[-5, -99, 0, -42]))
        .unwrap();
    assert_same_bits(&want, &y, "on the fly");
    let mut y = x.clone();
    table
        .rotate(&mut y, 2, Positions::Signed(&[-5, -99, 0, -42]))
        .unwrap();
    assert_same_bits(&want, &y, "table");
    // Into a cache slot too.
    let mut cache = vec![f16::ZERO; x.len()];
    rope.rotate_into(
        &x,
        View::tokens_heads(2),
        &mut cache,
        View::tokens_heads(2).at(0),
        Positions::Signed(&[-5, -99, 0, -42]),
    )
    .unwrap();
    let want16: Vec<f16> = want.iter().map(|&v| f16::from_f32(v)).collect();
    assert_same_bits(&want16, &cache, "into an f16 cache");
}

/// llama.cpp shifts cached keys with negative positions; at scale 1 that is `Rope::shift`.
#[test]
fn a_cache_shift_by_signed_positions() {
    let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit).unwrap();
    let keys: Vec<f32> = Rng(4).vec(6 * 64, 2.0);
    let mut shifted = keys.clone();
    rope.shift(&mut shifted, View::tokens_heads(1), -28)
        .unwrap();
    let mut signed = keys.clone();
    rope.rotate(&mut signed, 1, Positions::Signed(&[-28; 6]))
        .unwrap();
    assert_same_bits(&shifted, &signed, "shift by -28");
}

/// Out-of-range magnitudes and a table too small for `|p|` are errors, buffers untouched.
#[test]
fn bad_signed_positions_are_errors() {
    let rope = Rope::new(8, 10_000.0, PairLayout::HalfSplit).unwrap();
    let x = vec![1.5f32; 2 * 8];
    let mut y = x.clone();
    assert_eq!(
        rope.rotate(&mut y, 1, Positions::Signed64(&[1, i64::MIN])),
        Err(RopeError::PositionTooLarge {
            position: i64::MIN.unsigned_abs()
        })
    );
    assert_eq!(
        rope.rotate(&mut y, 1, Positions::Signed64(&[-(1 << 53), 0])),
        Err(RopeError::PositionTooLarge { position: 1 << 53 })
    );
    let table = rope.table(10).unwrap();
    assert!(matches!(
        table.rotate(&mut y, 1, Positions::Signed(&[-10, 0])),
        Err(RopeError::PositionOutOfTable { position: 10, .. })
    ));
    assert!(matches!(
        rope.rotate(&mut y, 1, Positions::Signed(&[1])),
        Err(RopeError::BufferLength { .. })
    ));
    assert_eq!(x, y, "buffer untouched");
}

/// 64-bit multi-axis coordinates: the same bits as 32-bit ones, and the same checks.
#[test]
fn axes_64_bit_coordinates() {
    use rope_simd::Axes;
    let rope = Rope::builder(16)
        .axes(Axes::MRope([2, 3, 3]))
        .build()
        .unwrap();
    let x: Vec<f32> = Rng(5).vec(2 * 16, 2.0);
    let (mut a, mut b) = (x.clone(), x.clone());
    rope.rotate(&mut a, 1, Positions::Axes(&[4, 5, 6, 70_000, 0, 3]))
        .unwrap();
    rope.rotate(&mut b, 1, Positions::Axes64(&[4, 5, 6, 70_000, 0, 3]))
        .unwrap();
    assert_same_bits(&a, &b, "Axes64");
    let mut c = x.clone();
    assert_eq!(
        rope.rotate(&mut c, 1, Positions::Axes64(&[4, 5, 6, 1 << 53, 0, 3])),
        Err(RopeError::PositionTooLarge { position: 1 << 53 })
    );
    assert!(matches!(
        rope.rotate(&mut c, 1, Positions::Axes64(&[4, 5])),
        Err(RopeError::WrongLength { .. })
    ));
    assert_eq!(c, x, "untouched");
}
