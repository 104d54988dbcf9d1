//! Splitting a call: `apply_tokens` on parts gives the whole call's bits, and (feature
//! `rayon`) `par_apply` does the same on a thread pool.

mod common;

use common::{assert_same_bits, Rng, TestElement};
use rope_simd::{bf16, f16, Axes, Direction, PairLayout, Positions, Rope, RopeError, Rotate, View};

fn ropes() -> Vec<Rope> {
    vec![
        Rope::builder(64).base(10_000.0).build().unwrap(),
        Rope::builder(30)
            .rotary_dim(16)
            .layout(PairLayout::Interleaved)
            .build()
            .unwrap(),
        Rope::builder(16)
            .axes(Axes::MRope([2, 3, 3]))
            .build()
            .unwrap(),
    ]
}

fn parts_equal_whole<E: TestElement>() {
    let mut rng = Rng(11);
    for rope in ropes() {
        let (tokens, heads) = (37, 3);
        let x: Vec<E> = rng.vec(tokens * heads * rope.head_dim(), 4.0);
        let list: Vec<u32> = (0..tokens).map(|_| rng.below(100_000) as u32).collect();
        let list64: Vec<u64> = (0..tokens).map(|_| rng.below(1 << 40)).collect();
        let axes: Vec<u32> = (0..tokens * rope.axes().count())
            .map(|_| rng.below(5000) as u32)
            .collect();
        let mut kinds = vec![
            Positions::Start(123),
            Positions::Same(77),
            Positions::List(&list),
            Positions::List64(&list64),
        ];
        if rope.axes().count() > 1 {
            kinds.push(Positions::Axes(&axes));
        }
        for positions in kinds {
            for direction in [Direction::Forward, Direction::Inverse] {
                let mut whole = x.clone();
                rope.apply(&mut whole, View::tokens_heads(heads), positions, direction)
                    .unwrap();
                for per in [1, 5, 16, 37] {
                    let mut y = x.clone();
                    for (i, part) in y.chunks_mut(per * heads * rope.head_dim()).enumerate() {
                        rope.apply_tokens(part, heads, positions, i * per, direction)
                            .unwrap();
                    }
                    assert_same_bits(&whole, &y, "apply_tokens parts");
                }
            }
        }
        // A part past the end of a list, or not whole tokens: an error, nothing written.
        let mut y = x.clone();
        let row = heads * rope.head_dim();
        let err = rope
            .apply_tokens(
                &mut y[..5 * row],
                heads,
                Positions::List(&list),
                33,
                Direction::Forward,
            )
            .unwrap_err();
        assert_eq!(
            err,
            RopeError::TokenRange {
                first: 33,
                tokens: 5,
                total: 37
            }
        );
        assert!(matches!(
            rope.apply_tokens(
                &mut y[..row + 1],
                heads,
                Positions::Start(0),
                0,
                Direction::Forward
            ),
            Err(RopeError::BufferLength { .. })
        ));
        assert!(matches!(
            rope.apply_tokens(
                &mut y[..row],
                heads,
                Positions::Start(u64::MAX - 3),
                10,
                Direction::Forward
            ),
            Err(RopeError::PositionTooLarge { .. })
        ));
        assert_same_bits(&x, &y, "a failing apply_tokens wrote");
    }
}

#[test]
fn apply_tokens_parts_equal_the_whole_call() {
    parts_equal_whole::<f32>();
    parts_equal_whole::<f16>();
    parts_equal_whole::<bf16>();
}

#[cfg(feature = "rayon")]
#[test]
fn par_apply_equals_apply_on_any_pool() {
    let mut rng = Rng(5);
    for rope in ropes() {
        let table = rope.table(5000).unwrap();
        for order in [common::Order::TokensHeads, common::Order::HeadsTokens] {
            let (tokens, heads) = (301, 4);
            let shape = common::view(heads, order);
            let x: Vec<bf16> = rng.vec(tokens * heads * rope.head_dim(), 4.0);
            let mut want = x.clone();
            rope.apply(&mut want, shape, Positions::Start(4000), Direction::Forward)
                .unwrap();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut y = x.clone();
                pool.install(|| {
                    rope.par_apply(&mut y, shape, Positions::Start(4000), Direction::Forward)
                })
                .unwrap();
                assert_same_bits(&want, &y, "par_apply, on the fly");
                let mut z = x.clone();
                pool.install(|| {
                    table.par_apply(&mut z, shape, Positions::Start(4000), Direction::Forward)
                })
                .unwrap();
                assert_same_bits(&want, &z, "par_apply, table");
                // Validated before any thread writes: a position past the table.
                let mut w = x.clone();
                assert!(matches!(
                    pool.install(|| table.par_apply(
                        &mut w,
                        shape,
                        Positions::Start(4900),
                        Direction::Forward
                    )),
                    Err(RopeError::PositionOutOfTable { .. })
                ));
                assert_same_bits(&x, &w, "a failing par_apply wrote");
            }
        }
    }
}
