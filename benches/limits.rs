//! What bounds the 16-bit decode step on this CPU: two sets of criterion benches that
//! explain figures in BENCHMARKS.md rather than measure the crate (x86_64 with AVX-512F,
//! BW, DQ, AVX512_BF16, FMA and F16C only; elsewhere this bench is empty).
//!
//! - `limits/ports/<ops>`: eight independent AVX-512 instructions per loop iteration,
//!   register to register (inline assembly, so the compiler cannot change them), alone or
//!   four of one kind interleaved with four of another. Two kinds that run on different
//!   execution ports overlap (the pair costs about as much as the slower kind alone); two
//!   that share ports add up.
//! - `limits/decode/<dtype>/<variant>`: the decode step of BENCHMARKS.md (one token, 40
//!   heads of 128, half-split, cos/sin held in registers) written out in plain intrinsics,
//!   once with the crate's arithmetic (`a*c - b*s`: two multiplies and an add per output;
//!   `mul_add`) and once with fused multiply-adds (`fma(a, c, -(b*s))`: a multiply and an
//!   FMA; `fma`), next to the in-place `x *= c` pass over the same 16-bit buffer
//!   (`roof16`). The crate does not use FMA, because the scalar, SSE2 and wasm32 simd128
//!   paths have no fused multiply-add of their own and every backend must give the same
//!   bits; `fma` measures what that costs. For bf16, `unscreened` leaves out the check for
//!   subnormal results (wrong for them; here only to weigh the check).
//!
//! `cargo bench --bench limits` (~1 min).

use criterion::{criterion_group, criterion_main, Criterion};

#[cfg(target_arch = "x86_64")]
mod x86 {
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

    const HEADS: usize = 40;
    const HD: usize = 128;
    const N: usize = HEADS * HD;

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

    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16,fma,f16c,avx2")]
    unsafe fn roof_f16(x: &mut [u16]) {
        let k = _mm512_set1_ps(1.000_001);
        for v in x.chunks_exact_mut(16) {
            // SAFETY: 16 f16 in bounds.
            unsafe {
                let w = _mm512_mul_ps(
                    _mm512_cvt_roundph_ps::<_MM_FROUND_CUR_DIRECTION>(_mm256_loadu_si256(
                        v.as_ptr().cast(),
                    )),
                    k,
                );
                _mm256_storeu_si256(
                    v.as_mut_ptr().cast(),
                    _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(w),
                );
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16,fma,f16c,avx2")]
    unsafe fn roof_bf16(x: &mut [u16]) {
        let k = _mm512_set1_ps(1.000_001);
        let high = _mm512_set1_epi32(0xFFFF_0000_u32 as i32);
        let idx = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20,
            4, 19, 3, 18, 2, 17, 1, 16, 0,
        );
        for v in x.chunks_exact_mut(32) {
            // SAFETY: 32 bf16 in bounds.
            unsafe {
                let w = _mm512_loadu_si512(v.as_ptr().cast());
                let e = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32::<16>(w)), k);
                let o = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_and_si512(w, high)), k);
                let r: __m512i = core::mem::transmute(_mm512_cvtne2ps_pbh(o, e));
                _mm512_storeu_si512(v.as_mut_ptr().cast(), _mm512_permutexvar_epi16(idx, r));
            }
        }
    }

    pub fn decode(c: &mut Criterion) {
        let cs: [f32; 64] = core::array::from_fn(|i| (i as f32 * 0.3).cos());
        let sn: [f32; 64] = core::array::from_fn(|i| (i as f32 * 0.3).sin());
        let start: Vec<f32> = (0..N).map(|i| (i % 97) as f32 * 0.01 - 0.5).collect();
        let mut x32 = start.clone();
        let mut x16: Vec<u16> = start
            .iter()
            .map(|&v| rope_simd::f16::from_f32(v).to_bits())
            .collect();
        let mut xb: Vec<u16> = start
            .iter()
            .map(|&v| rope_simd::bf16::from_f32(v).to_bits())
            .collect();

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
        g.bench_function("roof16", |b| {
            b.iter(|| unsafe { roof_f16(black_box(&mut x16)) })
        });
        g.bench_function("mul_add", |b| {
            b.iter(|| unsafe { decode_step::<u16, false>(black_box(&mut x16), &cs, &sn) })
        });
        g.bench_function("fma", |b| {
            b.iter(|| unsafe { decode_step::<u16, true>(black_box(&mut x16), &cs, &sn) })
        });
        g.finish();
        let mut g = c.benchmark_group("limits/decode/bf16");
        g.bench_function("roof16", |b| {
            b.iter(|| unsafe { roof_bf16(black_box(&mut xb)) })
        });
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

fn limits(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    if x86::supported() {
        x86::ports(c);
        x86::decode(c);
        return;
    }
    eprintln!("limits: needs x86_64 with AVX-512F/BW/DQ, AVX512_BF16, FMA and F16C; nothing to do");
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
