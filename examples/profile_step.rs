//! One Llama decode step (Q 32 heads + K 8 heads, head_dim 128 unless given) repeated `iters` times, for
//! instruction counting under callgrind (`scripts/profile.sh`; valgrind has no counters to
//! sample here and `perf stat` is not supported on this VM) and for the aarch64 cycle
//! model (`scripts/arm_cycles.sh`, which traces the last step under qemu between the
//! calls to `rope_probe_begin` and `rope_probe_end`).
//!
//! ```text
//! profile_step <memory|memory16|rope|naive> <f32|f16|bf16> <iters> [backend] [half-split|interleaved] [head_dim]
//! ```
//!
//! `memory` is the roof pass of the benches (`x *= c` over the same bytes), `memory16` the
//! same over as many f16 (widened and rounded back, as a rotation in place must), `rope` our
//! `rotate_qk` with a table, `naive` the hand-written loop. The backend defaults to the
//! best this CPU (or emulator) runs, the layout to half-split.

use std::hint::black_box;

use rope_simd::{bf16, f16, Backend, CosSinTable, Element, PairLayout, Positions, Rope, Rotate};

const Q_HEADS: usize = 32;
const KV_HEADS: usize = 8;
/// The head size unless the command line gives one.
const HEAD_DIM: usize = 128;
/// A small table (its size does not change a step's cost), cheap to build under a tracer.
const POSITION: usize = 31;

/// The plain loop, for a head size known at compile time, as a user's loop for one model
/// is (with a run-time size the interleaved loop took 4x the cycles on the A55 model).
fn naive<E: Element, const HD: usize>(
    x: &mut [E],
    table: &CosSinTable<Vec<f32>>,
    interleaved: bool,
) {
    let half = HD / 2;
    let (cos, sin) = table.cos_sin(POSITION).unwrap();
    for head in x.chunks_exact_mut(HD) {
        for i in 0..half {
            let (ia, ib) = if interleaved {
                (2 * i, 2 * i + 1)
            } else {
                (i, i + half)
            };
            let (a, b) = (head[ia].to_f32(), head[ib].to_f32());
            head[ia] = E::from_f32(a * cos[i] - b * sin[i]);
            head[ib] = E::from_f32(b * cos[i] + a * sin[i]);
        }
    }
}

/// The in-place pass over 16-bit floats (`memory16`): widen, `x *= c`, round back, the
/// least a rotation of f16 in place does per element. On aarch64 with AdvSIMD's
/// conversions (4 values each, as the NEON kernels convert); elsewhere
/// element by element.
fn memory16(x: &mut [f16]) {
    #[cfg(target_arch = "aarch64")]
    {
        // One block of 16 values a step, with plain offsets: LLVM's post-indexed store made
        // llvm-mca chain every step's address behind the previous step's store data.
        let mut chunks = x.chunks_exact_mut(16);
        for c in &mut chunks {
            // SAFETY: `c` is 16 f16 (32 bytes) of `x`; AdvSIMD, part of every aarch64 CPU.
            unsafe {
                std::arch::asm!(
                    "ldp d0, d1, [{p}]",
                    "ldp d2, d3, [{p}, #16]",
                    "fcvtl v0.4s, v0.4h",
                    "fcvtl v1.4s, v1.4h",
                    "fcvtl v2.4s, v2.4h",
                    "fcvtl v3.4s, v3.4h",
                    "fmul v0.4s, v0.4s, {k:v}.4s",
                    "fmul v1.4s, v1.4s, {k:v}.4s",
                    "fmul v2.4s, v2.4s, {k:v}.4s",
                    "fmul v3.4s, v3.4s, {k:v}.4s",
                    "fcvtn v4.4h, v0.4s",
                    "fcvtn v5.4h, v1.4s",
                    "fcvtn v6.4h, v2.4s",
                    "fcvtn v7.4h, v3.4s",
                    "stp d4, d5, [{p}]",
                    "stp d6, d7, [{p}, #16]",
                    p = in(reg) c.as_mut_ptr(),
                    k = in(vreg) std::arch::aarch64::vdupq_n_f32(1.000_001),
                    out("v0") _, out("v1") _, out("v2") _, out("v3") _,
                    out("v4") _, out("v5") _, out("v6") _, out("v7") _,
                    options(nostack),
                );
            }
        }
        for v in chunks.into_remainder() {
            *v = f16::from_f32(v.to_f32() * 1.000_001);
        }
    }
    #[cfg(not(target_arch = "aarch64"))]
    for v in x.iter_mut() {
        *v = f16::from_f32(v.to_f32() * 1.000_001);
    }
}

/// Marks where the traced step starts (`scripts/arm_cycles.sh`).
#[no_mangle]
#[inline(never)]
pub extern "C" fn rope_probe_begin() -> usize {
    black_box(1)
}

/// Marks where the traced step ends.
#[no_mangle]
#[inline(never)]
pub extern "C" fn rope_probe_end() -> usize {
    black_box(2)
}

fn run<E: Element>(what: &str, iters: usize, backend: Backend, layout: PairLayout, hd: usize) {
    let interleaved = layout == PairLayout::Interleaved;
    let rope = Rope::builder(hd)
        .base(500_000.0)
        .layout(layout)
        .backend(backend)
        .build()
        .unwrap();
    let table = rope.table(POSITION + 1).unwrap();
    let (nq, nk) = (Q_HEADS * hd, KV_HEADS * hd);
    let mut q: Vec<E> = (0..nq).map(|i| E::from_f32(i as f32 * 1e-3)).collect();
    let mut k: Vec<E> = (0..nk).map(|i| E::from_f32(i as f32 * 1e-3)).collect();
    let mut roof = vec![0.5f32; (nq + nk) * std::mem::size_of::<E>() / 4];
    let mut roof16 = vec![f16::from_f32(0.5); nq + nk];
    for i in 0..iters {
        if i + 1 == iters {
            rope_probe_begin();
        }
        match what {
            "memory" => {
                for v in roof.iter_mut() {
                    *v *= 1.000_001;
                }
                black_box(&mut roof);
            }
            "memory16" => {
                memory16(&mut roof16);
                black_box(&mut roof16);
            }
            "rope" => table
                .rotate_qk(
                    black_box(&mut q),
                    Q_HEADS,
                    &mut k,
                    KV_HEADS,
                    Positions::Start(POSITION as u64),
                )
                .unwrap(),
            "naive" => {
                let naive = match hd {
                    64 => naive::<E, 64>,
                    128 => naive::<E, 128>,
                    256 => naive::<E, 256>,
                    other => panic!("no plain loop for head_dim {other} (64, 128, 256)"),
                };
                naive(black_box(&mut q), &table, interleaved);
                naive(black_box(&mut k), &table, interleaved);
            }
            other => panic!("unknown kind {other}"),
        }
        if i + 1 == iters {
            rope_probe_end();
        }
    }
    black_box((&q, &k, &roof, &roof16));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: profile_step <memory|memory16|rope|naive> <f32|f16|bf16> <iters> [backend] \
             [half-split|interleaved] [head_dim]"
        );
        std::process::exit(2);
    }
    let iters: usize = args[3].parse().expect("iters");
    let backend = match args.get(4).map(String::as_str) {
        None | Some("best") => Backend::detect(),
        Some(name) => Backend::available()
            .find(|b| b.name() == name)
            .unwrap_or_else(|| panic!("backend {name} not available here")),
    };
    let layout = match args.get(5).map(String::as_str) {
        None | Some("half-split") => PairLayout::HalfSplit,
        Some("interleaved") => PairLayout::Interleaved,
        Some(other) => panic!("unknown layout {other}"),
    };
    let hd = args
        .get(6)
        .map_or(HEAD_DIM, |s| s.parse().expect("head_dim"));
    match args[2].as_str() {
        "f32" => run::<f32>(&args[1], iters, backend, layout, hd),
        "f16" => run::<f16>(&args[1], iters, backend, layout, hd),
        "bf16" => run::<bf16>(&args[1], iters, backend, layout, hd),
        other => panic!("unknown dtype {other}"),
    }
    println!("{}", backend.name());
}
