//! rope-simd's x86_64 backends on a bare-metal machine that Bochs emulates (its Sapphire
//! Rapids model: AVX-512F/BW/DQ/VL and AVX512_BF16), so that the AVX-512 kernels are run
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
mod fingerprint;
#[path = "../../../tests/common/rng.rs"]
mod rng;
#[path = "../../../tests/common/ropes.rs"]
mod ropes;

use fingerprint::{fingerprint, GOLDEN};
use rope_simd::Backend;

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
    // `grub.cfg` says which CPU model runs: Sapphire Rapids (AVX512_BF16) for the whole
    // check, or with "no-bf16" Tiger Lake (AVX-512 without it), where only detection and
    // the fingerprint are checked (its kernels are Sapphire Rapids's other ones).
    let no_bf16 = boot::command_line()
        .split(|&b| b == b' ')
        .any(|w| w == b"no-bf16");
    let bf16_expected = !no_bf16;
    if !backends.contains(&Backend::Avx512)
        || backends.contains(&Backend::Avx512Bf16) != bf16_expected
    {
        println!("x86_64 bare metal: FAILED (not the backends of this CPU model)");
        boot::shutdown();
    }
    if no_bf16 {
        if let Err(e) = rope_simd::Rope::new(64, 1e4, rope_simd::PairLayout::HalfSplit)
            .and_then(|r| r.with_backend(Backend::Avx512Bf16))
        {
            println!("Avx512Bf16 refused: {e}");
        } else {
            panic!("Avx512Bf16 forced on a CPU without AVX512_BF16");
        }
        check_fingerprints(backends);
        println!("x86_64 bare metal: ok (detection)");
        boot::shutdown()
    }
    let cases = sweep::every_backend(backends);
    check_fingerprints(backends);
    println!("{cases} cases the same bits as the scalar backend");
    println!("x86_64 bare metal: ok");
    boot::shutdown()
}

/// Every backend's fingerprint is the recorded one.
fn check_fingerprints(backends: &[Backend]) {
    for &b in backends {
        let (got, name) = (fingerprint(b), b.name());
        println!("fingerprint / {name}: {got:#018x}");
        assert_eq!(got, GOLDEN, "{name} differs from the recorded fingerprint");
    }
}
