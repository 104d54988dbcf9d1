//! The A/B probe of `scripts/ab_probe.py`: an older build of rope-simd (`old`) and the
//! working tree (`new`) linked into one program, timed in turn on the same buffers, so
//! neither the heap's placement of a buffer nor the machine's drift favours one build.
//! Each case is the benches' `rotate_qk` (32 Q + 8 K heads, base 500 000): a decode step
//! (one token at position 4095) or a 512-token prefill with a table, or a decode step with
//! cos/sin on the fly (`fly_decode`), buffers on a 64-byte line or 16 bytes past it.
//!
//!     ab_probe [--rounds R] [FILTER...]   (a case runs when its name contains every FILTER)
use std::hint::black_box;
use std::time::Instant;

use half::{bf16, f16};
use new::Rotate as _;
use old::Rotate as _;

type Call<E> = Box<dyn Fn(&mut [E], &mut [E])>;

const Q_HEADS: usize = 32;
const KV_HEADS: usize = 8;

trait Value: Copy + old::Element + new::Element {
    const NAME: &'static str;
    fn of(x: f32) -> Self;
}
impl Value for f32 {
    const NAME: &'static str = "f32";
    fn of(x: f32) -> Self {
        x
    }
}
impl Value for f16 {
    const NAME: &'static str = "f16";
    fn of(x: f32) -> Self {
        f16::from_f32(x)
    }
}
impl Value for bf16 {
    const NAME: &'static str = "bf16";
    fn of(x: f32) -> Self {
        bf16::from_f32(x)
    }
}

fn old_call<E: Value>(c: &Case, fly: bool) -> Call<E> {
    let (hd, interleaved, isa, tokens, start) = (c.hd, c.interleaved, c.isa, c.tokens, c.start);
    use old::{Backend, PairLayout, Positions, Rope};
    let layout = if interleaved { PairLayout::Interleaved } else { PairLayout::HalfSplit };
    // Before AVX512_BF16 was a backend of its own, `Avx512` ran its kernels where the CPU
    // has them.
    let backend = if isa == "avx2" { Backend::Avx2 } else { Backend::Avx512 };
    #[cfg(feature = "old-bf16")]
    let backend = match backend {
        Backend::Avx512 if <E as Value>::NAME == "bf16" && Backend::Avx512Bf16.is_available() => {
            Backend::Avx512Bf16
        }
        b => b,
    };
    let rope = Rope::builder(hd).base(500_000.0).layout(layout).backend(backend).build().unwrap();
    if fly {
        return Box::new(move |q, k| rope.rotate_qk(q, Q_HEADS, k, KV_HEADS, Positions::Start(start)).unwrap());
    }
    let table = rope.table(start as usize + tokens).unwrap();
    Box::new(move |q, k| table.rotate_qk(q, Q_HEADS, k, KV_HEADS, Positions::Start(start)).unwrap())
}

fn new_call<E: Value>(c: &Case, fly: bool) -> Call<E> {
    let (hd, interleaved, isa, tokens, start) = (c.hd, c.interleaved, c.isa, c.tokens, c.start);
    use new::{Backend, PairLayout, Positions, Rope};
    let layout = if interleaved { PairLayout::Interleaved } else { PairLayout::HalfSplit };
    let backend = match isa {
        "avx2" => Backend::Avx2,
        _ if <E as Value>::NAME == "bf16" && Backend::Avx512Bf16.is_available() => Backend::Avx512Bf16,
        _ => Backend::Avx512,
    };
    let rope = Rope::builder(hd).base(500_000.0).layout(layout).backend(backend).build().unwrap();
    if fly {
        return Box::new(move |q, k| rope.rotate_qk(q, Q_HEADS, k, KV_HEADS, Positions::Start(start)).unwrap());
    }
    let table = rope.table(start as usize + tokens).unwrap();
    Box::new(move |q, k| table.rotate_qk(q, Q_HEADS, k, KV_HEADS, Positions::Start(start)).unwrap())
}

/// Median time of one call (ns) over 5 samples of `iters` calls.
fn sample<E>(call: &Call<E>, q: &mut [E], k: &mut [E], iters: usize) -> f64 {
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let at = Instant::now();
            for _ in 0..iters {
                call(black_box(&mut *q), black_box(&mut *k));
            }
            at.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    t.sort_by(|a, b| a.total_cmp(b));
    t[2]
}

struct Case<'a> {
    fly: bool,
    tokens: usize,
    start: u64,
    hd: usize,
    interleaved: bool,
    isa: &'a str,
    off: usize,
}

/// (old, new): each build's best median over `rounds` alternating rounds.
fn run<E: Value>(c: &Case, rounds: usize) -> (f64, f64) {
    let (nq, nk) = (c.tokens * Q_HEADS * c.hd, c.tokens * KV_HEADS * c.hd);
    let mut qb: Vec<E> = (0..nq + 64).map(|i| E::of((i % 17) as f32 * 0.125 - 1.0)).collect();
    let mut kb: Vec<E> = (0..nk + 64).map(|i| E::of((i % 13) as f32 * 0.25 - 1.5)).collect();
    let size = core::mem::size_of::<E>();
    let qa = qb.as_ptr().align_offset(64) + c.off / size;
    let ka = kb.as_ptr().align_offset(64) + c.off / size;
    let (q, k) = (&mut qb[qa..qa + nq], &mut kb[ka..ka + nk]);
    let sides = [
        old_call::<E>(c, c.fly),
        new_call::<E>(c, c.fly),
    ];
    // Calls a sample: about half a millisecond.
    let at = Instant::now();
    sides[1](q, k);
    let iters = (500_000 / at.elapsed().as_nanos().max(1) as usize).clamp(1, 100_000);
    let mut best = [f64::MAX; 2];
    for _ in 0..rounds {
        for (b, call) in best.iter_mut().zip(&sides) {
            *b = b.min(sample(call, q, k, iters));
        }
    }
    (best[0], best[1])
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 5;
    if let Some(i) = args.iter().position(|a| a == "--rounds") {
        rounds = args[i + 1].parse().expect("--rounds N");
        args.drain(i..i + 2);
    }
    let mut isas = vec!["avx2"];
    if new::Backend::Avx512.is_available() {
        isas.push("avx512");
    }
    println!("| case | old (ns) | new (ns) | new / old |");
    println!("|---|---:|---:|---:|");
    let mut ratios = Vec::new();
    let phases = [("decode", 1, 4095, false), ("prefill512", 512, 0, false), ("fly_decode", 1, 4095, true)];
    for (phase, tokens, start, fly) in phases {
        for dtype in ["f32", "f16", "bf16"] {
            for hd in [64, 128, 256] {
                for isa in &isas {
                    for interleaved in [false, true] {
                        for off in [0, 16] {
                            let layout = if interleaved { "interleaved" } else { "half_split" };
                            let name = format!("{phase}/{dtype}/hd{hd}/{isa}/{layout}/off{off}");
                            if !args.iter().all(|f| name.contains(f.as_str())) {
                                continue;
                            }
                            let c = Case { fly, tokens, start, hd, interleaved, isa, off };
                            let (o, n) = match dtype {
                                "f32" => run::<f32>(&c, rounds),
                                "f16" => run::<f16>(&c, rounds),
                                _ => run::<bf16>(&c, rounds),
                            };
                            let flag = if n / o > 1.10 { " **over 1.10**" } else { "" };
                            println!("| {name} | {o:.0} | {n:.0} | {:.3}{flag} |", n / o);
                            ratios.push(n / o);
                        }
                    }
                }
            }
        }
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    if let (Some(max), false) = (ratios.last(), ratios.is_empty()) {
        println!(
            "\n{} cases, best of {rounds} alternating rounds; new/old median {:.3}, max {max:.3}, {} over 1.10, {} under 0.95",
            ratios.len(),
            ratios[ratios.len() / 2],
            ratios.iter().filter(|r| **r > 1.10).count(),
            ratios.iter().filter(|r| **r < 0.95).count()
        );
    }
}
