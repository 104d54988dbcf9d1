//! Model configurations (config.json, GGUF metadata) decoded from fuzzer bytes; see
//! `src/config_case.rs` for the checks.
#![no_main]

#[path = "../src/bytes.rs"]
#[allow(dead_code)] // the rotation readers are the other targets'
mod bytes;
#[path = "../src/config_case.rs"]
mod config_case;

libfuzzer_sys::fuzz_target!(|data: &[u8]| config_case::run(data));
