//! C ABI calls decoded from fuzzer bytes; see `src/capi_case.rs` for the checks.
#![no_main]

#[path = "../src/bytes.rs"]
mod bytes;
#[path = "../src/capi_case.rs"]
mod capi_case;

libfuzzer_sys::fuzz_target!(|data: &[u8]| capi_case::run(data));
