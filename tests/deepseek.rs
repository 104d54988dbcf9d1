//! DeepSeek's `rope_interleave` layout (`PairLayout::InterleavedToHalfSplit`) on every entry
//! point: it reads interleaved pairs and writes half-split order, the inverse reads
//! half-split and writes interleaved, and keys already rotated are shifted as half-split.
//! The backend sweeps in `backends.rs` and `fused.rs` check it against the float64
//! reference and bit for bit across backends; this file checks what is particular to it.

mod common;
use common::Order;

use common::{assert_close_dir, assert_same_bits, backends, widen, Reference, Rng, TestElement};
use rope_simd::{
    bf16, f16, Backend, Direction, Heads, KvCache, PairLayout, Positions, Rope, Rotate, View,
};

const LAYOUT: PairLayout = PairLayout::InterleavedToHalfSplit;

/// DeepSeek-V3's rope head: 64 channels, all rotated.
fn deepseek(backend: Backend) -> Rope {
    Rope::builder(64)
        .layout(LAYOUT)
        .base(10_000.0)
        .backend(backend)
        .build()
        .unwrap()
}

/// Within one head, where channel `c` goes in the forward direction.
fn forward_index(c: usize, rotary_dim: usize) -> usize {
    if c >= rotary_dim {
        c
    } else if c.is_multiple_of(2) {
        c / 2
    } else {
        rotary_dim / 2 + c / 2
    }
}

/// Position 0 with scale 1 turns nothing but still reorders: exactly a permutation.
#[test]
fn position_zero_only_reorders() {
    let rope = Rope::builder(16)
        .rotary_dim(12)
        .layout(LAYOUT)
        .build()
        .unwrap();
    let x: Vec<f32> = (0..2 * 16).map(|v| v as f32).collect();
    let mut y = x.clone();
    rope.rotate(&mut y, 2, Positions::Same(0)).unwrap();
    for h in 0..2 {
        for c in 0..16 {
            assert_eq!(
                y[h * 16 + forward_index(c, 12)],
                x[h * 16 + c],
                "channel {c}"
            );
        }
    }
    rope.rotate_inverse(&mut y, 2, Positions::Same(0)).unwrap();
    assert_eq!(x, y, "the inverse puts the channels back");
}

fn round_trip<E: TestElement>() {
    let positions = [0u32, 5, 4095, 1 << 20];
    for backend in backends() {
        let rope = deepseek(backend);
        let heads = 3;
        let x: Vec<E> = Rng(17).vec(positions.len() * heads * 64, 20.0);
        let mut y = x.clone();
        rope.rotate(&mut y, heads, Positions::List(&positions))
            .unwrap();
        let r = Reference::of(&rope);
        let pos: Vec<u64> = positions.iter().map(|&p| u64::from(p)).collect();
        let what = format!("{} {backend:?}", E::NAME);
        let want = r.rotate(&widen(&x), heads, Order::TokensHeads, &pos, false);
        assert_close_dir(&r, &x, &y, &want, false, &format!("{what} forward"));
        let mut back = y.clone();
        rope.rotate_inverse(&mut back, heads, Positions::List(&positions))
            .unwrap();
        let want = r.rotate(&widen(&y), heads, Order::TokensHeads, &pos, true);
        assert_close_dir(&r, &y, &back, &want, true, &format!("{what} inverse"));
        // Scale 1, so the inverse gives the input back: within two roundings of a pair
        // of magnitude up to 2 x 20.
        let tol = 2.0 * (E::REL + 4.0 * f64::from(f32::EPSILON)) * 40.0;
        for (i, (&a, &b)) in x.iter().zip(&back).enumerate() {
            let (a, b) = (f64::from(a.to_f32()), f64::from(b.to_f32()));
            assert!(
                (a - b).abs() <= tol,
                "{what}: element {i}: {a} came back as {b}"
            );
        }
    }
}

#[test]
fn inverse_undoes_forward() {
    round_trip::<f32>();
    round_trip::<f16>();
    round_trip::<bf16>();
}

/// Out of place, both ways: the same bits as in place, then converted once.
#[test]
fn rotate_into_both_directions() {
    let positions = [3u32, 70_000];
    let heads = 2;
    for backend in backends() {
        let rope = deepseek(backend);
        let src: Vec<f32> = Rng(5).vec(positions.len() * heads * 64, 10.0);
        for direction in [Direction::Forward, Direction::Inverse] {
            let shape = View::tokens_heads(heads);
            let at = Positions::List(&positions);
            let mut in_place = src.clone();
            rope.apply(&mut in_place, shape, at, direction).unwrap();
            let want: Vec<f16> = in_place.iter().map(|&v| f16::from_f32(v)).collect();
            let slot = View::heads_tokens(heads);
            let mut cache = vec![f16::ZERO; heads * positions.len() * 64];
            rope.apply_into(&src, shape, &mut cache, slot, at, direction)
                .unwrap();
            for t in 0..positions.len() {
                for h in 0..heads {
                    let got = &cache[(h * positions.len() + t) * 64..][..64];
                    let want = &want[(t * heads + h) * 64..][..64];
                    let what = format!("{backend:?} {direction:?} token {t} head {h}");
                    assert_same_bits(want, got, &what);
                }
            }
        }
    }
}

/// Packed QKV, in place and into caches: Q and K reordered, V copied as it is.
#[test]
fn packed_qkv_reorders_q_and_k_only() {
    let (q_heads, kv_heads, hd) = (2, 1, 64);
    let row = (q_heads + 2 * kv_heads) * hd;
    let rope = deepseek(Backend::detect());
    let qkv: Vec<f32> = Rng(9).vec(2 * row, 4.0);
    let mut packed = qkv.clone();
    let heads = Heads {
        q: q_heads,
        kv: kv_heads,
    };
    rope.rotate_packed_qkv(&mut packed, heads, Positions::Start(10))
        .unwrap();
    let mut q = qkv.clone();
    rope.apply(
        &mut q,
        View::tokens_heads(q_heads + 2 * kv_heads),
        Positions::Start(10),
        Direction::Forward,
    )
    .unwrap();
    for t in 0..2 {
        let rotated = (q_heads + kv_heads) * hd;
        assert_same_bits(
            &q[t * row..][..rotated],
            &packed[t * row..][..rotated],
            "Q, K",
        );
        assert_eq!(
            &qkv[t * row + rotated..][..hd],
            &packed[t * row + rotated..][..hd],
            "V"
        );
    }
    let (mut k_cache, mut v_cache) = (vec![0.0f32; 4 * hd], vec![0.0f32; 4 * hd]);
    let mut q_into = qkv.clone();
    let cache = KvCache {
        k: &mut k_cache,
        v: &mut v_cache,
        view: View::tokens_heads(kv_heads).at(1),
    };
    rope.rotate_packed_qkv_into(&mut q_into, heads, cache, Positions::Start(10))
        .unwrap();
    for t in 0..2 {
        let k = &packed[t * row + q_heads * hd..][..hd];
        assert_same_bits(k, &k_cache[(1 + t) * hd..][..hd], "K into the cache");
        let v = &qkv[t * row + (q_heads + kv_heads) * hd..][..hd];
        assert_eq!(v, &v_cache[(1 + t) * hd..][..hd], "V into the cache");
    }
}

/// Caller-supplied cos/sin: the same reorder.
#[test]
fn rotate_with_cos_sin_reorders() {
    let rope = Rope::builder(8).layout(LAYOUT).build().unwrap();
    let mut x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    // Pair 0 turns by 90 degrees, the others not at all.
    rope.rotate_with_cos_sin(&mut x, &[0.0, 1.0, 1.0, 1.0], &[1.0, 0.0, 0.0, 0.0])
        .unwrap();
    // Pairs (1,2) (3,4) (5,6) (7,8) -> a's then b's; pair 0 (1, 2) -> (-2, 1).
    assert_eq!(x, [-2.0, 3.0, 5.0, 7.0, 1.0, 4.0, 6.0, 8.0]);
}

/// Rotated keys are in half-split order: shifting and re-rotating treat them so.
#[test]
fn shift_and_rerotation_work_on_rotated_keys() {
    let positions: Vec<u64> = (40..48).collect();
    let rope = deepseek(Backend::detect());
    let split = Rope::builder(64)
        .base(10_000.0)
        .layout(PairLayout::HalfSplit)
        .build()
        .unwrap();
    let x: Vec<f32> = Rng(3).vec(positions.len() * 64, 3.0);
    let mut keys = x.clone();
    rope.rotate(&mut keys, 1, Positions::List64(&positions))
        .unwrap();
    let mut shifted = keys.clone();
    rope.shift(&mut shifted, View::tokens_heads(1), -40)
        .unwrap();
    let mut want = keys.clone();
    split.shift(&mut want, View::tokens_heads(1), -40).unwrap();
    assert_same_bits(&want, &shifted, "shift");
    // And that is the rotation at positions 0..8 of the same keys, within the bound.
    let mut direct = x.clone();
    rope.rotate(&mut direct, 1, Positions::Start(0)).unwrap();
    for (i, (&a, &b)) in direct.iter().zip(&shifted).enumerate() {
        assert!((a - b).abs() <= 1e-5, "element {i}: {a} vs {b}");
    }
    let other = Rope::builder(64)
        .layout(LAYOUT)
        .base(20_000.0)
        .build()
        .unwrap();
    let delta = rope.rerotation(&other).unwrap();
    assert_eq!(delta.layout(), PairLayout::HalfSplit);
}
