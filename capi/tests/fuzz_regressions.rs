//! Inputs the `capi` fuzz target once failed on (`fuzz/regressions/capi/`), and its seed
//! corpus, run through the fuzzer's own check (`fuzz/src/capi_case.rs`).

#[path = "../../fuzz/src/bytes.rs"]
mod bytes;
#[path = "../../fuzz/src/capi_case.rs"]
mod capi_case;

#[test]
fn fuzz_regressions_and_seeds_pass() {
    let mut n = 0;
    for dir in ["../fuzz/regressions/capi", "../fuzz/seeds/capi"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&path).unwrap() {
            let file = entry.unwrap().path();
            capi_case::run(&std::fs::read(&file).unwrap());
            n += 1;
        }
    }
    assert!(n > 0, "no inputs found");
}
