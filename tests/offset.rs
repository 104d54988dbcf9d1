//! A channel offset (`RopeBuilder::channel_offset`, ggml's `n_offs`): the rotated channels
//! start past the first ones of each head. Checked against the same rotation without an
//! offset on the heads' middle channels (the backend sweeps check that one against the
//! float64 reference), in place and into a cache, every layout, every backend.

mod common;

use common::{assert_same_bits, backends, Rng};
use rope_simd::{bf16, f16, Backend, Direction, PairLayout, Positions, Rope, Rotate, View};

const HEAD: usize = 40;
const OFFSET: usize = 6;
const ROTARY: usize = 24;

fn build(layout: PairLayout, offset: usize, head_dim: usize, backend: Backend) -> Rope {
    Rope::builder(head_dim)
        .rotary_dim(ROTARY)
        .channel_offset(offset)
        .layout(layout)
        .base(500_000.0)
        .backend(backend)
        .build()
        .unwrap()
}

#[test]
fn offset_heads_match_unoffset_middles() {
    let positions = [0u32, 9, 100_000];
    let heads = 3;
    let layouts = [
        PairLayout::Interleaved,
        PairLayout::HalfSplit,
        PairLayout::InterleavedToHalfSplit,
    ];
    for layout in layouts {
        for backend in backends() {
            let rope = build(layout, OFFSET, HEAD, backend);
            let plain = build(layout, 0, ROTARY, backend);
            let n = positions.len() * heads * HEAD;
            let x: Vec<f32> = Rng(21).vec(n, 6.0);
            for direction in [Direction::Forward, Direction::Inverse] {
                let what = format!("{layout:?} {backend:?} {direction:?}");
                let shape = View::tokens_heads(heads);
                let at = Positions::List(&positions);
                let mut y = x.clone();
                rope.apply(&mut y, shape, at, direction).unwrap();
                // The middles alone, rotated without an offset.
                let mut mid: Vec<f32> = x
                    .chunks(HEAD)
                    .flat_map(|h| h[OFFSET..OFFSET + ROTARY].to_vec())
                    .collect();
                plain.apply(&mut mid, shape, at, direction).unwrap();
                for (r, (head, m)) in y.chunks(HEAD).zip(mid.chunks(ROTARY)).enumerate() {
                    let orig = &x[r * HEAD..][..HEAD];
                    assert_eq!(&head[..OFFSET], &orig[..OFFSET], "{what}: channels before");
                    assert_eq!(
                        &head[OFFSET + ROTARY..],
                        &orig[OFFSET + ROTARY..],
                        "{what}: channels after"
                    );
                    assert_same_bits(m, &head[OFFSET..OFFSET + ROTARY], &what);
                }
                // Into an f16 and a bf16 cache: the same values, converted once, and the
                // channels outside the rotated ones converted as they are.
                let slot = View::tokens_heads(heads).at(0);
                let mut cache = vec![f16::ZERO; n];
                rope.apply_into(&x, shape, &mut cache, slot, at, direction)
                    .unwrap();
                let want: Vec<f16> = y.iter().map(|&v| f16::from_f32(v)).collect();
                assert_same_bits(&want, &cache, &format!("{what} into f16"));
                let mut cache = vec![bf16::ZERO; n];
                rope.apply_into(&x, shape, &mut cache, slot, at, direction)
                    .unwrap();
                let want: Vec<bf16> = y.iter().map(|&v| bf16::from_f32(v)).collect();
                assert_same_bits(&want, &cache, &format!("{what} into bf16"));
            }
        }
    }
}
