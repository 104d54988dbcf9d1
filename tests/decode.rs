//! `Rotate::rotate_decode`, the decode step in one call, against its three steps done
//! separately (rotate Q in place, rotate K into the cache, convert V into it): the same
//! bits on every backend, dtype pair, layout and source, and nothing written on error.

mod common;

use common::{assert_same_bits, backends, Rng, TestElement};
use rope_simd::{
    bf16, f16, Direction, Heads, KvCache, PairLayout, Positions, Rope, RopeError, Rotate, View,
};

const HD: usize = 64;

fn one<S: TestElement, D: TestElement>(rope: &Rope, positions: Positions<'_>, tokens: usize) {
    let heads = Heads { q: 6, kv: 2 };
    let cap = 16;
    let q: Vec<S> = Rng(3).vec(tokens * heads.q * HD, 9.0);
    let k: Vec<S> = Rng(4).vec(tokens * heads.kv * HD, 9.0);
    let v: Vec<S> = Rng(5).vec(tokens * heads.kv * HD, 9.0);
    // Each window with its strides in elements, for the V check below.
    for (slot, token_stride, head_stride) in [
        (View::tokens_heads(heads.kv).at(5), heads.kv * HD, HD),
        (View::heads_tokens(heads.kv).at(5), HD, cap * HD),
    ] {
        let what = format!(
            "{}->{} {:?} {:?} {:?}",
            S::NAME,
            D::NAME,
            rope.backend(),
            rope.layout(),
            slot
        );
        // The three steps.
        let mut q_want = q.clone();
        rope.apply(
            &mut q_want,
            View::tokens_heads(heads.q),
            positions,
            Direction::Forward,
        )
        .unwrap();
        let mut k_want = vec![D::from_f32(-3.0); cap * heads.kv * HD];
        rope.apply_into(
            &k,
            View::tokens_heads(heads.kv),
            &mut k_want,
            slot,
            positions,
            Direction::Forward,
        )
        .unwrap();
        let mut v_want = vec![D::from_f32(-3.0); cap * heads.kv * HD];
        for t in 0..tokens {
            for h in 0..heads.kv {
                let s0 = (t * heads.kv + h) * HD;
                let d0 = (5 + t) * token_stride + h * head_stride;
                for c in 0..HD {
                    v_want[d0 + c] = D::from_f32(v[s0 + c].to_f32());
                }
            }
        }
        // One call.
        let mut q_got = q.clone();
        let (mut k_got, mut v_got) = (
            vec![D::from_f32(-3.0); cap * heads.kv * HD],
            vec![D::from_f32(-3.0); cap * heads.kv * HD],
        );
        let cache = KvCache {
            k: &mut k_got,
            v: &mut v_got,
            view: slot,
        };
        rope.rotate_decode(&mut q_got, &k, &v, heads, cache, positions)
            .unwrap();
        assert_same_bits(&q_want, &q_got, &format!("{what}: q"));
        assert_same_bits(&k_want, &k_got, &format!("{what}: k cache"));
        assert_same_bits(&v_want, &v_got, &format!("{what}: v cache"));
    }
}

#[test]
fn one_call_equals_three_steps() {
    let layouts = [
        PairLayout::Interleaved,
        PairLayout::HalfSplit,
        PairLayout::InterleavedToHalfSplit,
    ];
    for layout in layouts {
        for backend in backends() {
            let rope = Rope::builder(HD)
                .layout(layout)
                .base(500_000.0)
                .scale(1.1)
                .backend(backend)
                .build()
                .unwrap();
            // A decode step, a short prefill, and signed positions (one at the identity).
            one::<f32, f16>(&rope, Positions::Start(4095), 1);
            one::<f32, f32>(&rope, Positions::Start(10), 3);
            one::<f32, bf16>(&rope, Positions::Signed(&[-4, 0, 9]), 3);
            one::<f16, f16>(&rope, Positions::List(&[7, 70_000]), 2);
            one::<bf16, bf16>(&rope, Positions::Start(0), 2);
            let table = rope.table(16).unwrap();
            let heads = Heads { q: 2, kv: 1 };
            let mut q = vec![1.0f32; 2 * HD];
            let (mut kc, mut vc) = (vec![f16::ZERO; HD], vec![f16::ZERO; HD]);
            let cache = KvCache {
                k: &mut kc,
                v: &mut vc,
                view: View::tokens_heads(1).at(0),
            };
            table
                .rotate_decode(
                    &mut q,
                    &[1.0; HD],
                    &[2.0; HD],
                    heads,
                    cache,
                    Positions::Start(15),
                )
                .unwrap();
            assert_eq!(vc[0], f16::from_f32(2.0));
        }
    }
}

/// A bad call writes none of the three buffers.
#[test]
fn errors_write_nothing() {
    let rope = Rope::new(HD, 10_000.0, PairLayout::HalfSplit).unwrap();
    let heads = Heads { q: 4, kv: 2 };
    let q0 = vec![1.5f32; 4 * HD];
    let (k, v) = (vec![1.0f32; 2 * HD], vec![2.0f32; 2 * HD]);
    let check = |q: &[f32], kc: &[f16], vc: &[f16]| {
        assert_eq!(q, &q0[..], "q untouched");
        assert!(
            kc.iter().chain(vc).all(|&x| x == f16::ZERO),
            "caches untouched"
        );
    };
    // The slot runs past the caches.
    let (mut q, mut kc, mut vc) = (q0.clone(), vec![f16::ZERO; 2 * HD], vec![f16::ZERO; 2 * HD]);
    let cache = KvCache {
        k: &mut kc,
        v: &mut vc,
        view: View::tokens_heads(2).at(1),
    };
    assert!(matches!(
        rope.rotate_decode(&mut q, &k, &v, heads, cache, Positions::Start(3)),
        Err(RopeError::NoRoom {
            what: "k_cache",
            first: 1,
            tokens: 1,
            capacity: 1
        })
    ));
    check(&q, &kc, &vc);
    // V with another token count than K.
    let cache = KvCache {
        k: &mut kc,
        v: &mut vc,
        view: View::tokens_heads(2).at(0),
    };
    assert!(matches!(
        rope.rotate_decode(&mut q, &k, &v[..HD], heads, cache, Positions::Start(3)),
        Err(RopeError::BufferLength { what: "v", .. })
    ));
    check(&q, &kc, &vc);
    // No KV heads.
    let cache = KvCache {
        k: &mut kc,
        v: &mut vc,
        view: View::tokens_heads(2).at(0),
    };
    let no_kv = Heads { q: 4, kv: 0 };
    assert_eq!(
        rope.rotate_decode(&mut q, &k, &v, no_kv, cache, Positions::Start(3)),
        Err(RopeError::ZeroHeads { what: "k" })
    );
    check(&q, &kc, &vc);
}
