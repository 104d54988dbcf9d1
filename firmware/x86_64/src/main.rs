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
    if !backends.contains(&Backend::Avx512Bf16) {
        println!("x86_64 bare metal: FAILED (AVX512_BF16 not detected; the CPU model has it)");
        boot::shutdown();
    }
    let cases = sweep::every_backend(backends);
    for &b in backends {
        let got = fingerprint(b);
        println!("fingerprint / {}: {got:#018x}", b.name());
        assert_eq!(
            got,
            GOLDEN,
            "{} differs from the recorded fingerprint",
            b.name()
        );
    }
    println!("{cases} cases the same bits as the scalar backend");
    println!("x86_64 bare metal: ok");
    boot::shutdown()
}
