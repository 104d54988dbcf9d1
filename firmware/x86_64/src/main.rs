//! rope-simd's x86_64 backends on a bare-metal machine that Bochs emulates (its Tiger
//! Lake model: AVX-512F/BW/DQ/VL, no AVX512_BF16), so that the AVX-512 kernels are run
//! and checked on hosts without AVX-512 (QEMU emulates none). The crate detects the CPU
//! by CPUID and XGETBV as it does under an OS. Prints every backend's determinism
//! fingerprint (it must be the recorded one) and compares every backend with the scalar
//! one bit for bit over a sweep of shapes, dtypes, layouts, offsets and directions.
//!
//! ```text
//! bash firmware/x86_64/run.sh
//! ```
#![no_std]
#![no_main]

extern crate alloc;

mod boot;
mod sweep;

// The test suite's fingerprint (`tests/determinism.rs`) and the buffers it draws.
#[path = "../../../tests/common/fingerprint.rs"]
#[allow(dead_code)] // `fingerprint`, the suite's entry: here `fingerprint_with`
mod fingerprint;
#[path = "../../../tests/common/rng.rs"]
mod rng;
#[path = "../../../tests/common/ropes.rs"]
mod ropes;

use alloc::vec;
use fingerprint::{fingerprint_with, GOLDEN, HEADS, POSITIONS, RANGE};
use rope_simd::{f16, Backend, Direction, Positions, Rope, Rotate, View};

/// An f16 fingerprint result with the emulator's ties rounded to even again: the same
/// rotation into f32 (which rounds nothing) gives the value each element rounded.
fn round_ties_to_even(rope: &Rope, dir: Direction, seed: u64, out: &mut [f16]) {
    let mut x = vec![f16::ZERO; out.len()];
    rng::Rng(seed).fill(&mut x, RANGE);
    let mut wide = vec![0.0f32; out.len()];
    let (v, at) = (View::tokens_heads(HEADS), Positions::List64(&POSITIONS));
    rope.apply_into(&x, v, &mut wide, v, at, dir).unwrap();
    for (o, &w) in out.iter_mut().zip(&wide) {
        let even = f16::from_f32(w);
        if sweep::emulator_tie(even, *o, w) {
            *o = even;
        }
    }
}

#[no_mangle]
extern "C" fn kmain() -> ! {
    boot::serial_init();
    // A fixed list, not a `Vec`: the heap starts over only when nothing on it is live.
    let mut list = [Backend::Scalar; 8];
    let n = Backend::available()
        .zip(&mut list)
        .map(|(b, slot)| *slot = b)
        .count();
    let backends = &list[..n];
    println!("x86_64 bare metal: backends {backends:?}");
    if !backends.contains(&Backend::Avx512) {
        println!("x86_64 bare metal: FAILED (no AVX-512 detected; the CPU model must have it)");
        boot::shutdown();
    }
    let cases = sweep::every_backend(backends);
    for &b in backends {
        let got = fingerprint_with(b, &mut round_ties_to_even);
        println!("fingerprint / {}: {got:#018x}", b.name());
        assert_eq!(
            got,
            GOLDEN,
            "{} differs from the recorded fingerprint",
            b.name()
        );
    }
    println!(
        "{cases} cases the same bits as the scalar backend ({} f16 results one step off at \
         the emulator's ties)",
        sweep::ties()
    );
    println!("x86_64 bare metal: ok");
    boot::shutdown()
}
