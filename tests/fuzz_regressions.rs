//! Inputs the `rotate` fuzz target once failed on (`fuzz/regressions/rotate/`), and its
//! seed corpus (`fuzz/seeds/rotate/`), run through the same check as the fuzzer
//! (`fuzz/src/rotate_case.rs`). A new crash found by `cargo fuzz` is saved there.

#[path = "../fuzz/src/bytes.rs"]
mod bytes;
mod common;
#[path = "../fuzz/src/rotate_case.rs"]
mod rotate_case;

#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn fuzz_regressions_and_seeds_pass() {
    let mut n = 0;
    // `ROPE_SIMD_FUZZ_INPUTS`: other directories to run instead (separated by `:`), as
    // `scripts/fuzz_coverage.sh` runs the corpus on aarch64.
    let dirs = std::env::var("ROPE_SIMD_FUZZ_INPUTS")
        .unwrap_or_else(|_| "fuzz/regressions/rotate:fuzz/seeds/rotate".into());
    for dir in dirs.split(':') {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&path).unwrap() {
            let file = entry.unwrap().path();
            eprintln!("{}", file.display());
            rotate_case::run(&std::fs::read(&file).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "no inputs found");
}
