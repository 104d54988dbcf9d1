//! Every backend of this machine against the scalar kernel (bit for bit) and the float64
//! reference (within the bound): every dtype, both layouts, full and partial rotary, the
//! head sizes around each SIMD width (and 200 and 272, which give the kernels' blocks of
//! four vectors a remainder), buffers starting 0..15 elements into a larger
//! allocation, with canaries on both sides that must stay untouched.

mod common;
use common::Order;

use common::{
    assert_close, assert_close_dir, assert_same_bits, backends, widen, Reference, Rng, TestElement,
};
use rope_simd::{bf16, f16, Backend, Direction, PairLayout, Positions, Rope, Rotate, View};

#[cfg(not(miri))]
const HEAD_DIMS: &[usize] = &[
    2, 4, 6, 8, 14, 16, 18, 30, 32, 62, 64, 66, 96, 128, 200, 256, 272, 512,
];
#[cfg(not(miri))]
const OFFSETS: usize = 16;
// Under Miri (which checks the scalar and portable paths for undefined behaviour), a
// sample: a tail-only size, one with a vector and a tail, and a multiple of the width,
// each at the allocation's start and one element past it. The sweeps are most of CI's
// Miri step: at three offsets they took 116 s of this file's 179 by Miri's own clock
// (which counts the work interpreted), and two offsets took the step's wall time from
// 10.3 to 8.4 min on the Intel test machine (2026-12-03).
#[cfg(miri)]
const HEAD_DIMS: &[usize] = &[6, 18, 32];
#[cfg(miri)]
const OFFSETS: usize = 2;
const POSITIONS: [u32; 3] = [1, 4095, 65_537];
const HEADS: usize = 3;
const CANARY: f32 = 12345.0;

/// Every element of `buf` outside `offset..offset + n` still holds the canary.
fn assert_canaries<E: TestElement>(buf: &[E], offset: usize, n: usize, what: &str) {
    assert!(
        buf[..offset]
            .iter()
            .chain(&buf[offset + n..])
            .all(|c| c.bits() == E::from_f32(CANARY).bits()),
        "{what}: canary overwritten"
    );
}

/// The layouts the sweeps cover; DeepSeek's reorder is safe code in the driver, so Miri
/// (there for the kernels' `unsafe`) skips it.
fn layouts() -> &'static [PairLayout] {
    if cfg!(miri) {
        &[PairLayout::Interleaved, PairLayout::HalfSplit]
    } else {
        &[
            PairLayout::Interleaved,
            PairLayout::HalfSplit,
            PairLayout::InterleavedToHalfSplit,
        ]
    }
}

fn sweep<E: TestElement>() {
    let backends = backends();
    let mut cases = 0;
    for &layout in layouts() {
        for &head_dim in HEAD_DIMS {
            let partial = (head_dim / 4) * 2;
            for rotary_dim in [head_dim, partial].into_iter().filter(|&r| r >= 2) {
                for (variant, (order, direction)) in [
                    (Order::TokensHeads, Direction::Forward),
                    (Order::HeadsTokens, Direction::Inverse),
                ]
                .into_iter()
                .enumerate()
                {
                    let shape = common::view(HEADS, order);
                    let build = |b: Backend| {
                        Rope::builder(head_dim)
                            .rotary_dim(rotary_dim)
                            .layout(layout)
                            .base(500_000.0)
                            .backend(b)
                            .build()
                            .unwrap()
                    };
                    let n = POSITIONS.len() * HEADS * head_dim;
                    let x: Vec<E> =
                        Rng(head_dim as u64 * 31 + rotary_dim as u64 + variant as u64).vec(n, 50.0);
                    let mut want_bits = x.clone();
                    let scalar = build(Backend::Scalar);
                    scalar
                        .apply(
                            &mut want_bits,
                            shape,
                            Positions::List(&POSITIONS),
                            direction,
                        )
                        .unwrap();
                    let r = Reference::of(&scalar);
                    let pos: Vec<u64> = POSITIONS.iter().map(|&p| u64::from(p)).collect();
                    let want = r.rotate(
                        &widen(&x),
                        HEADS,
                        order,
                        &pos,
                        direction == Direction::Inverse,
                    );
                    let what = format!(
                        "{} {layout:?} head_dim {head_dim} rotary {rotary_dim} {order:?}",
                        E::NAME
                    );
                    let inverse = direction == Direction::Inverse;
                    assert_close_dir(&r, &x, &want_bits, &want, inverse, &what);
                    for &backend in &backends {
                        let rope = build(backend);
                        let table =
                            (head_dim <= 8 && !cfg!(miri)).then(|| rope.table(65_538).unwrap());
                        for offset in 0..OFFSETS {
                            let mut buf = vec![E::from_f32(CANARY); offset + n + 16];
                            buf[offset..offset + n].copy_from_slice(&x);
                            let y = &mut buf[offset..offset + n];
                            match &table {
                                Some(t) if offset % 2 == 1 => {
                                    t.apply(y, shape, Positions::List(&POSITIONS), direction)
                                }
                                _ => rope.apply(y, shape, Positions::List(&POSITIONS), direction),
                            }
                            .unwrap();
                            let what = format!("{what} {} offset {offset}", backend.name());
                            assert_same_bits(&want_bits, &buf[offset..offset + n], &what);
                            assert_canaries(&buf, offset, n, &what);
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "{}: {cases} backend x shape x offset cases on {backends:?}",
        E::NAME
    );
}

#[test]
fn every_backend_f32() {
    sweep::<f32>();
}

#[test]
fn every_backend_f16() {
    sweep::<f16>();
}

#[test]
fn every_backend_bf16() {
    sweep::<bf16>();
}

/// The sweep above computes cos/sin on the fly (a table only at head_dim 8 and below, to
/// keep its 65 538 positions small), and on-the-fly cos/sin come in blocks of at most 64
/// pairs. The kernels that take longer rows whole (f32 half-split rows of 16 vectors a
/// half, interleaved rows of 16 and 32 vectors, the f32 runs) only see a table. So: every
/// head_dim again, with a small table, several heads and tokens, every offset 0..15 and
/// canaries, the scalar backend within the bound of the float64 reference and every
/// backend bit for bit against it.
fn table_sweep<E: TestElement>() {
    const TOKENS: usize = 3;
    // 8: AVX2 and AVX-512 take the aligned run from 8 rows (`Vector::ALIGNED_RUN_ROWS`).
    const ROWS: usize = 8;
    for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
        for &head_dim in HEAD_DIMS {
            for rotary_dim in [head_dim, (head_dim / 4) * 2]
                .into_iter()
                .filter(|&r| r >= 2)
            {
                let build = |b: Backend| {
                    Rope::builder(head_dim)
                        .rotary_dim(rotary_dim)
                        .layout(layout)
                        .base(500_000.0)
                        .backend(b)
                        .build()
                        .unwrap()
                };
                let n = TOKENS * ROWS * head_dim;
                let x: Vec<E> = Rng(head_dim as u64 * 7 + rotary_dim as u64).vec(n, 50.0);
                let mut want = x.clone();
                let scalar = build(Backend::Scalar);
                scalar
                    .table(7 + TOKENS)
                    .unwrap()
                    .rotate(&mut want, ROWS, Positions::Start(7))
                    .unwrap();
                let r = Reference::of(&scalar);
                let pos: Vec<u64> = (7..7 + TOKENS as u64).collect();
                let exact = r.rotate(&widen(&x), ROWS, Order::TokensHeads, &pos, false);
                let what = format!(
                    "{} {layout:?} head_dim {head_dim} rotary {rotary_dim}, table",
                    E::NAME
                );
                assert_close(&r, &x, &want, &exact, &what);
                for &backend in &backends() {
                    let table = build(backend).table(7 + TOKENS).unwrap();
                    for offset in 0..OFFSETS {
                        let mut buf = vec![E::from_f32(CANARY); offset + n + 16];
                        buf[offset..offset + n].copy_from_slice(&x);
                        table
                            .rotate(&mut buf[offset..offset + n], ROWS, Positions::Start(7))
                            .unwrap();
                        let what = format!("{what}, {} offset {offset}", backend.name());
                        assert_same_bits(&want, &buf[offset..offset + n], &what);
                        assert_canaries(&buf, offset, n, &what);
                    }
                }
            }
        }
    }
}

// Not under Miri: the long rows this test is for lie past the head_dims Miri runs (up to
// 32), and Miri's minutes count against `.ci/run`'s 20.
#[test]
#[cfg_attr(miri, ignore)]
fn every_backend_with_a_table() {
    table_sweep::<f32>();
    table_sweep::<f16>();
    table_sweep::<bf16>();
}

/// Special values through every backend's 16-bit conversions: NaN, infinities,
/// subnormals, values that overflow f16 after rotation, and -0.0.
#[test]
fn special_values_match_scalar_on_every_backend() {
    fn run<E: TestElement>() {
        let specials = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            1e-7,
            -3e-8,
            6e-5,
            65504.0,
            -65504.0,
            60000.0,
            1e-40,
            3.0e38,
            -3.0e38,
            1.0,
            -1.0,
        ];
        for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
            let x: Vec<E> = (0..4 * 64)
                .map(|i| E::from_f32(specials[(i * 7) % specials.len()]))
                .collect();
            let scalar = Rope::builder(64)
                .layout(layout)
                .backend(Backend::Scalar)
                .build()
                .unwrap();
            let mut want = x.clone();
            scalar.rotate(&mut want, 4, Positions::Start(77)).unwrap();
            for b in backends() {
                let mut y = x.clone();
                scalar
                    .clone()
                    .with_backend(b)
                    .unwrap()
                    .rotate(&mut y, 4, Positions::Start(77))
                    .unwrap();
                assert_same_bits(&want, &y, b.name());
            }
        }
    }
    run::<f32>();
    run::<f16>();
    run::<bf16>();
}

/// The test log must say which backends ran; on x86_64 with AVX-512 all four must.
#[test]
fn reports_backends_and_covers_this_machine() {
    let list = backends();
    assert!(list.contains(&Backend::Scalar) && list.contains(&Backend::Lanes));
    assert_eq!(Backend::detect(), *list.last().unwrap());
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    {
        assert_eq!(
            list.contains(&Backend::Avx2),
            std::is_x86_feature_detected!("avx2")
        );
        assert_eq!(
            list.contains(&Backend::Avx512),
            std::is_x86_feature_detected!("avx512f")
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        assert!(list.contains(&Backend::Neon));
        #[cfg(feature = "std")]
        assert_eq!(
            list.contains(&Backend::NeonBf16),
            std::arch::is_aarch64_feature_detected!("bf16")
        );
    }
}

/// Narrowing f32 to f16 and bf16 (a conversion-only `rotate_into` at position 0) gives
/// `half`'s bits on every backend, for every f32 whose low 16 bits are one of the patterns
/// that decide rounding, over every sign, exponent and top significand bits (2^16 x 64
/// inputs: NaNs, infinities, subnormals, overflow, ties), both in order (whole vectors of
/// one exponent) and shuffled (subnormal and normal lanes in one vector: the AVX512_BF16
/// path's fallback).
#[test]
fn narrowing_matches_half_on_every_backend() {
    let stride = if cfg!(miri) { 4099 } else { 1 };
    let lows: [u32; 8] = [0, 1, 0x0FFF, 0x1000, 0x1001, 0x7FFF, 0x8000, 0xFFFF];
    let mids = [0u32, 0x10, 0x2000, 0x2010, 0x4000, 0x6000, 0x7FF0, 0xE000];
    let mut x: Vec<f32> = Vec::new();
    for top in (0..=u32::from(u16::MAX)).step_by(stride) {
        for mid in mids {
            for low in lows {
                x.push(f32::from_bits((top << 16) | ((mid | low) & 0xFFFF)));
            }
        }
    }
    let n = x.len();
    let shuffled: Vec<f32> = (0..n).map(|i| x[(i * 7919) % n]).collect();
    assert!(!n.is_multiple_of(7919), "the shuffle must be a permutation");
    for input in [&x, &shuffled] {
        let want_h: Vec<u16> = input.iter().map(|&v| f16::from_f32(v).to_bits()).collect();
        let want_b: Vec<u16> = input.iter().map(|&v| bf16::from_f32(v).to_bits()).collect();
        for b in backends() {
            let rope = Rope::builder(64).backend(b).build().unwrap();
            let slot = View::tokens_heads(1);
            let (shape, p, f) = (
                View::tokens_heads(1),
                Positions::Same(0),
                Direction::Forward,
            );
            let mut h = vec![f16::ZERO; n];
            rope.apply_into(input, shape, &mut h, slot, p, f).unwrap();
            let mut bb = vec![bf16::ZERO; n];
            rope.apply_into(input, shape, &mut bb, slot, p, f).unwrap();
            for i in 0..n {
                assert_eq!(
                    h[i].to_bits(),
                    want_h[i],
                    "{}: f16 of {:#010x}",
                    b.name(),
                    input[i].to_bits()
                );
                assert_eq!(
                    bb[i].to_bits(),
                    want_b[i],
                    "{}: bf16 of {:#010x}",
                    b.name(),
                    input[i].to_bits()
                );
            }
        }
    }
}

/// bf16 to bf16 (in place and into a bf16 cache slot), from random bit patterns: every
/// class of value (NaN payloads, infinities, subnormals, ties after rotation) in the
/// same vectors, at the head sizes where the AVX512_BF16 kernels take their paired path
/// (whole chunks of 32 channels, several heads) and at some where they do not; bit for
/// bit against the scalar kernel on every backend. On x86_64 NaN payloads are compared
/// too where they are determined: x86 returns the first NaN operand (quieted), so a
/// result whose pair held one NaN carries that NaN's payload on every backend, while a
/// pair of two NaNs gives whichever the compiler put first (it may swap an add's
/// operands; the crate leaves payloads unspecified), compared only as NaN.
#[test]
fn bf16_from_every_bit_class_matches_scalar() {
    let same =
        |x: &[bf16], partner: &dyn Fn(usize) -> usize, want: &[bf16], got: &[bf16], what: &str| {
            // (Miri picks NaN payloads at random, as IEEE 754 allows.)
            let strict = cfg!(all(target_arch = "x86_64", not(miri)));
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                let two_nans = x[i].is_nan() && x[partner(i)].is_nan();
                if w.is_nan() && g.is_nan() && (!strict || two_nans) {
                    continue;
                }
                assert_eq!(
                    w.to_bits(),
                    g.to_bits(),
                    "{what}: element {i}: {w:?} vs {g:?}"
                );
            }
        };
    let mut rng = Rng(0xB_F16);
    for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
        let head_dims: &[usize] = if cfg!(miri) {
            &[32, 64]
        } else {
            &[32, 64, 96, 128, 256, 512]
        };
        for &head_dim in head_dims {
            // Scale 1.5 at position 0 (cos = 1.5, sin = 0) makes exact ties: a bf16 with
            // an odd last significand bit, times 1.5, lies halfway between two bf16.
            for (direction, scale) in [(Direction::Forward, 1.5), (Direction::Inverse, 1.0)] {
                let (heads, tokens) = (5, 4);
                let n = heads * tokens * head_dim;
                // Heads of four kinds: random bits; subnormal bf16 (so that the rotated
                // pairs are subnormal too, taking the kernels' fallback) with infinities
                // and NaNs of random payload in one lane of five; subnormal at even
                // channels only, or odd ones only (half-split pairs then give subnormal
                // results in only the even, or only the odd, lanes of a chunk).
                let x: Vec<bf16> = (0..n)
                    .map(|i| {
                        let b = rng.next_u64() as u16;
                        let (kind, t) = ((i / head_dim) % 4, i % head_dim);
                        let tiny = match kind {
                            1 => true,
                            2 => t % 2 == 0,
                            3 => t % 2 == 1,
                            _ => false,
                        };
                        bf16::from_bits(match (tiny, kind == 1 && i % 5 == 0) {
                            (true, true) => 0x7F80 | (b & 0x807F),
                            (true, false) => b & 0x807F,
                            (false, _) => b,
                        })
                    })
                    .collect();
                let positions = [0, rng.below(1 << 20) as u32, 7, rng.below(1 << 30) as u32];
                let shape = View::tokens_heads(heads);
                let scalar = Rope::builder(head_dim)
                    .layout(layout)
                    .scale(scale)
                    .backend(Backend::Scalar)
                    .build()
                    .unwrap();
                let slot = View::tokens_heads(heads).at(0);
                let at = Positions::List(&positions);
                // In place and into a slot, each against the scalar kernel doing the same
                // (they differ in one way: at the identity, position 0 and scale 1, in
                // place leaves a signaling NaN as it is, a copy into a slot quiets it).
                let run = |rope: &Rope| {
                    let mut y = x.clone();
                    rope.apply(&mut y, shape, at, direction).unwrap();
                    let mut dst = vec![bf16::ZERO; n];
                    rope.apply_into(&x, shape, &mut dst, slot, at, direction)
                        .unwrap();
                    (y, dst)
                };
                // The element paired with element `i` (every channel is rotated).
                let partner = |i: usize| {
                    let (base, t) = (i - i % head_dim, i % head_dim);
                    match layout {
                        PairLayout::Interleaved => base + (t ^ 1),
                        _ => base + (t + head_dim / 2) % head_dim,
                    }
                };
                let (want, want_into) = run(&scalar);
                for b in backends() {
                    let (y, dst) = run(&scalar.clone().with_backend(b).unwrap());
                    same(&x, &partner, &want, &y, &format!("{} in place", b.name()));
                    same(
                        &x,
                        &partner,
                        &want_into,
                        &dst,
                        &format!("{} into", b.name()),
                    );
                }
            }
        }
    }
}

/// f32 into an f32 cache slot with the source and the destination at every offset
/// 0..15 elements into their allocations (the same offset, where the AVX-512 kernels
/// walk rows back to back on cache-line boundaries, and others), bit for bit against the
/// scalar kernel, with canaries around the destination.
#[test]
fn f32_into_a_slot_at_every_offset_matches_scalar() {
    let (heads, tokens) = (4, 3);
    let positions = [3u32, 70_001, 9];
    let head_dims: &[usize] = if cfg!(miri) {
        &[32]
    } else {
        &[16, 32, 64, 128, 256]
    };
    let offsets = if cfg!(miri) { 2 } else { 16 };
    for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
        for &head_dim in head_dims {
            let n = heads * tokens * head_dim;
            let x: Vec<f32> = Rng(head_dim as u64 + 7).vec(n, 20.0);
            let shape = View::tokens_heads(heads);
            let slot = View::tokens_heads(heads).at(0);
            let at = Positions::List(&positions);
            let scalar = Rope::builder(head_dim)
                .layout(layout)
                .backend(Backend::Scalar)
                .build()
                .unwrap();
            let mut want = vec![0.0f32; n];
            scalar
                .apply_into(&x, shape, &mut want, slot, at, Direction::Forward)
                .unwrap();
            for b in backends() {
                let rope = scalar.clone().with_backend(b).unwrap();
                for src_off in 0..offsets {
                    for dst_off in [src_off, (src_off + 2) % offsets, (src_off + 5) % offsets] {
                        let mut src = vec![0.0f32; src_off + n];
                        src[src_off..].copy_from_slice(&x);
                        let mut dst = vec![CANARY; dst_off + n + 16];
                        rope.apply_into(
                            &src[src_off..],
                            shape,
                            &mut dst[dst_off..dst_off + n],
                            slot,
                            at,
                            Direction::Forward,
                        )
                        .unwrap();
                        let what = format!(
                            "{} {layout:?} head_dim {head_dim} offsets {src_off}/{dst_off}",
                            b.name()
                        );
                        assert_same_bits(&want, &dst[dst_off..dst_off + n], &what);
                        assert_canaries(&dst, dst_off, n, &what);
                    }
                }
            }
        }
    }
}

/// One call's stack, in every build: each backend and dtype, in place and into a slot,
/// on shapes that reach every kernel path (whole vectors, unrolled rows of 4-16 vectors,
/// the per-row loop past them, AVX-512 rows with AVX2 tails, the scalar tail), all on a
/// thread with a 128 KiB stack, bit for bit against the scalar kernel. Unoptimized code
/// gives every inlined function its own stack slots, so before the kernels stopped being
/// inlined into one another in such builds (`cfg(rope_simd_unoptimized)`, set by
/// `build.rs`) one AVX-512 call took 956 KiB.
#[test]
#[cfg_attr(
    any(miri, target_family = "wasm"),
    ignore = "spawns a thread: none on wasm32-wasip1, and slow under Miri"
)]
fn every_backend_runs_on_a_small_stack() {
    fn into<S: TestElement, D: TestElement>(rope: &Rope, scalar: &Rope, head_dim: usize) {
        let (heads, tokens) = (3, 2);
        let n = heads * tokens * head_dim;
        let x: Vec<S> = Rng(head_dim as u64 + 3).vec(n, 20.0);
        let shape = View::tokens_heads(heads);
        let slot = View::tokens_heads(heads).at(0);
        let at = Positions::List(&[5, 70_001]);
        let mut want = vec![D::from_f32(0.0); n];
        let mut got = want.clone();
        let fwd = Direction::Forward;
        scalar
            .apply_into(&x, shape, &mut want, slot, at, fwd)
            .unwrap();
        rope.apply_into(&x, shape, &mut got, slot, at, fwd).unwrap();
        let what = format!("{} -> {} into, head_dim {head_dim}", S::NAME, D::NAME);
        assert_same_bits(&want, &got, &what);
    }
    fn in_place<E: TestElement>(rope: &Rope, scalar: &Rope, head_dim: usize) {
        let heads = 5;
        let x: Vec<E> = Rng(head_dim as u64).vec(heads * head_dim, 20.0);
        let (mut want, mut got) = (x.clone(), x);
        let what = format!("{} head_dim {head_dim}", E::NAME);
        scalar
            .rotate(&mut want, heads, Positions::Start(9))
            .unwrap();
        rope.rotate(&mut got, heads, Positions::Start(9)).unwrap();
        assert_same_bits(&want, &got, &what);
        rope.table(10)
            .unwrap()
            .rotate(&mut got, heads, Positions::Start(9))
            .unwrap();
        scalar
            .rotate(&mut want, heads, Positions::Start(9))
            .unwrap();
        assert_same_bits(&want, &got, &format!("{what}, table"));
    }
    let run = || {
        for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
            for head_dim in [16, 64, 80, 128, 256, 512] {
                for rotary_dim in [head_dim, head_dim / 4] {
                    let build = |b| {
                        let r = Rope::builder(head_dim)
                            .rotary_dim(rotary_dim)
                            .layout(layout);
                        r.backend(b).build().unwrap()
                    };
                    let scalar = build(Backend::Scalar);
                    for b in backends() {
                        let rope = build(b);
                        in_place::<f32>(&rope, &scalar, head_dim);
                        in_place::<f16>(&rope, &scalar, head_dim);
                        in_place::<bf16>(&rope, &scalar, head_dim);
                        into::<f32, f32>(&rope, &scalar, head_dim);
                        into::<f32, f16>(&rope, &scalar, head_dim);
                        into::<f32, bf16>(&rope, &scalar, head_dim);
                        into::<f16, f16>(&rope, &scalar, head_dim);
                        into::<f16, f32>(&rope, &scalar, head_dim);
                        into::<f16, bf16>(&rope, &scalar, head_dim);
                        into::<bf16, f32>(&rope, &scalar, head_dim);
                        into::<bf16, f16>(&rope, &scalar, head_dim);
                    }
                }
            }
        }
    };
    std::thread::Builder::new()
        .stack_size(128 << 10)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

/// Calls of 4 MiB or more take other kernel paths (the prefetching ones, see
/// `generic::prefetch`): every backend against the scalar kernel on such calls, every
/// dtype, both layouts, full and partial rotary (and so row tails), two offsets.
#[test]
#[cfg_attr(
    any(miri, debug_assertions, not(target_arch = "x86_64")),
    ignore = "4 MiB buffers: x86_64 release builds only (elsewhere no kernel prefetches; \
              the x86_64 kernel tests also cover the prefetching paths in debug builds)"
)]
fn large_calls_match_scalar() {
    fn one<E: TestElement>(head_dim: usize) {
        let heads = 6;
        let tokens = (4 << 20) / (heads * head_dim * core::mem::size_of::<E>()) + 3;
        let n = tokens * heads * head_dim;
        let x: Vec<E> = Rng(n as u64).vec(n, 30.0);
        for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
            for rotary_dim in [head_dim, head_dim / 4] {
                let build = |b| {
                    let r = Rope::builder(head_dim)
                        .rotary_dim(rotary_dim)
                        .layout(layout)
                        .base(500_000.0);
                    r.backend(b).build().unwrap()
                };
                let mut want = x.clone();
                let at = Positions::Start(1000);
                build(Backend::Scalar).rotate(&mut want, heads, at).unwrap();
                for b in backends() {
                    for offset in [0, 3] {
                        let mut buf = vec![E::from_f32(CANARY); n + offset];
                        buf[offset..].copy_from_slice(&x);
                        build(b).rotate(&mut buf[offset..], heads, at).unwrap();
                        let what = format!(
                            "{} {layout:?} rotary {rotary_dim} {} offset {offset}",
                            E::NAME,
                            b.name()
                        );
                        assert_same_bits(&want, &buf[offset..], &what);
                    }
                }
            }
        }
    }
    // 80: rows of whole vectors and tails; 128: every backend's unrolled rows.
    for head_dim in [80, 128] {
        one::<f32>(head_dim);
        one::<f16>(head_dim);
        one::<bf16>(head_dim);
    }
}
