//! The bits `firmware/` checks on a Cortex-M4 under QEMU: this test computes the same
//! rotations on the host and asserts that the hashes written in `firmware/src/main.rs`
//! are these (the crate gives the same bits on every architecture, so a difference under
//! QEMU is a real one). After a change of bits, put the printed hashes there.

use rope_simd::{f16, PairLayout, Positions, Rope, Rotate, View};

const HEADS: usize = 8;
const HEAD_DIM: usize = 128;

fn hash(bits: impl Iterator<Item = u32>) -> u32 {
    bits.fold(0x811C_9DC5, |h, b| (h ^ b).wrapping_mul(0x0100_0193))
}

fn input() -> Vec<f32> {
    (0..HEADS * HEAD_DIM)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.02)
        .collect()
}

/// `name`'s value in the firmware's source (`const NAME: u32 = 0x...;`).
fn pinned(source: &str, name: &str) -> u32 {
    let at = source
        .find(&format!("const {name}: u32 = "))
        .unwrap_or_else(|| panic!("{name} not in firmware/src/main.rs"));
    let hex = source[at..].split("0x").nth(1).unwrap();
    let hex: String = hex
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '_')
        .collect();
    u32::from_str_radix(&hex.replace('_', ""), 16).unwrap()
}

#[test]
fn firmware_expects_the_hosts_bits() {
    let rope = Rope::new(HEAD_DIM, 500_000.0, PairLayout::HalfSplit).unwrap();
    let mut x = input();
    rope.rotate(&mut x, HEADS, Positions::Start(1234)).unwrap();
    let rotate = hash(x.iter().map(|v| v.to_bits()));
    let k = input();
    let mut cache = vec![f16::ZERO; 4 * HEADS * HEAD_DIM];
    let slot = View::tokens_heads(HEADS).at(3);
    rope.rotate_into(
        &k,
        View::tokens_heads(HEADS),
        &mut cache,
        slot,
        Positions::Start(1234),
    )
    .unwrap();
    let into = hash(cache.iter().map(|v| u32::from(v.to_bits())));
    println!("host: rotate {rotate:#010x}, rotate_into {into:#010x}");
    let source = include_str!("../firmware/src/main.rs");
    assert_eq!(
        pinned(source, "WANT_ROTATE"),
        rotate,
        "WANT_ROTATE in firmware/src/main.rs"
    );
    assert_eq!(
        pinned(source, "WANT_INTO"),
        into,
        "WANT_INTO in firmware/src/main.rs"
    );
    // The C firmware (firmware/c/main.c, the no_std C library) checks the same bits.
    let c = include_str!("../firmware/c/main.c");
    for (name, want) in [("WANT_ROTATE", rotate), ("WANT_INTO", into)] {
        let line = format!("#define {name} {want:#010x}u");
        assert!(c.contains(&line), "firmware/c/main.c must have `{line}`");
    }
}
