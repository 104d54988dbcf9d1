//! rope-simd on a Cortex-M4F without an operating system, run under QEMU (`mps2-an386`):
//! builds a Llama-shaped `Rope` (in place, `RopeBuilder::build_in_place`; and by value,
//! for comparison), rotates f32 in place and rotates f32 into an f16 cache slot, checks
//! the results against bits computed on the host (the crate gives the same bits on every
//! architecture), and prints how much stack each call took.
//!
//! How the stack is measured: before each call, every word from the bottom of the stack
//! up to a little below the current stack pointer is painted with a pattern; after the
//! call, the lowest word that no longer holds the pattern is the deepest the call went.
//! The depth is the stack pointer before the call minus that address.
//!
//! ```text
//! cd firmware && cargo run --release     # qemu-system-arm, see .cargo/config.toml
//! ```
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};
use core::fmt::Write;
#[cfg(not(feature = "no-rope"))]
use core::mem::MaybeUninit;
use core::panic::PanicInfo;

#[cfg(not(any(feature = "no-rope", feature = "one-rotation")))]
use rope_simd::{f16, View};
#[cfg(not(feature = "no-rope"))]
use rope_simd::{PairLayout, Positions, Rope, Rotate};

// The vector table: the initial stack pointer, then the reset handler, NMI and the four
// fault handlers (all faults end the run with a failure).
global_asm!(
    ".section .vector_table, \"a\"",
    ".word _stack_top",
    ".word reset",
    ".word fault",
    ".word fault",
    ".word fault",
    ".word fault",
    ".word fault",
);

/// Semihosting call `op` with argument `arg` (QEMU services `bkpt 0xab`).
fn semihost(op: u32, arg: usize) -> u32 {
    let mut r0 = op;
    // SAFETY: the semihosting breakpoint; QEMU reads `r0`/`r1` and writes `r0`, and
    // reads the memory `arg` points at for the operations used here.
    unsafe { asm!("bkpt 0xab", inout("r0") r0, in("r1") arg, options(nostack)) };
    r0
}

/// Print a NUL-terminated string (SYS_WRITE0).
fn write0(s: &[u8]) {
    semihost(0x04, s.as_ptr() as usize);
}

/// End the run: QEMU exits 0 for `ADP_Stopped_ApplicationExit`, 1 for anything else
/// (SYS_EXIT).
fn exit(ok: bool) -> ! {
    semihost(0x18, if ok { 0x20026 } else { 0x20024 });
    loop {
        // SAFETY: waits for an interrupt; none is enabled, and QEMU has exited already.
        unsafe { asm!("wfi", options(nomem, nostack, preserves_flags)) };
    }
}

/// A line of output, formatted into a fixed buffer.
struct Line {
    buf: [u8; 160],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

macro_rules! println {
    ($($arg:tt)*) => {{
        let mut line = Line { buf: [0; 160], len: 0 };
        let _ = writeln!(line, $($arg)*);
        write0(&line.buf[..line.len + 1]);
    }};
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    println!("panic: {}", info.message());
    exit(false)
}

#[no_mangle]
extern "C" fn fault() -> ! {
    write0(b"fault\n\0");
    exit(false)
}

/// Reset: enable the FPU (CP10 and CP11 full access), then run `main`. Nothing here
/// touches a float register before the FPU is on.
#[no_mangle]
unsafe extern "C" fn reset() -> ! {
    const CPACR: *mut u32 = 0xE000_ED88 as *mut u32;
    // SAFETY: CPACR is the architectural coprocessor access register of every Cortex-M4F.
    unsafe {
        CPACR.write_volatile(CPACR.read_volatile() | (0xF << 20));
        asm!("dsb", "isb", options(nostack, preserves_flags));
    }
    exit(main())
}

extern "C" {
    static _stack_bottom: u32;
}

const PAINT: u32 = 0x5EED_CAFE;

fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer register.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Bytes of stack `f` used below the caller's stack pointer (see the crate docs).
#[inline(never)]
fn stack_used<R>(f: impl FnOnce() -> R) -> (R, usize) {
    // The address of the linker's symbol (never read through).
    let bottom = core::ptr::addr_of!(_stack_bottom) as usize;
    let sp = stack_pointer();
    // Paint up to 256 bytes below this frame's stack pointer, out of its own way.
    let top = sp - 256;
    let mut p = bottom;
    while p < top {
        // SAFETY: between the bottom of the stack and below the live frames: memory of
        // the stack region that nothing uses now.
        unsafe { (p as *mut u32).write_volatile(PAINT) };
        p += 4;
    }
    let r = f();
    let mut low = bottom;
    // SAFETY: reads of the stack region painted above.
    while low < top && unsafe { (low as *const u32).read_volatile() } == PAINT {
        low += 4;
    }
    (r, sp - low)
}

#[cfg(not(feature = "no-rope"))]
const HEADS: usize = 8;
#[cfg(not(feature = "no-rope"))]
const HEAD_DIM: usize = 128;

/// End the run on an error, without formatting it (which would link float formatting into
/// the code-size measurement).
fn failed(what: &str) -> ! {
    println!("{what} returned an error");
    exit(false)
}

/// An FNV-1a hash of bits, to compare with the host's.
#[cfg(not(feature = "no-rope"))]
fn hash(bits: impl Iterator<Item = u32>) -> u32 {
    bits.fold(0x811C_9DC5, |h, b| (h ^ b).wrapping_mul(0x0100_0193))
}

/// The `Rope` built in memory the caller owns (`build_in_place`: no copy of it on the
/// stack).
#[cfg(not(feature = "no-rope"))]
#[inline(never)]
fn build(slot: &mut MaybeUninit<Rope>) -> &mut Rope {
    let builder = Rope::builder(HEAD_DIM)
        .base(500_000.0)
        .layout(PairLayout::HalfSplit);
    builder
        .build_in_place(slot)
        .unwrap_or_else(|_| failed("build"))
}

/// The same `Rope` returned by value (`Rope::new`), for the stack that costs.
#[cfg(not(any(feature = "no-rope", feature = "one-rotation")))]
#[inline(never)]
fn build_by_value() -> Rope {
    Rope::new(HEAD_DIM, 500_000.0, PairLayout::HalfSplit).unwrap_or_else(|_| failed("build"))
}

#[cfg(not(feature = "no-rope"))]
#[inline(never)]
fn rotate(rope: &Rope, x: &mut [f32]) {
    if rope.rotate(x, HEADS, Positions::Start(1234)).is_err() {
        failed("rotate")
    }
}

#[cfg(not(any(feature = "no-rope", feature = "one-rotation")))]
#[inline(never)]
fn rotate_into_cache(rope: &Rope, k: &[f32], cache: &mut [f16]) {
    let slot = View::tokens_heads(HEADS).at(3);
    let (view, at) = (View::tokens_heads(HEADS), Positions::Start(1234));
    if rope.rotate_into(k, view, cache, slot, at).is_err() {
        failed("rotate_into")
    }
}

/// The inputs: a fixed pattern every build computes the same way.
#[cfg(not(feature = "no-rope"))]
fn input() -> [f32; HEADS * HEAD_DIM] {
    core::array::from_fn(|i| ((i * 37 % 101) as f32 - 50.0) * 0.02)
}

/// Hashes of the results, computed on the host (`tests/firmware.rs` checks them against
/// this program's source and the crate's output there).
#[cfg(not(feature = "no-rope"))]
const WANT_ROTATE: u32 = 0x7521_0691;
#[cfg(not(any(feature = "no-rope", feature = "one-rotation")))]
const WANT_INTO: u32 = 0x6e3d_ce68;

#[cfg(feature = "no-rope")]
fn main() -> bool {
    let ((), used) = stack_used(|| ());
    // What the other builds' harness links besides rope-simd, so that the difference is
    // the crate's code alone: `failed`, a hex print, and a bounds check (whose panic
    // message the panic handler formats).
    if core::hint::black_box(false) {
        failed("harness");
    }
    let table = [0x811C_9DC5u32, 0x0100_0193];
    let word = table[core::hint::black_box(used) % 3];
    println!("harness only: {used} bytes of stack, {word:#010x}");
    true
}

#[cfg(not(feature = "no-rope"))]
fn main() -> bool {
    let mut slot = MaybeUninit::uninit();
    let (rope, build_stack) = stack_used(|| build(&mut slot));
    let rope: &Rope = rope;
    let mut x = input();
    let ((), rotate_stack) = stack_used(|| rotate(rope, &mut x));
    let got = hash(x.iter().map(|v| v.to_bits()));
    println!("stack: build a Rope {build_stack} bytes, rotate f32 in place {rotate_stack} bytes");
    println!("rotate f32 hash {got:#010x}");
    let rotate_ok = got == WANT_ROTATE;
    #[cfg(feature = "one-rotation")]
    let into_ok = true;
    #[cfg(not(feature = "one-rotation"))]
    let into_ok = {
        let k = input();
        let mut cache = [f16::ZERO; 4 * HEADS * HEAD_DIM];
        let ((), into_stack) = stack_used(|| rotate_into_cache(rope, &k, &mut cache));
        let (by_value, by_value_stack) = stack_used(build_by_value);
        println!("stack: build a Rope by value {by_value_stack} bytes");
        let _ = by_value.pairs();
        let got = hash(cache.iter().map(|v| u32::from(v.to_bits())));
        println!("stack: rotate f32 into an f16 cache {into_stack} bytes");
        println!("rotate_into f16 hash {got:#010x}");
        got == WANT_INTO
    };
    let ok = rotate_ok && into_ok;
    println!(
        "{}",
        if ok {
            "firmware: ok"
        } else {
            "firmware: WRONG BITS"
        }
    );
    ok
}
