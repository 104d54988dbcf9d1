//! Every kernel set against the scalar kernel, bit for bit, through `dispatch` (the
//! integration tests in `tests/backends.rs` check the public entry points; this one
//! drives the kernels directly, on one and three rows, with ties and special values).

use super::{Backend, Isa};
use crate::kernel::Span;
use half::{bf16, f16};
use std::{vec, vec::Vec};

/// Random bits, and every 5th element one of the values that test rounding and
/// special cases: signed zeros, subnormals, infinities, NaNs with payloads.
fn data<E: Copy>(n: usize, seed: &mut u64, from_bits: fn(u64) -> E, special: &[u64]) -> Vec<E> {
    (0..n)
        .map(|i| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let bits = if i % 5 == 4 {
                special[(*seed % special.len() as u64) as usize]
            } else {
                *seed >> 11
            };
            from_bits(bits)
        })
        .collect()
}

/// An element type's bits, both ways.
type Bits<E> = (fn(u64) -> E, fn(E) -> u64);

/// One kernel against the scalar one, bit for bit, in place and (16-bit to the same
/// type) out of place, on every head size of the backend sweep, whole and partial
/// rotary, both layouts, both directions, one and three rows.
fn check<E: crate::Element>(isa: Isa, (from_bits, to_bits): Bits<E>, special: &[u64]) {
    // NaNs compare as NaN: their payloads are not specified (the compiler may swap
    // the operands of an add, and with two NaN operands x86 keeps the first).
    let bits = |v: &[E]| {
        v.iter()
            .map(|&e| {
                if e.to_f32().is_nan() {
                    u64::MAX
                } else {
                    to_bits(e)
                }
            })
            .collect::<Vec<_>>()
    };
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for hd in [
        2usize, 4, 6, 8, 14, 16, 18, 30, 32, 62, 64, 66, 96, 128, 256, 512,
    ] {
        for rotary in [hd, (hd / 2) & !1].into_iter().filter(|&r| r > 0) {
            let n = rotary / 2;
            // Angles in [0, 100) rad, every fifth 0 (cos 1, sin 0).
            let angles = data(n, &mut seed, |b| (b % 100_000) as f64 * 0.001, &[0]);
            let mut cos: Vec<f32> = angles.iter().map(|&a: &f64| a.cos() as f32).collect();
            let mut sin: Vec<f32> = angles.iter().map(|&a: &f64| a.sin() as f32).collect();
            for i in 0..16 {
                let (interleaved, inverse) = (i & 1 == 1, i & 2 == 2);
                let (rows, ties) = (1 + (i & 4) / 2, i & 8 == 8);
                if ties {
                    // cos 1.5, sin 0: a 16-bit value with an odd last significand
                    // bit, times 1.5, lies halfway between two 16-bit values.
                    cos.fill(1.5);
                    sin.fill(0.0);
                }
                let span = Span {
                    rows,
                    stride: hd,
                    first: 0,
                    second: n,
                    n,
                    interleaved,
                    inverse,
                    stream: false,
                    // A hint, wherever it points: both ways give the same bits.
                    prefetch: ties,
                };
                let x = data(rows * hd, &mut seed, from_bits, special);
                let (mut want, mut got) = (x.clone(), x.clone());
                crate::kernel::scalar(&mut want, &span, &cos, &sin);
                isa.rotate(&mut got, &span, &cos, &sin);
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{isa:?} {} hd {hd} rotary {rotary} {span:?}",
                    E::NAME
                );
                let dst_stride = hd + 3;
                let mut want = vec![from_bits(0); rows * dst_stride];
                let mut got = want.clone();
                crate::kernel::scalar_into(&x, &mut want, &span, dst_stride, &cos, &sin);
                isa.rotate_into(&x, &mut got, &span, dst_stride, &cos, &sin);
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "{isa:?} {} into, hd {hd} {span:?}",
                    E::NAME
                );
            }
        }
    }
}

/// Every kernel set this CPU runs gives the scalar kernel's bits, in place and (16-bit to
/// the same type) out of place, on rounding ties, NaN payloads, subnormals and infinities.
#[test]
fn every_backend_matches_scalar_bit_for_bit() {
    let bf16_special: &[u64] = &[
        0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x7F80, 0xFF80, 0x7FC1, 0xFF81, 0x3F80, 0x4000,
    ];
    let f16_special: &[u64] = &[
        0x0000, 0x8000, 0x0001, 0x83FF, 0x0400, 0x7C00, 0xFC00, 0x7E01, 0xFC01, 0x3C00, 0x7BFF,
    ];
    let f32_special: &[u64] = &[
        0,
        0x8000_0000,
        1,
        0x807F_FFFF,
        0x0080_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x7FC0_0001,
        0xFF80_0001,
        0x3F80_0000,
    ];
    let bf: Bits<bf16> = (|b| bf16::from_bits(b as u16), |v| u64::from(v.to_bits()));
    let hf: Bits<f16> = (|b| f16::from_bits(b as u16), |v| u64::from(v.to_bits()));
    let ff: Bits<f32> = (|b| f32::from_bits(b as u32), |v| u64::from(v.to_bits()));
    for backend in Backend::available() {
        let isa = Isa::of(backend).unwrap();
        check(isa, bf, bf16_special);
        check(isa, hf, f16_special);
        check(isa, ff, f32_special);
    }
}
