//! The same bits on every architecture: a fingerprint of many rotations (every dtype,
//! layout, scale, direction, positions up to u32::MAX) must equal the one recorded on
//! x86_64, whichever backend runs. `.ci/run` runs this on x86_64, on aarch64 (qemu) and
//! on wasm32 (Node.js), so a difference in any architecture's libm, SIMD conversions or
//! operation order fails CI.
//!
//! If the arithmetic is changed on purpose, rerun on x86_64 with `--nocapture`, check
//! the other tests still pass, and record the new value in `common/fingerprint.rs`
//! (the bare-metal x86_64 program, `firmware/x86_64`, checks the same value).

mod common;

use common::fingerprint::{fingerprint, GOLDEN};

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
