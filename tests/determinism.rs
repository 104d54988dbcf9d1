//! The same bits on every architecture: a fingerprint of many rotations (every dtype,
//! layout, scale, direction, positions up to u32::MAX) must equal the one recorded on
//! x86_64, whichever backend runs. `.ci/run` runs this on x86_64, on aarch64 (qemu) and
//! on wasm32 (Node.js), so a difference in any architecture's libm, SIMD conversions or
//! operation order fails CI.
//!
//! If the arithmetic is changed on purpose, rerun on x86_64 with `--nocapture`, check
//! the other tests still pass, and record the new value here.

mod common;

use common::{Rng, TestElement};
use rope_simd::{bf16, f16, Backend, Direction, PairLayout, Positions, Rope, Rotate, View};

/// Recorded on x86_64 (scalar, lanes, AVX2 and AVX-512 agree).
const GOLDEN: u64 = 0xf027_85f1_0fb6_9971;

struct Fnv(u64);
impl Fnv {
    fn eat(&mut self, v: u32) {
        for b in v.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn fingerprint(backend: Backend) -> u64 {
    fn feed<E: TestElement>(h: &mut Fnv, rope: &Rope, seed: u64, dir: Direction) {
        let positions: [u64; 10] = [
            0,
            1,
            7,
            4095,
            32_767,
            131_071,
            500_000,
            1_000_000,
            (1 << 24) + 3,
            u64::from(u32::MAX),
        ];
        let mut x: Vec<E> = Rng(seed).vec(positions.len() * 3 * rope.head_dim(), 20.0);
        rope.apply(
            &mut x,
            View::tokens_heads(3),
            Positions::List64(&positions),
            dir,
        )
        .unwrap();
        x.iter().for_each(|v| h.eat(v.bits()));
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    let mut seed = 1;
    for layout in [PairLayout::Interleaved, PairLayout::HalfSplit] {
        for (head_dim, rotary_dim) in [(64, 64), (80, 32), (128, 128), (96, 96)] {
            for (base, scale) in [(10_000.0, 1.0), (500_000.0, 1.0), (1e6, 0.8), (1e4, 1.2079)] {
                let rope = Rope::builder(head_dim)
                    .rotary_dim(rotary_dim)
                    .layout(layout)
                    .base(base)
                    .scale(scale)
                    .backend(backend)
                    .build()
                    .unwrap();
                // Transpose: the bits `Direction::Inverse` gave before it became the true
                // inverse (the recorded fingerprint covers them).
                for dir in [Direction::Forward, Direction::Transpose] {
                    seed += 1;
                    feed::<f32>(&mut h, &rope, seed, dir);
                    feed::<f16>(&mut h, &rope, seed, dir);
                    feed::<bf16>(&mut h, &rope, seed, dir);
                }
                let table = rope.table(64).unwrap();
                let (c, s) = table.cos_sin(63).unwrap();
                c.iter().chain(s).for_each(|v| h.eat(v.to_bits()));
            }
        }
    }
    h.0
}

#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn same_bits_on_every_architecture_and_backend() {
    for backend in common::backends() {
        let got = fingerprint(backend);
        eprintln!(
            "fingerprint on {} / {}: {got:#018x}",
            std::env::consts::ARCH,
            backend.name()
        );
        assert_eq!(
            got,
            GOLDEN,
            "{} on {} differs from x86_64",
            backend.name(),
            std::env::consts::ARCH
        );
    }
}
