//! Fused paths: rotate-into a cache slot with conversion, packed QKV (in place and into
//! caches), KV-cache shift, and re-rotation between schedules; each against composing
//! the unfused calls (bits) and the float64 reference (bound), on every backend.

mod common;
use common::ropes::rope;
use common::Order;

use common::{assert_close, assert_same_bits, backends, widen, Reference, Rng, TestElement};
use rope_simd::{
    bf16, f16, Backend, Direction, Heads, KvCache, PairLayout, Positions, Rope, RopeError, Rotate,
    View,
};

/// `rotate_into` == rotate in place, then convert once; rows outside the slot untouched.
fn into_matches_in_place<S: TestElement, D: TestElement>() {
    let (tokens, heads, cap) = (3, 2, 7);
    let positions = [0u32, 4095, 70_000];
    // DeepSeek's reorder is safe code in the driver: Miri, there for the kernels' unsafe,
    // skips it.
    let layouts: &[PairLayout] = if cfg!(miri) {
        &[PairLayout::Interleaved, PairLayout::HalfSplit]
    } else {
        &[
            PairLayout::Interleaved,
            PairLayout::HalfSplit,
            PairLayout::InterleavedToHalfSplit,
        ]
    };
    for &backend in &backends() {
        for &layout in layouts {
            // Under Miri (undefined-behaviour checks, slow): a vector body with a tail only.
            let dims: &[(usize, usize)] = if cfg!(miri) {
                &[(20, 12)]
            } else {
                &[(64, 64), (80, 48), (6, 6)]
            };
            for &(head_dim, rotary_dim) in dims {
                let r = rope(head_dim, rotary_dim, layout, backend);
                for order in [Order::TokensHeads, Order::HeadsTokens] {
                    let shape = common::view(heads, order);
                    let src: Vec<S> = Rng(head_dim as u64 + 3).vec(tokens * heads * head_dim, 30.0);
                    let mut in_place = src.clone();
                    r.apply(
                        &mut in_place,
                        shape,
                        Positions::List(&positions),
                        Direction::Forward,
                    )
                    .unwrap();
                    // Each window with its strides, in elements, for the check below.
                    for (slot, (token_stride, head_stride), by_token) in [
                        (
                            View::tokens_heads(heads).at(2),
                            (heads * head_dim, head_dim),
                            true,
                        ),
                        (
                            View::heads_tokens(heads).at(2),
                            (head_dim, cap * head_dim),
                            false,
                        ),
                    ] {
                        let canary = D::from_f32(-7.0);
                        let mut dst = vec![canary; cap * heads * head_dim];
                        r.rotate_into(&src, shape, &mut dst, slot, Positions::List(&positions))
                            .unwrap();
                        for t in 0..cap {
                            for h in 0..heads {
                                let d0 = t * token_stride + h * head_stride;
                                let got = &dst[d0..d0 + head_dim];
                                if t < 2 || t >= 2 + tokens {
                                    assert!(
                                        got.iter().all(|v| v.bits() == canary.bits()),
                                        "row outside the slot written"
                                    );
                                    continue;
                                }
                                let tt = t - 2;
                                let s0 = match order {
                                    Order::TokensHeads => (tt * heads + h) * head_dim,
                                    Order::HeadsTokens => (h * tokens + tt) * head_dim,
                                };
                                let want: Vec<D> = in_place[s0..s0 + head_dim]
                                    .iter()
                                    .map(|v| D::from_f32(v.to_f32()))
                                    .collect();
                                let what = format!("{}->{} {backend:?} {layout:?} {head_dim}/{rotary_dim} {order:?} by_token {by_token}", S::NAME, D::NAME);
                                assert_same_bits(&want, got, &what);
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn rotate_into_matches_in_place_then_convert() {
    into_matches_in_place::<f32, f16>();
    into_matches_in_place::<bf16, bf16>();
    if !cfg!(miri) {
        into_matches_in_place::<f32, f32>();
        into_matches_in_place::<f32, bf16>();
        into_matches_in_place::<f16, f16>();
    }
}

#[test]
fn rotate_into_from_a_table_and_inverse() {
    let r = rope(32, 32, PairLayout::Interleaved, Backend::detect());
    let table = r.table(100).unwrap();
    let src: Vec<f32> = Rng(5).vec(4 * 3 * 32, 10.0);
    let slot = View::tokens_heads(3).at(0);
    for dir in [Direction::Forward, Direction::Inverse] {
        let (mut a, mut b) = (vec![f16::ZERO; src.len()], vec![f16::ZERO; src.len()]);
        r.apply_into(
            &src,
            View::tokens_heads(3),
            &mut a,
            slot,
            Positions::Start(90),
            dir,
        )
        .unwrap();
        table
            .apply_into(
                &src,
                View::tokens_heads(3),
                &mut b,
                slot,
                Positions::Start(90),
                dir,
            )
            .unwrap();
        assert_same_bits(&a, &b, "table vs on the fly");
    }
}

#[test]
fn packed_qkv_in_place_and_into_caches() {
    let (hq, hkv, hd, tokens) = (4, 2, 16, 3);
    let row = (hq + 2 * hkv) * hd;
    for &backend in &backends() {
        for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
            let r = rope(hd, hd, layout, backend);
            let qkv: Vec<f32> = Rng(11).vec(tokens * row, 5.0);
            // Unfused: split into Q, K, V buffers and rotate Q and K.
            let part = |from: usize, heads: usize| -> Vec<f32> {
                (0..tokens)
                    .flat_map(|t| qkv[t * row + from * hd..t * row + (from + heads) * hd].to_vec())
                    .collect()
            };
            let (mut q, mut k, v) = (part(0, hq), part(hq, hkv), part(hq + hkv, hkv));
            r.rotate_qk(&mut q, hq, &mut k, hkv, Positions::Start(7))
                .unwrap();
            // In place.
            let mut fused = qkv.clone();
            let heads = Heads { q: hq, kv: hkv };
            r.rotate_packed_qkv(&mut fused, heads, Positions::Start(7))
                .unwrap();
            for t in 0..tokens {
                let rowv = &fused[t * row..(t + 1) * row];
                assert_same_bits(
                    &q[t * hq * hd..(t + 1) * hq * hd],
                    &rowv[..hq * hd],
                    "packed q",
                );
                assert_same_bits(
                    &k[t * hkv * hd..(t + 1) * hkv * hd],
                    &rowv[hq * hd..(hq + hkv) * hd],
                    "packed k",
                );
                assert_same_bits(
                    &v[t * hkv * hd..(t + 1) * hkv * hd],
                    &rowv[(hq + hkv) * hd..],
                    "v untouched",
                );
            }
            // Into f16 caches.
            let mut fused = qkv.clone();
            let slot = View::tokens_heads(hkv).at(5);
            let (mut kc, mut vc) = (
                vec![f16::ZERO; 16 * hkv * hd],
                vec![f16::ZERO; 16 * hkv * hd],
            );
            let cache = KvCache {
                k: &mut kc,
                v: &mut vc,
                view: slot,
            };
            r.rotate_packed_qkv_into(&mut fused, heads, cache, Positions::Start(7))
                .unwrap();
            // Each part's view, out of place: the bits of the split buffers'.
            let [_, k_view, v_view] = View::packed_qkv(heads);
            let mut k_again = vec![f16::ZERO; 16 * hkv * hd];
            r.rotate_into(&qkv, k_view, &mut k_again, slot, Positions::Start(7))
                .unwrap();
            assert_same_bits(&kc, &k_again, "packed K view into a cache");
            let mut v_rot = vec![0.0f32; tokens * hkv * hd];
            r.rotate_into(
                &qkv,
                v_view,
                &mut v_rot,
                View::tokens_heads(hkv),
                Positions::Start(7),
            )
            .unwrap();
            let mut v_want = v.clone();
            r.rotate(&mut v_want, hkv, Positions::Start(7)).unwrap();
            assert_same_bits(&v_want, &v_rot, "packed V view");
            let conv = |x: &[f32]| x.iter().map(|&v| f16::from_f32(v)).collect::<Vec<_>>();
            for t in 0..tokens {
                let rowv = &fused[t * row..(t + 1) * row];
                assert_same_bits(
                    &q[t * hq * hd..(t + 1) * hq * hd],
                    &rowv[..hq * hd],
                    "q in place",
                );
                assert_same_bits(
                    &qkv[t * row + hq * hd..(t + 1) * row],
                    &rowv[hq * hd..],
                    "k and v in qkv untouched",
                );
                let c0 = (5 + t) * hkv * hd;
                assert_same_bits(
                    &conv(&k[t * hkv * hd..(t + 1) * hkv * hd]),
                    &kc[c0..c0 + hkv * hd],
                    "k cache",
                );
                assert_same_bits(
                    &conv(&v[t * hkv * hd..(t + 1) * hkv * hd]),
                    &vc[c0..c0 + hkv * hd],
                    "v cache",
                );
            }
        }
    }
}

#[test]
fn shift_equals_rotating_at_the_new_position_and_ignores_the_scale() {
    for scale in [1.0, 1.2079] {
        let r = Rope::builder(64)
            .base(10_000.0)
            .scale(scale)
            .build()
            .unwrap();
        let x: Vec<f32> = Rng(3).vec(5 * 2 * 64, 4.0);
        let mut y = x.clone();
        r.rotate(&mut y, 2, Positions::Start(1000)).unwrap();
        r.shift(&mut y, View::tokens_heads(2), -900).unwrap();
        let freqs = Reference::default_freqs(10_000.0, 64);
        let reference = Reference {
            head_dim: 64,
            rotary_dim: 64,
            layout: PairLayout::HalfSplit,
            inv_freq: &freqs,
            scale,
        };
        let want = reference.rotate(
            &widen(&x),
            2,
            Order::TokensHeads,
            &[100, 101, 102, 103, 104],
            false,
        );
        // Two roundings: rotate, then shift (scale 1).
        assert_close(
            &Reference {
                scale: 2.0 * scale,
                ..reference
            },
            &x,
            &y,
            &want,
            "shifted keys",
        );
    }
}

#[test]
fn rerotation_moves_keys_between_schedules() {
    let short = Rope::builder(8)
        .inv_freqs(&[1.0, 0.1, 0.01, 0.001])
        .build()
        .unwrap();
    let long = Rope::builder(8)
        .inv_freqs(&[0.9, 0.11, 0.004, 0.0001])
        .build()
        .unwrap();
    let x: Vec<bf16> = Rng(9).vec(3 * 8, 4.0);
    let mut y: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    short.rotate(&mut y, 1, Positions::Start(5000)).unwrap();
    short
        .rerotation(&long)
        .unwrap()
        .rotate(&mut y, 1, Positions::Start(5000))
        .unwrap();
    let reference = Reference {
        head_dim: 8,
        rotary_dim: 8,
        layout: PairLayout::HalfSplit,
        inv_freq: long.inv_freqs(),
        scale: 1.0,
    };
    let xf: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let want = reference.rotate(
        &widen(&xf),
        1,
        Order::TokensHeads,
        &[5000, 5001, 5002],
        false,
    );
    assert_close(
        &Reference {
            scale: 2.0,
            ..reference
        },
        &xf,
        &y,
        &want,
        "re-rotated",
    );
    let other = Rope::builder(8)
        .layout(PairLayout::Interleaved)
        .build()
        .unwrap();
    assert_eq!(
        short.rerotation(&other).unwrap_err(),
        RopeError::Incompatible { what: "layout" }
    );
}

#[test]
fn bad_views_are_errors_and_write_nothing() {
    let r = rope(8, 8, PairLayout::HalfSplit, Backend::detect());
    let src = vec![1.0f32; 2 * 3 * 8];
    let shape = View::tokens_heads(3);
    for (slot, len) in [
        (View::strided(3, 8, 8), 100), // tokens 8 apart but 3 heads of 8 each: overlap
        (View::strided(3, 24, 4), 100), // heads overlap
        (View::strided(3, 4, 8), 100), // a head count for elements
        (View::tokens_heads(3).at(3), 96), // rows 3..5 past the 4 rows of 96
        (View::tokens_heads(3).at(usize::MAX / 2), 96),
        (View::tokens_heads(3), 96), // a whole buffer of 4 rows for 2 tokens
        (View::tokens_heads(3).at(0), 100), // not a whole number of rows
        (View::heads_tokens(3).at(0), 100), // nor of heads' blocks
        (View::tokens_heads(2).at(0), 96), // another head count than the source's
        (View::in_rows(2, 3, 2), 96), // heads past the row
        (View::tokens_heads(0).at(0), 96),
    ] {
        let mut dst = vec![f16::from_f32(3.0); len];
        let err = r
            .rotate_into(&src, shape, &mut dst, slot, Positions::Start(1))
            .unwrap_err();
        assert!(
            matches!(
                err,
                RopeError::BadView { what: "dst", .. }
                    | RopeError::NoRoom { what: "dst", .. }
                    | RopeError::BufferLength { what: "dst", .. }
                    | RopeError::HeadMismatch { what: "dst", .. }
                    | RopeError::ZeroHeads { what: "dst" }
            ),
            "{slot:?}: {err}"
        );
        assert!(dst.iter().all(|v| *v == f16::from_f32(3.0)));
    }
    // A bad source length: nothing written either.
    let mut dst = vec![f16::ZERO; 96];
    assert!(r
        .rotate_into(
            &src[..40],
            shape,
            &mut dst,
            View::tokens_heads(3).at(0),
            Positions::Start(1),
        )
        .is_err());
    assert!(dst.iter().all(|v| *v == f16::ZERO));
}

/// Strided views into a runtime's own tensors: padded token rows and spread heads, in
/// place and out of place, give the bits of the dense calls, and nothing outside the
/// view's rows is touched.
#[test]
fn strided_views_match_dense_calls() {
    let r = rope(16, 12, PairLayout::HalfSplit, Backend::detect());
    let (tokens, heads, hd, pad) = (5, 3, 16, 7);
    let dense: Vec<f32> = Rng(9).vec(tokens * heads * hd, 4.0);
    let positions = [3u32, 1, 4, 1, 5];
    let mut want = dense.clone();
    r.apply(
        &mut want,
        View::tokens_heads(heads),
        Positions::List(&positions),
        Direction::Forward,
    )
    .unwrap();
    // Tokens-major, rows padded: [tokens, heads * hd + pad].
    let row = heads * hd + pad;
    let mut padded = vec![-9.0f32; tokens * row];
    for t in 0..tokens {
        padded[t * row..][..heads * hd].copy_from_slice(&dense[t * heads * hd..][..heads * hd]);
    }
    r.apply(
        &mut padded,
        View::strided(heads, row, hd),
        Positions::List(&positions),
        Direction::Forward,
    )
    .unwrap();
    for t in 0..tokens {
        assert_eq!(
            padded[t * row..][..heads * hd],
            want[t * heads * hd..][..heads * hd]
        );
        assert!(padded[t * row + heads * hd..][..pad]
            .iter()
            .all(|&v| v == -9.0));
    }
    // Heads-major with room between heads, out of place into f16, from token row 2.
    let (cap, gap) = (9, 5);
    let head_stride = cap * hd + gap;
    let mut dst = vec![f16::from_f32(-9.0); heads * head_stride];
    let slot = View::strided(heads, hd, head_stride).at(2);
    r.rotate_into(
        &dense,
        View::tokens_heads(heads),
        &mut dst,
        slot,
        Positions::List(&positions),
    )
    .unwrap();
    for h in 0..heads {
        for t in 0..cap {
            let got = &dst[h * head_stride + t * hd..][..hd];
            if (2..2 + tokens).contains(&t) {
                let w: Vec<f16> = want[((t - 2) * heads + h) * hd..][..hd]
                    .iter()
                    .map(|&v| f16::from_f32(v))
                    .collect();
                assert_eq!(got, &w[..], "head {h} row {t}");
            } else {
                assert!(
                    got.iter().all(|v| *v == f16::from_f32(-9.0)),
                    "row {t} written"
                );
            }
        }
    }
    // One row more than each head's block holds: no room.
    let err = r
        .rotate_into(
            &dense,
            View::tokens_heads(heads),
            &mut dst,
            slot.at(5),
            Positions::List(&positions),
        )
        .unwrap_err();
    assert!(
        matches!(err, RopeError::NoRoom { capacity: 9, .. }),
        "{err}"
    );
}

/// A call writing 16 MiB or more of 16-bit output takes the kernels' streaming stores
/// (AVX2 and AVX-512; from f32 the fused kernels', from a 16-bit source the rounding out
/// of the f32 rows, `through_f32.rs`): the same bits as rotating in place and
/// converting, both layouts, with a slot aligned for them (placed at a 16-byte boundary
/// of its buffer, whatever the allocator returned) and one that is not (one element
/// further, where the kernels fall back to plain stores), and nothing written outside
/// the slot. Release builds on x86_64 only, where the streaming kernels are (a 32 MiB
/// input: too much for the wasm32 test runner's memory, and slow under Miri).
#[test]
#[cfg_attr(any(debug_assertions, miri, not(target_arch = "x86_64")), ignore)]
fn large_rotate_into_streams_the_same_bits() {
    fn run<S: TestElement, D: TestElement>() {
        let (tokens, heads, head_dim) = (2048, 32, 128);
        let n = tokens * heads * head_dim;
        assert!(n * 2 >= 16 << 20, "below the streaming threshold");
        let src: Vec<S> = Rng(77).vec(n, 3.0);
        let shape = View::tokens_heads(heads);
        for layout in [PairLayout::HalfSplit, PairLayout::Interleaved] {
            for b in backends() {
                let r = rope(head_dim, head_dim, layout, b);
                let mut in_place = src.clone();
                r.apply(
                    &mut in_place,
                    shape,
                    Positions::Start(5),
                    Direction::Forward,
                )
                .unwrap();
                let canary = D::from_f32(-7.0);
                let mut dst = vec![canary; n + 9];
                // The first element at a 16-byte boundary (elements are 2 bytes).
                let aligned = (16 - dst.as_ptr() as usize % 16) % 16 / 2;
                for offset in [aligned, aligned + 1] {
                    dst.fill(canary);
                    let slot = View::tokens_heads(heads).at(0);
                    r.rotate_into(
                        &src,
                        shape,
                        &mut dst[offset..offset + n],
                        slot,
                        Positions::Start(5),
                    )
                    .unwrap();
                    let want: Vec<D> = in_place.iter().map(|v| D::from_f32(v.to_f32())).collect();
                    let what = format!(
                        "{} -> {} {b:?} {layout:?} offset {offset}",
                        S::NAME,
                        D::NAME
                    );
                    assert_same_bits(&want, &dst[offset..offset + n], &what);
                    let outside = [&dst[..offset], &dst[offset + n..]];
                    assert!(
                        outside
                            .iter()
                            .all(|s| s.iter().all(|v| v.bits() == canary.bits())),
                        "{what}: written outside the slot"
                    );
                }
            }
        }
    }
    run::<f32, f16>();
    run::<f32, bf16>();
    run::<f16, f16>();
    run::<bf16, bf16>();
}
