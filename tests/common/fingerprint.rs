//! The determinism fingerprint: an FNV-1a hash of the bits of many rotations (every dtype,
//! layout, scale, direction, positions up to u32::MAX, and a table's last row). Without
//! `std` or `alloc`, so that `tests/determinism.rs` and the bare-metal x86_64 program
//! (`firmware/x86_64`: the AVX-512 kernels under Bochs) compute it from the same code.

use super::rng::Rng;
use rope_simd::{
    bf16, f16, Backend, Direction, Element, PairLayout, Positions, Rope, Rotate, View,
};

/// Recorded on x86_64 (scalar, lanes, AVX2 and AVX-512 agree).
pub const GOLDEN: u64 = 0xf027_85f1_0fb6_9971;

struct Fnv(u64);
impl Fnv {
    fn eat(&mut self, v: u32) {
        for b in v.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// An element's bits, widened.
pub trait Bits: Element {
    fn bits32(self) -> u32;
}
impl Bits for f32 {
    fn bits32(self) -> u32 {
        self.to_bits()
    }
}
impl Bits for f16 {
    fn bits32(self) -> u32 {
        u32::from(self.to_bits())
    }
}
impl Bits for bf16 {
    fn bits32(self) -> u32 {
        u32::from(self.to_bits())
    }
}

const POSITIONS: [u64; 10] = [
    0,
    1,
    7,
    4095,
    32_767,
    131_071,
    500_000,
    1_000_000,
    (1 << 24) + 3,
    u32::MAX as u64,
];
const HEADS: usize = 3;
/// The inputs are drawn from [-RANGE, RANGE].
const RANGE: f32 = 20.0;
const MAX_HEAD_DIM: usize = 128;
const TABLE_ROWS: usize = 64;

fn feed<E: Bits>(h: &mut Fnv, rope: &Rope, seed: u64, dir: Direction) {
    let mut buf = [E::from_f32(0.0); POSITIONS.len() * HEADS * MAX_HEAD_DIM];
    let x = &mut buf[..POSITIONS.len() * HEADS * rope.head_dim()];
    Rng(seed).fill(x, RANGE);
    rope.apply(
        x,
        View::tokens_heads(HEADS),
        Positions::List64(&POSITIONS),
        dir,
    )
    .unwrap();
    x.iter().for_each(|v| h.eat(v.bits32()));
}

/// The fingerprint of `backend`'s rotations: [`GOLDEN`] on every backend and architecture.
pub fn fingerprint(backend: Backend) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    let mut seed = 1;
    let mut storage = [0.0f32; TABLE_ROWS * MAX_HEAD_DIM];
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
                let len = rope.table_len(TABLE_ROWS).unwrap();
                let table = rope.build_table(TABLE_ROWS, &mut storage[..len]).unwrap();
                let (c, s) = table.cos_sin(TABLE_ROWS - 1).unwrap();
                c.iter().chain(s).for_each(|v| h.eat(v.to_bits()));
            }
        }
    }
    h.0
}
