//! Every backend against the scalar one, bit for bit (the scalar backend is checked
//! against the float64 reference by the test suite, `tests/backends.rs`): in place (on-the-fly cos/sin and a
//! table) and out of place (every source and destination dtype), over head sizes around
//! each vector width, partial rotary, both directions, unaligned starts, and inputs with
//! NaN, infinities, zeros of both signs and subnormals.
use crate::fingerprint::Bits;
use crate::println;
use crate::rng::Rng;
use crate::ropes::rope;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use rope_simd::{
    bf16, f16, Backend, Direction, Element, PairLayout, Positions, Rope, Rotate, View,
};

const HEAD_DIMS: &[usize] = &[
    2, 4, 6, 8, 14, 16, 18, 30, 32, 62, 64, 66, 96, 128, 200, 256, 272, 512,
];
const POSITIONS: [u64; 4] = [1, 4095, 65_537, 4_000_000_007];
const HEADS: usize = 3;
/// Elements past a 64-byte boundary where a buffer starts: aligned, odd, even (the
/// aligned run takes f32 rows that start the same even or odd number of elements past a
/// vector boundary), and the last element before the next boundary.
const OFFSETS: [usize; 4] = [0, 1, 2, 15];
const LAYOUTS: [PairLayout; 3] = [
    PairLayout::Interleaved,
    PairLayout::HalfSplit,
    PairLayout::InterleavedToHalfSplit,
];

/// Random values with the special ones planted among them.
fn input<E: Element>(seed: u64, n: usize) -> Vec<E> {
    let mut x = vec![E::from_f32(0.0); n];
    Rng(seed).fill(&mut x, 50.0);
    let special = [
        f32::NAN,
        f32::INFINITY,
        -0.0,
        1e-40,
        -3e-39,
        f32::NEG_INFINITY,
    ];
    for (i, s) in special.iter().enumerate() {
        let at = (seed as usize * 7 + i * 13) % n;
        x[at] = E::from_f32(*s);
    }
    x
}

/// `got` has `want`'s bits (any NaN matches any NaN), or the run stops at the first
/// difference.
fn same<E: Bits>(want: &[E], got: &[E], what: impl Fn() -> String) {
    assert_eq!(want.len(), got.len(), "{}: lengths", what());
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        let nan = |v: E| v.to_f32().is_nan();
        if w.bits32() == g.bits32() || (nan(*w) && nan(*g)) {
            continue;
        }
        panic!(
            "{}: element {i}: {:#x} (scalar) vs {:#x}",
            what(),
            w.bits32(),
            g.bits32()
        );
    }
}

/// `n` elements of `buf` from `offset` elements past its first 64-byte boundary.
fn at_offset<E>(buf: &mut [E], offset: usize, n: usize) -> &mut [E] {
    let start = buf.as_ptr().align_offset(64) + offset;
    &mut buf[start..start + n]
}

/// The shapes: (layout, head_dim, rotary_dim).
fn shapes() -> impl Iterator<Item = (PairLayout, usize, usize)> {
    LAYOUTS.into_iter().flat_map(|layout| {
        HEAD_DIMS.iter().flat_map(move |&d| {
            [d, (d / 4) * 2]
                .into_iter()
                .filter(|&r| r >= 2)
                .map(move |r| (layout, d, r))
        })
    })
}

fn in_place<E: Bits>(backends: &[Backend]) -> usize {
    let mut cases = 0;
    for (layout, head_dim, rotary_dim) in shapes() {
        for (view, direction) in [
            (View::tokens_heads(HEADS), Direction::Forward),
            (View::heads_tokens(HEADS), Direction::Inverse),
        ] {
            let n = POSITIONS.len() * HEADS * head_dim;
            let x: Vec<E> = input(head_dim as u64 * 31 + rotary_dim as u64, n);
            let at = Positions::List64(&POSITIONS);
            let mut want = x.clone();
            let scalar = rope(head_dim, rotary_dim, layout, Backend::Scalar);
            scalar.apply(&mut want, view, at, direction).unwrap();
            let mut want_table = x.clone();
            let table = scalar.table(8).unwrap();
            let at_table = Positions::Start(4);
            table
                .apply(&mut want_table, view, at_table, direction)
                .unwrap();
            for &backend in backends {
                let rope = rope(head_dim, rotary_dim, layout, backend);
                let table = rope.table(8).unwrap();
                for offset in OFFSETS {
                    let mut buf = vec![E::from_f32(0.0); n + 64];
                    let y = at_offset(&mut buf, offset, n);
                    y.copy_from_slice(&x);
                    rope.apply(y, view, at, direction).unwrap();
                    if cfg!(feature = "plant") && backend == Backend::Avx512 {
                        // A finite value other than the right one (`+ 1` would leave a
                        // NaN or an infinity as it was).
                        let wrong = if want[0].to_f32() == 0.5 { 0.25 } else { 0.5 };
                        y[0] = E::from_f32(wrong);
                    }
                    let what = |source: &str| {
                        let (t, b, d) = (E::NAME, backend.name(), direction);
                        let shape = format!("{layout:?} {head_dim}/{rotary_dim}");
                        format!("{t} {shape} {d:?} {source}{b} offset {offset}")
                    };
                    same(&want, y, || what(""));
                    y.copy_from_slice(&x);
                    table.apply(y, view, at_table, direction).unwrap();
                    same(&want_table, y, || what("table "));
                    cases += 2;
                }
            }
        }
    }
    cases
}

fn into<S: Bits, D: Bits>(backends: &[Backend]) -> usize {
    let mut cases = 0;
    for (layout, head_dim, rotary_dim) in shapes() {
        let n = POSITIONS.len() * HEADS * head_dim;
        let x: Vec<S> = input(head_dim as u64 * 17 + rotary_dim as u64, n);
        let (v, at) = (View::tokens_heads(HEADS), Positions::List64(&POSITIONS));
        let mut want = vec![D::from_f32(0.0); n];
        let scalar = rope(head_dim, rotary_dim, layout, Backend::Scalar);
        scalar.rotate_into(&x, v, &mut want, v, at).unwrap();
        for &backend in backends {
            let rope = rope(head_dim, rotary_dim, layout, backend);
            for offset in OFFSETS {
                let mut buf = vec![D::from_f32(0.0); n + 64];
                let y = at_offset(&mut buf, offset, n);
                rope.rotate_into(&x, v, y, v, at).unwrap();
                same(&want, y, || {
                    let (s, d, b) = (S::NAME, D::NAME, backend.name());
                    format!("{s} into {d} {layout:?} {head_dim}/{rotary_dim} {b} offset {offset}")
                });
                cases += 1;
            }
        }
    }
    cases
}

/// One call past the size where the kernels change how they store: in place from
/// `PREFETCH_BYTES` (4 MiB: prefetching), out of place from `STREAM_BYTES` of 16-bit
/// output (16 MiB: non-temporal stores), on the ISAs that do either (AVX2, AVX-512,
/// AVX512_BF16).
/// `tokens` of 8 heads x 128, half-split.
fn large<S: Bits, D: Bits>(backends: &[Backend], tokens: usize, in_place: bool) -> usize {
    let (n, v, at) = (
        tokens * 8 * 128,
        View::tokens_heads(8),
        Positions::Start(100),
    );
    let build = |b| rope(128, 128, PairLayout::HalfSplit, b);
    // In place (S = D), `fresh` rotates a copy of the input `x`.
    let x: Vec<S> = input(3, n);
    let fresh = |rope: &Rope, out: &mut [D]| {
        if in_place {
            out.iter_mut()
                .zip(&x)
                .for_each(|(o, s)| *o = D::from_f32(s.to_f32()));
            rope.rotate(out, 8, at).unwrap();
        } else {
            rope.rotate_into(&x, v, out, v, at).unwrap();
        }
    };
    let scalar = build(Backend::Scalar);
    let mut want = vec![D::from_f32(0.0); n];
    fresh(&scalar, &mut want);
    // 64-byte aligned, as non-temporal stores need (unaligned output stores plainly).
    let mut buf = vec![D::from_f32(0.0); n + 64];
    let got = at_offset(&mut buf, 0, n);
    let isas = backends
        .iter()
        .filter(|b| matches!(b, Backend::Avx2 | Backend::Avx512 | Backend::Avx512Bf16));
    isas.clone().for_each(|&backend| {
        fresh(&build(backend), got);
        let how = if in_place { "in place" } else { "into" };
        same(&want, got, || {
            format!("large {} {how} {} {}", S::NAME, D::NAME, backend.name())
        });
    });
    isas.count()
}

/// Every case of every backend but the scalar one; returns how many.
pub fn every_backend(backends: &[Backend]) -> usize {
    let others = match backends.iter().position(|&b| b == Backend::Scalar) {
        Some(0) => &backends[1..],
        _ => panic!("the scalar backend is not first in {backends:?}"),
    };
    let mut cases = in_place::<f32>(others) + in_place::<f16>(others) + in_place::<bf16>(others);
    cases += large::<f16, f16>(others, 2048, true);
    println!("in place: {cases} cases");
    macro_rules! pairs {
        ($($s:ty => $($d:ty),*;)*) => { $($( cases += into::<$s, $d>(others); )*)* };
    }
    pairs! {
        f32 => f32, f16, bf16;
        f16 => f32, f16, bf16;
        bf16 => f32, f16, bf16;
    }
    cases + large::<f32, f16>(others, 8192, false) + large::<f32, bf16>(others, 8192, false)
}
