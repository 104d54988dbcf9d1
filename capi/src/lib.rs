//! The C ABI of rope-simd (`include/rope_simd.h`, C99), built as `librope_simd_c.a`,
//! `librope_simd_c.so` and, for `wasm32-unknown-unknown`, a wasm module with the same
//! exports; without the default features, a `no_std` static library with no allocation
//! (microcontrollers, wasm without std): handles then live in caller memory.
//!
//! Conventions, throughout: every fallible function returns `ROPE_OK` (0) or a negative
//! `ROPE_ERR_*` code, and writes the code and a detail message (the argument, the values
//! involved; the code's summary without the `error-detail` feature, which the default
//! features include) into its last argument, a `RopeErrorInfo *` that may be NULL. A call that
//! fails leaves every buffer untouched. Buffers are `RopeTensor`s: data, length, element
//! type (`ROPE_F32`, `ROPE_F16`, `ROPE_BF16`) and where the heads are (a view: token and
//! head strides, a window from a first token). Positions are a `RopePositions` (a start,
//! or u32 / u64 / i32 / i64 lists, or several coordinates per token). Configuration
//! structs carry their own `size` and are filled by an init function first, so they can
//! grow without breaking callers. No Rust panic crosses the boundary: with std each call
//! is wrapped and a panic (a bug) is `ROPE_ERR_INTERNAL`; the no_std library aborts.
#![cfg_attr(not(feature = "std"), no_std)]
#![allow(clippy::missing_safety_doc)] // each function's `# Safety` is in its doc comment

#[cfg(feature = "alloc")]
extern crate alloc;

mod backend;
mod calls;
mod config;
mod create;
mod gguf;
mod info;
#[cfg(feature = "alloc")]
mod memory;
mod status;
mod tensor;

pub use backend::*;
pub use calls::*;
pub use config::*;
pub use create::*;
pub use gguf::*;
pub use info::*;
#[cfg(feature = "alloc")]
pub use memory::*;
pub use status::*;
pub use tensor::*;

/// The no_std library's panic handler: a panic is a bug, and with no unwinding the only
/// safe end is to stop (a trap the debugger or the firmware's fault handler sees).
#[cfg(all(not(feature = "std"), not(test), feature = "panic-handler"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(target_arch = "arm")]
    // SAFETY: `udf` raises an undefined-instruction fault; it touches no memory.
    unsafe {
        core::arch::asm!("udf #0", options(noreturn))
    };
    #[cfg(not(any(target_arch = "wasm32", target_arch = "arm")))]
    loop {
        core::hint::spin_loop();
    }
}
