//! Inputs the fuzz targets once failed on (`fuzz/regressions/TARGET/`), and their seed
//! corpora (`fuzz/seeds/TARGET/`), run through the same checks as the fuzzer
//! (`fuzz/src/rotate_case.rs`, `fuzz/src/config_case.rs`; the C ABI's are replayed by
//! `capi/tests/fuzz_regressions.rs`). A new crash found by `cargo fuzz` is saved there.

#[path = "../fuzz/src/bytes.rs"]
#[allow(dead_code)] // without `serde`, the config case and its readers are not built
mod bytes;
mod common;
#[cfg(feature = "serde")]
#[path = "../fuzz/src/config_case.rs"]
mod config_case;
#[path = "../fuzz/src/rotate_case.rs"]
mod rotate_case;

/// Every file of `dirs` (relative to the crate, `:`-separated) through `case`; how many
/// there were.
fn replay(dirs: &str, case: fn(&[u8])) -> usize {
    let mut n = 0;
    for dir in dirs.split(':') {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let entries =
            std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for entry in entries {
            let file = entry.unwrap().path();
            eprintln!("{}", file.display());
            case(&std::fs::read(&file).unwrap());
            n += 1;
        }
    }
    n
}

#[test]
#[cfg_attr(
    miri,
    ignore = "pure f64 arithmetic or long sweeps; too slow under Miri"
)]
fn fuzz_regressions_and_seeds_pass() {
    // `ROPE_SIMD_FUZZ_INPUTS`: other directories to run instead (separated by `:`), as
    // `scripts/fuzz_coverage.sh` runs the corpus on aarch64.
    let dirs = std::env::var("ROPE_SIMD_FUZZ_INPUTS")
        .unwrap_or_else(|_| "fuzz/regressions/rotate:fuzz/seeds/rotate".into());
    assert!(replay(&dirs, rotate_case::run) > 0, "no inputs found");
}

/// The `config` target's (it compares with serde's reading, so it needs `serde`).
#[test]
#[cfg(feature = "serde")]
#[cfg_attr(miri, ignore = "parses every seed config.json; too slow under Miri")]
fn config_fuzz_regressions_and_seeds_pass() {
    // No `config` input has failed yet: its regressions directory appears with the first.
    let regressions = "fuzz/regressions/config";
    let dirs = match std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(regressions)
        .exists()
    {
        true => format!("{regressions}:fuzz/seeds/config"),
        false => "fuzz/seeds/config".into(),
    };
    assert!(replay(&dirs, config_case::run) > 0, "no inputs found");
}
