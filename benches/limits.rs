//! What bounds the 16-bit decode step on this CPU: two sets of criterion benches that
//! explain figures in BENCHMARKS.md rather than measure the crate. Each set exists twice:
//! for AVX-512 (x86_64 with AVX-512F, BW, DQ, AVX512_BF16, FMA and F16C) and for AVX2
//! (x86_64 with AVX2, FMA and F16C: the widest backend on CPUs without AVX-512). Where a
//! CPU lacks the features, that half is skipped.
//!
//! - `limits/ports/<ops>` and `limits/ports_avx2/<ops>`: eight independent 512-bit (or
//!   256-bit) instructions per loop iteration, register to register (inline assembly, so
//!   the compiler cannot change them), alone or four of one kind interleaved with four of
//!   another. Two kinds that run on different execution ports overlap (the pair costs
//!   about as much as the slower kind alone); two that share ports add up.
//! - `limits/decode/<dtype>/<variant>` and `limits/decode_avx2/<dtype>/<variant>`: the
//!   decode step of BENCHMARKS.md (one token, 40 heads of 128, half-split) written out in
//!   plain intrinsics, once with the crate's arithmetic (`a*c - b*s`: two multiplies and
//!   an add per output; `mul_add`) and once with fused multiply-adds (`fma(a, c, -(b*s))`:
//!   a multiply and an FMA; `fma`), next to the in-place `x *= c` pass over the same
//!   16-bit buffer (`roof16`, from `common/roof16.rs`). The AVX-512 step holds cos/sin in
//!   registers; the AVX2 one reads them from L1, since their 16 vectors would fill every
//!   ymm register. The crate does not use FMA, because the scalar, SSE2 and wasm32
//!   simd128 paths have no fused multiply-add of their own and every backend must give
//!   the same bits; `fma` measures what that costs. For bf16, `unscreened` leaves out a
//!   check the crate makes: for subnormal results on AVX-512, for NaN on AVX2 (wrong for
//!   those values; here only to weigh the check).
//!
//! `cargo bench -p rope-simd-benches --bench limits` (~1 min).

use criterion::{criterion_group, criterion_main, Criterion};

#[cfg(target_arch = "x86_64")]
#[path = "common/roof16.rs"]
mod roof16;

/// The decode step both sets time: one token, 40 heads of 128, and its inputs.
#[cfg(target_arch = "x86_64")]
mod step {
    pub const HEADS: usize = 40;
    pub const HD: usize = 128;
    pub const N: usize = HEADS * HD;

    /// cos/sin of one position's 64 pairs, and the same values in [-0.5, 0.5] as f32,
    /// f16 bits and bf16 bits.
    pub struct Inputs {
        pub cs: [f32; 64],
        pub sn: [f32; 64],
        pub x32: Vec<f32>,
        pub x16: Vec<u16>,
        pub xb: Vec<u16>,
    }

    impl Inputs {
        pub fn new() -> Self {
            let x32: Vec<f32> = (0..N).map(|i| (i % 97) as f32 * 0.01 - 0.5).collect();
            let bits = |f: fn(f32) -> u16| x32.iter().map(|&v| f(v)).collect::<Vec<u16>>();
            Inputs {
                cs: core::array::from_fn(|i| (i as f32 * 0.3).cos()),
                sn: core::array::from_fn(|i| (i as f32 * 0.3).sin()),
                x16: bits(|v| rope_simd::f16::from_f32(v).to_bits()),
                xb: bits(|v| rope_simd::bf16::from_f32(v).to_bits()),
                x32,
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::step::{Inputs, HD, HEADS, N};
    use criterion::Criterion;
    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::hint::black_box;
    use std::time::Duration;

    pub fn supported() -> bool {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512bf16")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
    }

    /// Eight instructions, register to register; the `{d}` in each is replaced by a
    /// destination register of its own.
    macro_rules! eight {
        ($c:expr, $name:expr, $($ins:expr),+ $(,)?) => {{
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16")]
            unsafe fn body(n: u64) {
                for _ in 0..n {
                    // SAFETY: register-only AVX-512 instructions (the features are
                    // enabled here and checked by `supported`); every register written
                    // is declared as clobbered.
                    unsafe {
                        asm!(
                            $($ins),+,
                            out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
                            out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
                            out("zmm16") _, out("zmm17") _, out("zmm18") _,
                            out("k1") _, out("k2") _, out("k3") _, out("k4") _,
                            options(nostack, nomem),
                        );
                    }
                }
            }
            $c.bench_function($name, |b| {
                // SAFETY: `supported()` was checked by the caller.
                b.iter(|| unsafe { body(black_box(1000)) })
            });
        }};
    }

    pub fn ports(c: &mut Criterion) {
        let mut g = c.benchmark_group("limits/ports");
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_millis(700));
        // Alone: 8 of a kind.
        eight!(
            g,
            "8 vmulps",
            "vmulps zmm0, zmm16, zmm17",
            "vmulps zmm1, zmm16, zmm17",
            "vmulps zmm2, zmm16, zmm17",
            "vmulps zmm3, zmm16, zmm17",
            "vmulps zmm4, zmm16, zmm17",
            "vmulps zmm5, zmm16, zmm17",
            "vmulps zmm6, zmm16, zmm17",
            "vmulps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "8 vaddps",
            "vaddps zmm0, zmm16, zmm17",
            "vaddps zmm1, zmm16, zmm17",
            "vaddps zmm2, zmm16, zmm17",
            "vaddps zmm3, zmm16, zmm17",
            "vaddps zmm4, zmm16, zmm17",
            "vaddps zmm5, zmm16, zmm17",
            "vaddps zmm6, zmm16, zmm17",
            "vaddps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vmulps + 4 vaddps",
            "vmulps zmm0, zmm16, zmm17",
            "vaddps zmm1, zmm16, zmm17",
            "vmulps zmm2, zmm16, zmm17",
            "vaddps zmm3, zmm16, zmm17",
            "vmulps zmm4, zmm16, zmm17",
            "vaddps zmm5, zmm16, zmm17",
            "vmulps zmm6, zmm16, zmm17",
            "vaddps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "8 vcvtph2ps",
            "vcvtph2ps zmm0, ymm18",
            "vcvtph2ps zmm1, ymm18",
            "vcvtph2ps zmm2, ymm18",
            "vcvtph2ps zmm3, ymm18",
            "vcvtph2ps zmm4, ymm18",
            "vcvtph2ps zmm5, ymm18",
            "vcvtph2ps zmm6, ymm18",
            "vcvtph2ps zmm7, ymm18"
        );
        eight!(
            g,
            "8 vcvtps2ph",
            "vcvtps2ph ymm0, zmm16, 8",
            "vcvtps2ph ymm1, zmm16, 8",
            "vcvtps2ph ymm2, zmm16, 8",
            "vcvtps2ph ymm3, zmm16, 8",
            "vcvtps2ph ymm4, zmm16, 8",
            "vcvtps2ph ymm5, zmm16, 8",
            "vcvtps2ph ymm6, zmm16, 8",
            "vcvtps2ph ymm7, zmm16, 8"
        );
        eight!(
            g,
            "4 vcvtph2ps + 4 vmulps",
            "vcvtph2ps zmm0, ymm18",
            "vmulps zmm1, zmm16, zmm17",
            "vcvtph2ps zmm2, ymm18",
            "vmulps zmm3, zmm16, zmm17",
            "vcvtph2ps zmm4, ymm18",
            "vmulps zmm5, zmm16, zmm17",
            "vcvtph2ps zmm6, ymm18",
            "vmulps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vcvtph2ps + 4 vaddps",
            "vcvtph2ps zmm0, ymm18",
            "vaddps zmm1, zmm16, zmm17",
            "vcvtph2ps zmm2, ymm18",
            "vaddps zmm3, zmm16, zmm17",
            "vcvtph2ps zmm4, ymm18",
            "vaddps zmm5, zmm16, zmm17",
            "vcvtph2ps zmm6, ymm18",
            "vaddps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vcvtps2ph + 4 vmulps",
            "vcvtps2ph ymm0, zmm16, 8",
            "vmulps zmm1, zmm16, zmm17",
            "vcvtps2ph ymm2, zmm16, 8",
            "vmulps zmm3, zmm16, zmm17",
            "vcvtps2ph ymm4, zmm16, 8",
            "vmulps zmm5, zmm16, zmm17",
            "vcvtps2ph ymm6, zmm16, 8",
            "vmulps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vcvtps2ph + 4 vaddps",
            "vcvtps2ph ymm0, zmm16, 8",
            "vaddps zmm1, zmm16, zmm17",
            "vcvtps2ph ymm2, zmm16, 8",
            "vaddps zmm3, zmm16, zmm17",
            "vcvtps2ph ymm4, zmm16, 8",
            "vaddps zmm5, zmm16, zmm17",
            "vcvtps2ph ymm6, zmm16, 8",
            "vaddps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vcvtne2ps2bf16 + 4 vmulps",
            "vcvtne2ps2bf16 zmm0, zmm16, zmm17",
            "vmulps zmm1, zmm16, zmm17",
            "vcvtne2ps2bf16 zmm2, zmm16, zmm17",
            "vmulps zmm3, zmm16, zmm17",
            "vcvtne2ps2bf16 zmm4, zmm16, zmm17",
            "vmulps zmm5, zmm16, zmm17",
            "vcvtne2ps2bf16 zmm6, zmm16, zmm17",
            "vmulps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vcvtne2ps2bf16 + 4 vaddps",
            "vcvtne2ps2bf16 zmm0, zmm16, zmm17",
            "vaddps zmm1, zmm16, zmm17",
            "vcvtne2ps2bf16 zmm2, zmm16, zmm17",
            "vaddps zmm3, zmm16, zmm17",
            "vcvtne2ps2bf16 zmm4, zmm16, zmm17",
            "vaddps zmm5, zmm16, zmm17",
            "vcvtne2ps2bf16 zmm6, zmm16, zmm17",
            "vaddps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vpslld + 4 vaddps",
            "vpslld zmm0, zmm16, 16",
            "vaddps zmm1, zmm16, zmm17",
            "vpslld zmm2, zmm16, 16",
            "vaddps zmm3, zmm16, zmm17",
            "vpslld zmm4, zmm16, 16",
            "vaddps zmm5, zmm16, zmm17",
            "vpslld zmm6, zmm16, 16",
            "vaddps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vptestnmw + 4 vmulps",
            "vptestnmw k1, zmm16, zmm17",
            "vmulps zmm1, zmm16, zmm17",
            "vptestnmw k2, zmm16, zmm17",
            "vmulps zmm3, zmm16, zmm17",
            "vptestnmw k3, zmm16, zmm17",
            "vmulps zmm5, zmm16, zmm17",
            "vptestnmw k4, zmm16, zmm17",
            "vmulps zmm7, zmm16, zmm17"
        );
        eight!(
            g,
            "4 vfpclassps + 4 vmulps",
            "vfpclassps k1, zmm16, 0x20",
            "vmulps zmm1, zmm16, zmm17",
            "vfpclassps k2, zmm16, 0x20",
            "vmulps zmm3, zmm16, zmm17",
            "vfpclassps k3, zmm16, 0x20",
            "vmulps zmm5, zmm16, zmm17",
            "vfpclassps k4, zmm16, 0x20",
            "vmulps zmm7, zmm16, zmm17"
        );
        g.finish();
    }

    /// One output pair: the crate's `(a*c - b*s, b*c + a*s)`, or with FMA.
    #[inline(always)]
    unsafe fn pair<const FMA: bool>(a: __m512, b: __m512, c: __m512, s: __m512) -> [__m512; 2] {
        // SAFETY: the callers enable AVX-512F and FMA.
        unsafe {
            if FMA {
                [
                    _mm512_fmsub_ps(a, c, _mm512_mul_ps(b, s)),
                    _mm512_fmadd_ps(b, c, _mm512_mul_ps(a, s)),
                ]
            } else {
                [
                    _mm512_sub_ps(_mm512_mul_ps(a, c), _mm512_mul_ps(b, s)),
                    _mm512_add_ps(_mm512_mul_ps(b, c), _mm512_mul_ps(a, s)),
                ]
            }
        }
    }

    /// 16 values of a buffer as f32 lanes: f32 itself, or f16 through the F16C/AVX-512
    /// conversions.
    trait Lanes: Copy {
        /// # Safety
        /// AVX-512F is supported; 16 values at `p` are readable.
        unsafe fn load(p: *const Self) -> __m512;
        /// # Safety
        /// AVX-512F is supported; 16 values at `p` are writable.
        unsafe fn store(p: *mut Self, v: __m512);
    }
    impl Lanes for f32 {
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: forwarded from the caller.
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            // SAFETY: forwarded from the caller.
            unsafe { _mm512_storeu_ps(p, v) }
        }
    }
    impl Lanes for u16 {
        #[inline(always)]
        unsafe fn load(p: *const u16) -> __m512 {
            // SAFETY: forwarded from the caller.
            unsafe {
                _mm512_cvt_roundph_ps::<_MM_FROUND_CUR_DIRECTION>(_mm256_loadu_si256(p.cast()))
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut u16, v: __m512) {
            // SAFETY: forwarded from the caller.
            unsafe {
                _mm256_storeu_si256(p.cast(), _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v))
            }
        }
    }

    /// The f32 (`T = f32`) or f16 (`T = u16`, the bits) decode step.
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16,fma,f16c,avx2")]
    unsafe fn decode_step<T: Lanes, const FMA: bool>(x: &mut [T], cs: &[f32; 64], sn: &[f32; 64]) {
        assert_eq!(x.len(), N);
        let p = x.as_mut_ptr();
        // SAFETY: 16 values at `j * 16 < 64` of cos/sin; in each of the 40 heads of 128,
        // 16 values at `16 * j` and `64 + 16 * j` for j < 4.
        unsafe {
            let c: [__m512; 4] = core::array::from_fn(|j| _mm512_loadu_ps(cs.as_ptr().add(16 * j)));
            let s: [__m512; 4] = core::array::from_fn(|j| _mm512_loadu_ps(sn.as_ptr().add(16 * j)));
            for h in 0..HEADS {
                let q = p.add(h * HD);
                for j in 0..4 {
                    let (qa, qb) = (q.add(16 * j), q.add(64 + 16 * j));
                    let [a2, b2] = pair::<FMA>(T::load(qa), T::load(qb), c[j], s[j]);
                    T::store(qa, a2);
                    T::store(qb, b2);
                }
            }
        }
    }

    /// The crate's bf16-pair scheme: 32 bf16 per load, even and odd lanes widened with a
    /// shift and a mask, rounded back with `vcvtne2ps2bf16` + `vpermw`; `SCREEN` adds the
    /// crate's subnormal screen (a word test, then `vfpclassps` where a word is ±0).
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16,fma,f16c,avx2")]
    unsafe fn decode_bf16<const FMA: bool, const SCREEN: bool>(
        x: &mut [u16],
        cs: &[f32; 64],
        sn: &[f32; 64],
    ) {
        assert_eq!(x.len(), N);
        let p = x.as_mut_ptr();
        // SAFETY: as in `decode_step`, 32 bf16 (or 32 cos/sin) at a time.
        unsafe {
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            let split = |v: *const f32| {
                let (a, b) = (_mm512_loadu_ps(v), _mm512_loadu_ps(v.add(16)));
                (
                    _mm512_permutex2var_ps(a, even, b),
                    _mm512_permutex2var_ps(a, odd, b),
                )
            };
            let c = [split(cs.as_ptr()), split(cs.as_ptr().add(32))];
            let s = [split(sn.as_ptr()), split(sn.as_ptr().add(32))];
            let high = _mm512_set1_epi32(0xFFFF_0000_u32 as i32);
            let idx = _mm512_set_epi16(
                31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
                20, 4, 19, 3, 18, 2, 17, 1, 16, 0,
            );
            let widen = |v: __m512i| {
                let e = _mm512_castsi512_ps(_mm512_slli_epi32::<16>(v));
                (e, _mm512_castsi512_ps(_mm512_and_si512(v, high)))
            };
            let store = |e: __m512, o: __m512, q: *mut u16| {
                let w: __m512i = core::mem::transmute(_mm512_cvtne2ps_pbh(o, e));
                let r = _mm512_permutexvar_epi16(idx, w);
                if SCREEN {
                    let zero = _mm512_testn_epi16_mask(r, _mm512_set1_epi16(0x7FFF));
                    if zero != 0
                        && (_mm512_fpclass_ps_mask::<0x20>(e) | _mm512_fpclass_ps_mask::<0x20>(o))
                            != 0
                    {
                        black_box(zero);
                    }
                }
                _mm512_storeu_si512(q.cast(), r);
            };
            for h in 0..HEADS {
                let q = p.add(h * HD);
                for j in 0..2 {
                    let (qa, qb) = (q.add(32 * j), q.add(64 + 32 * j));
                    let (ae, ao) = widen(_mm512_loadu_si512(qa.cast()));
                    let (be, bo) = widen(_mm512_loadu_si512(qb.cast()));
                    let [ae2, be2] = pair::<FMA>(ae, be, c[j].0, s[j].0);
                    let [ao2, bo2] = pair::<FMA>(ao, bo, c[j].1, s[j].1);
                    store(ae2, ao2, qa);
                    store(be2, bo2, qb);
                }
            }
        }
    }

    pub fn decode(c: &mut Criterion) {
        let Inputs {
            cs,
            sn,
            mut x32,
            mut x16,
            mut xb,
        } = Inputs::new();

        let mut g = c.benchmark_group("limits/decode/f32");
        // SAFETY (every closure below): `supported()` was checked by the caller.
        g.bench_function("mul_add", |b| {
            b.iter(|| unsafe { decode_step::<f32, false>(black_box(&mut x32), &cs, &sn) })
        });
        g.bench_function("fma", |b| {
            b.iter(|| unsafe { decode_step::<f32, true>(black_box(&mut x32), &cs, &sn) })
        });
        g.finish();
        let mut g = c.benchmark_group("limits/decode/f16");
        let roof = super::roof16::roof(super::roof16::Isa::Avx512, true).unwrap();
        g.bench_function("roof16", |b| b.iter(|| roof(black_box(&mut x16))));
        g.bench_function("mul_add", |b| {
            b.iter(|| unsafe { decode_step::<u16, false>(black_box(&mut x16), &cs, &sn) })
        });
        g.bench_function("fma", |b| {
            b.iter(|| unsafe { decode_step::<u16, true>(black_box(&mut x16), &cs, &sn) })
        });
        g.finish();
        let mut g = c.benchmark_group("limits/decode/bf16");
        let roof = super::roof16::roof(super::roof16::Isa::Avx512, false).unwrap();
        g.bench_function("roof16", |b| b.iter(|| roof(black_box(&mut xb))));
        g.bench_function("mul_add", |b| {
            b.iter(|| unsafe { decode_bf16::<false, true>(black_box(&mut xb), &cs, &sn) })
        });
        g.bench_function("fma", |b| {
            b.iter(|| unsafe { decode_bf16::<true, true>(black_box(&mut xb), &cs, &sn) })
        });
        g.bench_function("unscreened", |b| {
            b.iter(|| unsafe { decode_bf16::<false, false>(black_box(&mut xb), &cs, &sn) })
        });
        g.finish();
    }
}

/// The same two sets for the AVX2 kernels (x86_64 with AVX2, FMA and F16C): what bounds
/// the decode step on CPUs without AVX-512, where AVX2 is the widest backend.
#[cfg(target_arch = "x86_64")]
mod x86_avx2 {
    use super::roof16::{avx2_round_bf16, roof, Isa};
    use super::step::{Inputs, HD, HEADS, N};
    use criterion::Criterion;
    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::hint::black_box;
    use std::time::Duration;

    pub fn supported() -> bool {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
    }

    /// Eight 256-bit instructions, register to register: four of kind `a` and four of
    /// kind `b` in turn (the same kind twice for eight alone). A kind is the text before
    /// and after its destination register's number; the destinations are ymm0-ymm7 (xmm
    /// for narrowing), the sources ymm8 and ymm9 (xmm8 for widening).
    macro_rules! eight {
        ($g:expr, $name:expr, ($a0:literal, $a1:literal), ($b0:literal, $b1:literal)) => {{
            #[target_feature(enable = "avx2,fma,f16c")]
            unsafe fn body(n: u64) {
                for _ in 0..n {
                    // SAFETY: register-only AVX2/F16C instructions (the features are
                    // enabled here and checked by `supported`); every register written
                    // is declared as clobbered.
                    unsafe {
                        asm!(
                            concat!($a0, "0", $a1), concat!($b0, "1", $b1),
                            concat!($a0, "2", $a1), concat!($b0, "3", $b1),
                            concat!($a0, "4", $a1), concat!($b0, "5", $b1),
                            concat!($a0, "6", $a1), concat!($b0, "7", $b1),
                            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                            options(nostack, nomem),
                        );
                    }
                }
            }
            $g.bench_function($name, |b| {
                // SAFETY: `supported()` was checked by the caller.
                b.iter(|| unsafe { body(black_box(1000)) })
            });
        }};
    }

    pub fn ports(c: &mut Criterion) {
        let mut g = c.benchmark_group("limits/ports_avx2");
        g.warm_up_time(Duration::from_millis(300));
        g.measurement_time(Duration::from_millis(700));
        eight!(
            g,
            "8 vmulps",
            ("vmulps ymm", ", ymm8, ymm9"),
            ("vmulps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "8 vaddps",
            ("vaddps ymm", ", ymm8, ymm9"),
            ("vaddps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vmulps + 4 vaddps",
            ("vmulps ymm", ", ymm8, ymm9"),
            ("vaddps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "8 vfmadd231ps",
            ("vfmadd231ps ymm", ", ymm8, ymm9"),
            ("vfmadd231ps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "8 vcvtph2ps",
            ("vcvtph2ps ymm", ", xmm8"),
            ("vcvtph2ps ymm", ", xmm8")
        );
        eight!(
            g,
            "8 vcvtps2ph",
            ("vcvtps2ph xmm", ", ymm8, 8"),
            ("vcvtps2ph xmm", ", ymm8, 8")
        );
        eight!(
            g,
            "4 vcvtph2ps + 4 vmulps",
            ("vcvtph2ps ymm", ", xmm8"),
            ("vmulps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vcvtph2ps + 4 vaddps",
            ("vcvtph2ps ymm", ", xmm8"),
            ("vaddps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vcvtps2ph + 4 vmulps",
            ("vcvtps2ph xmm", ", ymm8, 8"),
            ("vmulps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vcvtps2ph + 4 vaddps",
            ("vcvtps2ph xmm", ", ymm8, 8"),
            ("vaddps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vcvtph2ps + 4 vcvtps2ph",
            ("vcvtph2ps ymm", ", xmm8"),
            ("vcvtps2ph xmm", ", ymm8, 8")
        );
        eight!(
            g,
            "8 vpaddd",
            ("vpaddd ymm", ", ymm8, ymm9"),
            ("vpaddd ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vpaddd + 4 vmulps",
            ("vpaddd ymm", ", ymm8, ymm9"),
            ("vmulps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vpaddd + 4 vaddps",
            ("vpaddd ymm", ", ymm8, ymm9"),
            ("vaddps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vpsrld + 4 vmulps",
            ("vpsrld ymm", ", ymm8, 16"),
            ("vmulps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vpsrld + 4 vaddps",
            ("vpsrld ymm", ", ymm8, 16"),
            ("vaddps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vpblendw + 4 vmulps",
            ("vpblendw ymm", ", ymm8, ymm9, 0xAA"),
            ("vmulps ymm", ", ymm8, ymm9")
        );
        eight!(
            g,
            "4 vpblendw + 4 vaddps",
            ("vpblendw ymm", ", ymm8, ymm9, 0xAA"),
            ("vaddps ymm", ", ymm8, ymm9")
        );
        g.finish();
    }

    /// One output pair: the crate's `(a*c - b*s, b*c + a*s)`, or with FMA.
    #[inline(always)]
    unsafe fn pair<const FMA: bool>(a: __m256, b: __m256, c: __m256, s: __m256) -> [__m256; 2] {
        // SAFETY: the callers enable AVX and FMA.
        unsafe {
            if FMA {
                [
                    _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)),
                    _mm256_fmadd_ps(b, c, _mm256_mul_ps(a, s)),
                ]
            } else {
                [
                    _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)),
                    _mm256_add_ps(_mm256_mul_ps(b, c), _mm256_mul_ps(a, s)),
                ]
            }
        }
    }

    /// 8 values of a buffer as f32 lanes: f32 itself, or f16 through F16C.
    trait Lanes: Copy {
        /// # Safety
        /// AVX2 and F16C are supported; 8 values at `p` are readable.
        unsafe fn load(p: *const Self) -> __m256;
        /// # Safety
        /// AVX2 and F16C are supported; 8 values at `p` are writable.
        unsafe fn store(p: *mut Self, v: __m256);
    }
    impl Lanes for f32 {
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: forwarded from the caller.
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            // SAFETY: forwarded from the caller.
            unsafe { _mm256_storeu_ps(p, v) }
        }
    }
    impl Lanes for u16 {
        #[inline(always)]
        unsafe fn load(p: *const u16) -> __m256 {
            // SAFETY: forwarded from the caller.
            unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut u16, v: __m256) {
            // SAFETY: forwarded from the caller.
            unsafe { _mm_storeu_si128(p.cast(), _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v)) }
        }
    }

    /// The f32 (`T = f32`) or f16 (`T = u16`, the bits) decode step. cos/sin are read from
    /// their arrays (512 bytes in L1): their 16 vectors would fill every ymm register.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn decode_step<T: Lanes, const FMA: bool>(x: &mut [T], cs: &[f32; 64], sn: &[f32; 64]) {
        assert_eq!(x.len(), N);
        let p = x.as_mut_ptr();
        // SAFETY: 8 values at `8 * j < 64` of cos/sin; in each of the 40 heads of 128,
        // 8 values at `8 * j` and `64 + 8 * j` for j < 8.
        unsafe {
            for h in 0..HEADS {
                let q = p.add(h * HD);
                for j in 0..8 {
                    let (qa, qb) = (q.add(8 * j), q.add(64 + 8 * j));
                    let c = _mm256_loadu_ps(cs.as_ptr().add(8 * j));
                    let s = _mm256_loadu_ps(sn.as_ptr().add(8 * j));
                    let [a2, b2] = pair::<FMA>(T::load(qa), T::load(qb), c, s);
                    T::store(qa, a2);
                    T::store(qb, b2);
                }
            }
        }
    }

    /// 16 bf16 at `p` widened to their even and odd lanes.
    ///
    /// # Safety
    /// AVX2 is supported; 16 values at `p` are readable.
    #[inline(always)]
    unsafe fn widen(p: *const u16) -> (__m256, __m256) {
        // SAFETY: forwarded from the caller.
        unsafe {
            let x = _mm256_loadu_si256(p.cast());
            let odd = _mm256_and_si256(x, _mm256_set1_epi32(0xFFFF_0000_u32 as i32));
            (
                _mm256_castsi256_ps(_mm256_slli_epi32::<16>(x)),
                _mm256_castsi256_ps(odd),
            )
        }
    }

    /// Even and odd lanes rounded to bf16 and stored as 16 values at `p`; `SCREEN` adds
    /// the crate's NaN check first (one compare of both vectors and a branch; the data
    /// holds no NaN, so the check never finds one).
    ///
    /// # Safety
    /// AVX2 is supported; 16 values at `p` are writable.
    #[inline(always)]
    unsafe fn narrow<const SCREEN: bool>(even: __m256, odd: __m256, p: *mut u16) {
        // SAFETY: forwarded from the caller.
        unsafe {
            if SCREEN {
                let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(even, odd);
                if _mm256_movemask_ps(nan) != 0 {
                    black_box(nan);
                }
            }
            let low = _mm256_srli_epi32::<16>(avx2_round_bf16(even));
            let r = _mm256_blend_epi16::<0b1010_1010>(low, avx2_round_bf16(odd));
            _mm256_storeu_si256(p.cast(), r);
        }
    }

    /// The crate's AVX2 bf16 scheme: 16 bf16 per load, even and odd lanes widened with a
    /// shift and a mask, each rounded with four integer operations and the two merged by
    /// one `vpblendw`. `ce`/`co` and `se`/`so` are cos/sin of the even and odd pairs.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn decode_bf16<const FMA: bool, const SCREEN: bool>(
        x: &mut [u16],
        [ce, co, se, so]: &[[f32; 32]; 4],
    ) {
        assert_eq!(x.len(), N);
        let p = x.as_mut_ptr();
        // SAFETY: as in `decode_step`, 16 bf16 (8 cos/sin of each parity) at a time.
        unsafe {
            for h in 0..HEADS {
                let q = p.add(h * HD);
                for j in 0..4 {
                    let (qa, qb) = (q.add(16 * j), q.add(64 + 16 * j));
                    let (ae, ao) = widen(qa);
                    let (be, bo) = widen(qb);
                    let c_e = _mm256_loadu_ps(ce.as_ptr().add(8 * j));
                    let c_o = _mm256_loadu_ps(co.as_ptr().add(8 * j));
                    let s_e = _mm256_loadu_ps(se.as_ptr().add(8 * j));
                    let s_o = _mm256_loadu_ps(so.as_ptr().add(8 * j));
                    let [ae2, be2] = pair::<FMA>(ae, be, c_e, s_e);
                    let [ao2, bo2] = pair::<FMA>(ao, bo, c_o, s_o);
                    narrow::<SCREEN>(ae2, ao2, qa);
                    narrow::<SCREEN>(be2, bo2, qb);
                }
            }
        }
    }

    pub fn decode(c: &mut Criterion) {
        let Inputs {
            cs,
            sn,
            mut x32,
            mut x16,
            mut xb,
        } = Inputs::new();
        let parity =
            |t: &[f32; 64], odd: usize| -> [f32; 32] { core::array::from_fn(|i| t[2 * i + odd]) };
        let split = [
            parity(&cs, 0),
            parity(&cs, 1),
            parity(&sn, 0),
            parity(&sn, 1),
        ];

        let mut g = c.benchmark_group("limits/decode_avx2/f32");
        // SAFETY (every closure below): `supported()` was checked by the caller.
        g.bench_function("mul_add", |b| {
            b.iter(|| unsafe { decode_step::<f32, false>(black_box(&mut x32), &cs, &sn) })
        });
        g.bench_function("fma", |b| {
            b.iter(|| unsafe { decode_step::<f32, true>(black_box(&mut x32), &cs, &sn) })
        });
        g.finish();
        let mut g = c.benchmark_group("limits/decode_avx2/f16");
        let roof16 = roof(Isa::Avx2, true).unwrap();
        g.bench_function("roof16", |b| b.iter(|| roof16(black_box(&mut x16))));
        g.bench_function("mul_add", |b| {
            b.iter(|| unsafe { decode_step::<u16, false>(black_box(&mut x16), &cs, &sn) })
        });
        g.bench_function("fma", |b| {
            b.iter(|| unsafe { decode_step::<u16, true>(black_box(&mut x16), &cs, &sn) })
        });
        g.finish();
        let mut g = c.benchmark_group("limits/decode_avx2/bf16");
        let roof16 = roof(Isa::Avx2, false).unwrap();
        g.bench_function("roof16", |b| b.iter(|| roof16(black_box(&mut xb))));
        g.bench_function("mul_add", |b| {
            b.iter(|| unsafe { decode_bf16::<false, true>(black_box(&mut xb), &split) })
        });
        g.bench_function("fma", |b| {
            b.iter(|| unsafe { decode_bf16::<true, true>(black_box(&mut xb), &split) })
        });
        g.bench_function("unscreened", |b| {
            b.iter(|| unsafe { decode_bf16::<false, false>(black_box(&mut xb), &split) })
        });
        g.finish();
    }
}

fn limits(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::supported() {
            x86::ports(c);
            x86::decode(c);
        } else {
            eprintln!("limits: no AVX-512F/BW/DQ + AVX512_BF16 here; its benches are skipped");
        }
        if x86_avx2::supported() {
            x86_avx2::ports(c);
            x86_avx2::decode(c);
            return;
        }
    }
    eprintln!("limits: needs x86_64 with AVX2, FMA and F16C; nothing to do");
    let _ = c;
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = limits
}
criterion_main!(benches);
