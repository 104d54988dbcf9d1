//! The compact two-level table against the on-the-fly source (within 1 ulp, almost
//! always identical) and the float64 reference, on every backend and dtype; its bad input.

mod common;
use common::Order;

use common::{assert_close, backends, widen, Reference, Rng, TestElement};
use rope_simd::{
    bf16, f16, Backend, Direction, PairLayout, Positions, Rope, RopeError, Rotate, View,
};

fn ulps(a: f32, b: f32) -> u32 {
    let key = |x: f32| {
        let b = x.to_bits() as i32;
        i64::from(if b < 0 { i32::MIN - b } else { b })
    };
    (key(a) - key(b)).unsigned_abs() as u32
}

/// cos and sin of every pair at `positions`, read back by rotating unit pairs (1, 0):
/// a' = 1*c - 0*s = c and b' = 0*c + 1*s = s exactly.
fn cos_sin(source: &impl Rotate, pairs: usize, positions: &[u32]) -> Vec<f32> {
    let mut x = vec![0.0f32; positions.len() * 2 * pairs];
    for t in 0..positions.len() {
        x[t * 2 * pairs..t * 2 * pairs + pairs].fill(1.0);
    }
    source
        .rotate(&mut x, 1, Positions::List(positions))
        .unwrap();
    x
}

#[test]
fn compact_agrees_with_on_the_fly_within_one_ulp() {
    for (max_pos, base) in [(131_072usize, 500_000.0), (1000, 10_000.0), (1, 10_000.0)] {
        let rope = Rope::new(128, base, PairLayout::HalfSplit).unwrap();
        let compact = rope.compact_table(max_pos).unwrap();
        assert_eq!(
            compact.size_bytes(),
            rope.compact_table_len(max_pos).unwrap() * 8
        );
        let mut rng = Rng(max_pos as u64);
        let positions: Vec<u32> = (0..2000)
            .map(|_| rng.below(max_pos as u64) as u32)
            .chain([0, max_pos as u32 - 1])
            .collect();
        let (a, b) = (
            cos_sin(&rope, 64, &positions),
            cos_sin(&compact, 64, &positions),
        );
        let worst = a.iter().zip(&b).map(|(&x, &y)| ulps(x, y)).max().unwrap();
        let same = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x.to_bits() == y.to_bits())
            .count();
        eprintln!(
            "max_pos {max_pos}: max {worst} ulp apart, {same}/{} identical; {} bytes",
            a.len(),
            compact.size_bytes()
        );
        assert!(worst <= 1, "{worst} ulp");
    }
}

#[test]
fn compact_rotations_agree_with_the_reference_on_every_backend() {
    fn check<E: TestElement>(backend: Backend) {
        for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
            let rope = Rope::builder(48)
                .rotary_dim(40)
                .layout(layout)
                .scale(1.2)
                .backend(backend)
                .build()
                .unwrap();
            let compact = rope.compact_table(70_000).unwrap();
            let positions = [3u32, 69_999, 4096, 0];
            let x: Vec<E> = Rng(17).vec(positions.len() * 3 * 48, 20.0);
            let r = Reference {
                head_dim: 48,
                rotary_dim: 40,
                layout,
                inv_freq: rope.inv_freqs(),
                scale: 1.2,
            };
            let pos: Vec<u64> = positions.iter().map(|&p| u64::from(p)).collect();
            // The true inverse (turned back, divided by the scale) and the transpose
            // (turned back, times the scale: every position negative).
            for direction in [Direction::Inverse, Direction::Transpose] {
                let mut y = x.clone();
                compact
                    .apply(
                        &mut y,
                        View::tokens_heads(3),
                        Positions::List(&positions),
                        direction,
                    )
                    .unwrap();
                let transpose = direction == Direction::Transpose;
                let want = r.rotate_signed_at(
                    &widen(&x),
                    3,
                    Order::TokensHeads,
                    positions.len(),
                    |t, _| pos[t],
                    |_| transpose,
                    !transpose,
                );
                assert_close(&r, &x, &y, &want, &format!("compact table, {direction:?}"));
            }
        }
    }
    for b in backends() {
        check::<f32>(b);
        check::<f16>(b);
        check::<bf16>(b);
    }
}

#[test]
fn compact_bad_input() {
    let rope = Rope::new(8, 10_000.0, PairLayout::HalfSplit).unwrap();
    let mut small = vec![0.0f64; 5];
    assert!(matches!(
        rope.build_compact_table(100, &mut small),
        Err(RopeError::WrongLength { .. })
    ));
    // Even usize::MAX positions fit: the table grows as the square root.
    let half = 1usize << (usize::BITS / 2); // sqrt(usize::MAX + 1)
    assert_eq!(rope.compact_table_len(usize::MAX).unwrap(), 2 * half * 8);
    let table = rope.compact_table(100).unwrap();
    let x = vec![1.5f32; 2 * 8];
    let mut y = x.clone();
    assert_eq!(
        table
            .rotate(&mut y, 1, Positions::List(&[99, 100]))
            .unwrap_err(),
        RopeError::PositionOutOfTable {
            position: 100,
            max_pos: 100
        }
    );
    assert_eq!(x, y);
}
