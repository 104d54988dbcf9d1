//! Every rotation call decoded from fuzzer bytes; see `src/rotate_case.rs` for the checks.
#![no_main]

#[path = "../src/bytes.rs"]
mod bytes;
#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../src/rotate_case.rs"]
mod rotate_case;

libfuzzer_sys::fuzz_target!(|data: &[u8]| rotate_case::run(data));
