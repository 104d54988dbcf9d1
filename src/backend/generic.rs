//! The SIMD kernel, written once over a small vector trait and instantiated per ISA.
//!
//! It reproduces [`crate::kernel::scalar`] bit for bit: the same f32
//! multiplies and adds per element, in the same order up to IEEE-exact rewrites
//! (`a*c - b*s == a*c + b*(-s)`, `x + y == y + x`), no fused multiply-add, the same
//! conversions. Pairs left over after the last full vector go to the scalar kernel.
//!
//! Every function here that holds a loop or chooses a path is `#[inline(always)]`, so
//! that it all lands in the `#[target_feature]` entry points (`isa_entry!`), the only
//! functions compiled for the ISA, except in unoptimized builds (`opt-level = 0`, where
//! `build.rs` sets `cfg(rope_simd_unoptimized)`): there each is `#[inline(never)]`.
//! Unoptimized code gives every inlined function's locals stack slots of their own, none
//! shared between the arms a call does not take, and with everything inlined one AVX-512
//! `rotate_into` frame was 956 KiB (2.8 MiB with the 16-vector rows and the row tails),
//! enough to overflow a 2 MiB thread; split, a call needs under 128 KiB
//! (`tests/backends.rs`, `every_backend_runs_on_a_small_stack`). The bits are the same,
//! and the paths too: the instructions run are the ISA's either way (the intrinsics
//! are functions of their own in such builds), only not inlined into one another. An
//! optimized build with debug assertions still inlines everything.

use core::mem::MaybeUninit;

use crate::config::MAX_PAIRS;
use crate::element::Kind;
use crate::kernel::{self, Span, PREFETCH_AHEAD};

/// `array!(n, |i| e)`: `[e(0), e(1), .., e(n-1)]`, written out in place. Neither
/// `core::array::from_fn` nor an `#[inline(always)]` function taking a closure is enough:
/// in a `codegen-units = 1` build LLVM left calls to `from_fn` in the bf16 kernels (the
/// decode step took 4 us instead of 0.6 us), and later calls to the closures themselves,
/// returning the vectors through memory (the bf16-pair path ran 30% slower). A macro
/// leaves no closure to call.
macro_rules! array {
    ($n:expr, |$i:ident| $e:expr) => {{
        let mut out = [{
            let $i = 0usize;
            $e
        }; $n];
        let mut $i = 1usize;
        while $i < $n {
            out[$i] = $e;
            $i += 1;
        }
        out
    }};
}

/// A vector of `N` f32 lanes on one ISA.
///
/// # Safety
/// Every method may use instructions of the implementing ISA: call them only from code
/// that runs after the CPU was found to support it (a `#[target_feature]` function reached
/// through [`Backend`](crate::Backend) dispatch, or a build where the feature is always on).
/// Pointer arguments must be valid for the reads or writes of `N` (or `N/2`) elements.
pub trait Vector: Copy {
    /// Lanes.
    const N: usize;
    /// How many vectors of cos and as many of sin the kernel may keep in registers
    /// across rows (a quarter of the ISA's registers, leaving the rest for the data).
    const KEEP: usize;
    /// The longest row body, in vectors, that [`bodies_in_registers`] unrolls (a power of
    /// two; at least `KEEP`, past it cos/sin are reloaded from the stack).
    const UNROLL: usize;
    /// Narrower vectors that row tails of at least one of them go to (AVX-512: AVX2's),
    /// or `Self` where there are none (see [`rotate`]). Their ISA must be part of this
    /// one's: they run inside this ISA's `#[target_feature]` functions.
    type Tail: Vector;
    /// The second pass of [`rotate`] over row tails (see [`tail_split`]): `Self::Tail`'s
    /// rows, by default inlined here. AVX-512 calls AVX2's entry point instead, one copy
    /// of that code for all its callers rather than one inlined into each.
    ///
    /// # Safety
    /// As for [`rotate_rows`] with `Self::Tail`.
    #[inline(always)]
    unsafe fn rotate_tails<E: crate::Element>(x: &mut [E], span: &Span, cos: &[f32], sin: &[f32]) {
        // SAFETY: forwarded from the caller.
        unsafe { rotate_rows::<Self::Tail, E>(x, span, cos, sin) }
    }
    /// [`Vector::rotate_tails`] for [`rotate_into`].
    ///
    /// # Safety
    /// As for [`rotate_rows_into`] with `Self::Tail`.
    #[inline(always)]
    unsafe fn rotate_tails_into<S: crate::Element, D: crate::Element>(
        src: &[S],
        dst: &mut [D],
        span: &Span,
        dst_stride: usize,
        cos: &[f32],
        sin: &[f32],
    ) {
        // SAFETY: forwarded from the caller.
        unsafe { rotate_rows_into::<Self::Tail, S, D>(src, dst, span, dst_stride, cos, sin) }
    }
    /// Whether [`Vector::prefetch`] does anything (only then do spans marked `prefetch`
    /// take the kernels that issue it, see [`prefetch`]).
    const PREFETCH: bool = false;
    /// Ask for the 64-byte line holding `p` to be brought into L1 (no access, no fault,
    /// whatever `p` points at). By default nothing.
    #[inline(always)]
    unsafe fn prefetch(_p: *const u8) {}
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// Load `N` f16 (as bits) and widen exactly.
    unsafe fn load_f16(p: *const u16) -> Self;
    /// Round to f16 (nearest even, as `half` does) and store `N` of them.
    unsafe fn store_f16(self, p: *mut u16);
    /// Load `N` bf16 (as bits) and widen exactly.
    unsafe fn load_bf16(p: *const u16) -> Self;
    /// Round to bf16 (nearest even, as `half` does) and store `N` of them.
    unsafe fn store_bf16(self, p: *mut u16);
    /// Load `N/2` values `v0, v1, ...` as `v0, v0, v1, v1, ...`.
    unsafe fn load_dup(p: *const f32) -> Self;
    /// `x1, x0, x3, x2, ...`
    unsafe fn swap_pairs(self) -> Self;
    unsafe fn splat(v: f32) -> Self;
    /// `-0.0` in even lanes (`odd == false`) or odd lanes, `0.0` elsewhere.
    unsafe fn alternating_sign(odd: bool) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn xor(self, o: Self) -> Self;

    /// Whether the streaming stores below are non-temporal (otherwise they are plain
    /// stores) and need `p` 16-byte aligned.
    const STREAM: bool = false;
    /// `store_f16`, bypassing the cache where `STREAM` (then `p` is 16-byte aligned).
    #[inline(always)]
    unsafe fn store_f16_stream(self, p: *mut u16) {
        // SAFETY: forwarded from the caller.
        unsafe { self.store_f16(p) }
    }
    /// `store_bf16`, bypassing the cache where `STREAM` (then `p` is 16-byte aligned).
    #[inline(always)]
    unsafe fn store_bf16_stream(self, p: *mut u16) {
        // SAFETY: forwarded from the caller.
        unsafe { self.store_bf16(p) }
    }
    /// Whether the bf16-pair methods below exist (see [`bf16_pairs_in_registers`] and
    /// [`bf16_pairs_rows`]). Where it is false they are never called.
    const BF16_PAIRS: bool = false;
    /// Load `2N` f32 as (even-indexed, odd-indexed) lanes.
    unsafe fn load_f32_pairs(_p: *const f32) -> (Self, Self) {
        unreachable!("rope-simd internal error: no bf16 pairs on this ISA")
    }
    /// Load `2N` bf16 (as bits), widened exactly into (even-indexed, odd-indexed) lanes.
    unsafe fn load_bf16_pairs(_p: *const u16) -> (Self, Self) {
        unreachable!("rope-simd internal error: no bf16 pairs on this ISA")
    }
    /// Round (nearest even, as `half` does) and store `2N` bf16: `even[i]` at `2i`,
    /// `odd[i]` at `2i + 1`.
    unsafe fn store_bf16_pairs(_even: Self, _odd: Self, _p: *mut u16) {
        unreachable!("rope-simd internal error: no bf16 pairs on this ISA")
    }
    /// Whether the masked methods below exist (see [`aligned_run`]). Where it is false
    /// they are never called.
    const MASKED: bool = false;
    /// The lanes of `mask` (bit `i` for lane `i`) loaded from `p`, the others 0. Only
    /// those lanes' elements are read: `p` needs to be valid for them alone.
    #[inline(always)]
    unsafe fn load_masked(_p: *const f32, _mask: u32) -> Self {
        unreachable!("rope-simd internal error: no masked loads on this ISA")
    }
    /// Lanes of `mask` from `b`, the others from `a`.
    #[inline(always)]
    unsafe fn blend(_mask: u32, _a: Self, _b: Self) -> Self {
        unreachable!("rope-simd internal error: no masked blend on this ISA")
    }
    /// Store the lanes of `mask` at `p`; only those lanes' elements are written.
    #[inline(always)]
    unsafe fn store_masked(self, _p: *mut f32, _mask: u32) {
        unreachable!("rope-simd internal error: no masked stores on this ISA")
    }
    /// `store_bf16_pairs` of `M` chunks, `(even, odd, p)` each (one branch for all where
    /// the ISA checks its rounding). (Inlined always, like every method here: a default
    /// body compiled on its own lacks the ISA's target features, and its intrinsics
    /// become calls; this one ran 60x slower so.)
    #[inline(always)]
    unsafe fn store_bf16_chunks<const M: usize>(chunks: [(Self, Self, *mut u16); M]) {
        for (even, odd, p) in chunks {
            // SAFETY: forwarded from the caller.
            unsafe { Self::store_bf16_pairs(even, odd, p) }
        }
    }
}

/// Loads and stores of one element type through a [`Vector`], for every
/// [`Element`](crate::Element), chosen by its kind (a constant: one path is compiled).
pub trait SimdElement: Copy {
    /// True for bf16 only.
    const IS_BF16: bool;
    /// True for f32 only.
    const IS_F32: bool;
    /// True where [`SimdElement::store_stream`] can bypass the cache (f16, bf16).
    const STREAMS: bool;
    unsafe fn load<V: Vector>(p: *const Self) -> V;
    unsafe fn store<V: Vector>(v: V, p: *mut Self);
    /// [`SimdElement::store`], non-temporal where `STREAMS` and `V::STREAM` (then `p`
    /// must be 16-byte aligned).
    unsafe fn store_stream<V: Vector>(v: V, p: *mut Self);
}

// SAFETY (every unsafe block below): `Element` is sealed, and `E::KIND` names `E`'s
// layout (f32, or f16 or bf16, each a transparent u16), so the casts keep the type;
// the rest is forwarded from the caller.
impl<E: crate::Element> SimdElement for E {
    const IS_BF16: bool = matches!(E::KIND, Kind::Bf16);
    const IS_F32: bool = matches!(E::KIND, Kind::F32);
    const STREAMS: bool = !Self::IS_F32;
    #[inline(always)]
    unsafe fn load<V: Vector>(p: *const Self) -> V {
        unsafe {
            match E::KIND {
                Kind::F32 => V::load(p.cast()),
                Kind::F16 => V::load_f16(p.cast()),
                Kind::Bf16 => V::load_bf16(p.cast()),
            }
        }
    }
    #[inline(always)]
    unsafe fn store<V: Vector>(v: V, p: *mut Self) {
        unsafe {
            match E::KIND {
                Kind::F32 => v.store(p.cast()),
                Kind::F16 => v.store_f16(p.cast()),
                Kind::Bf16 => v.store_bf16(p.cast()),
            }
        }
    }
    #[inline(always)]
    unsafe fn store_stream<V: Vector>(v: V, p: *mut Self) {
        unsafe {
            match E::KIND {
                Kind::F32 => v.store(p.cast()),
                Kind::F16 => v.store_f16_stream(p.cast()),
                Kind::Bf16 => v.store_bf16_stream(p.cast()),
            }
        }
    }
}

/// Where `span.prefetch`, ask for the `len` bytes [`PREFETCH_AHEAD`] past `row`, one
/// hint per 64-byte line, before rotating the row: the rows that far ahead are rotated
/// a few microseconds later. The per-row loops ([`rows`], [`bf16_pairs_rows`]) call
/// this; the unrolled rows ([`in_registers`], [`bf16_interleaved`], [`bf16_split`])
/// call [`prefetch_lines`] in their own instantiation (`PF`), so that the ones decode
/// runs carry no trace of it: with the hints behind a branch in the one instantiation,
/// an AVX2 f32 decode step (head_dim 64, 40 heads) measured 10% slower, and sending
/// prefetching calls to [`rows`] instead cost 1024-token prefills up to 50% (its
/// bookkeeping shows once the data comes from L3). The aligned runs have no
/// prefetching form; such calls take the unrolled rows.
///
/// Why: on the test machine (Intel, KVM; 2 MiB of L2 per core) the hardware
/// prefetchers leave even a plain in-place pass well below what the caches past L2
/// deliver. A/B probe, our bandwidth over an in-place `x *= c` pass's on the same bytes,
/// 4096 tokens of 32 + 8 heads of 128 (fastest of 3 x 10 runs), without -> with the
/// hints, half-split / interleaved: AVX-512 f32 1.12 -> 1.43x / 1.04 -> 1.30, f16
/// 0.86 -> 1.19 / 0.80 -> 1.08, bf16 0.79 -> 1.15 / 0.78 -> 1.16; AVX2 f32 1.04 -> 1.31
/// / 1.02 -> 1.25, f16 0.79 -> 1.07 / 0.80 -> 1.14, bf16 0.59 -> 0.75 / 0.59 -> 0.77
/// (AVX2's bf16 rounding is integer work; 0.88-0.92 since it skips the NaN blend when
/// there are no NaNs, see `x86_64/avx2.rs`). 1024 tokens, AVX-512: f32 1635 -> 1035 us,
/// f16 878 -> 725, bf16 820 -> 608; 512 tokens, AVX2 interleaved f16 443 -> 330 us.
/// Rows in `[heads, tokens]` order (a PyTorch-style cache, where the hints reach later
/// tokens of the same head), 40 heads, 4096 tokens, AVX-512: f16 1.09-1.13 ->
/// 1.20-1.27x, f32 1.22 -> 1.28.
/// 2 and 8 KiB ahead measured as 4 KiB (an earlier build).
/// Around 1.3 MiB the hints gained nothing (bf16 and AVX2 interleaved f16 5-10% slower)
/// and in L1 they cost 30% (decode, f32, AVX-512), hence
/// [`PREFETCH_BYTES`](crate::kernel::PREFETCH_BYTES) = 4 MiB. In place only: out of
/// place (`rotate_into`, 4096 tokens of 32 heads of 128 from f32 into f16 and f32
/// slots) they measured no faster. A hint's address may lie outside every buffer (it
/// is computed with `wrapping_add` and never dereferenced).
///
/// # Safety
/// The CPU must support `V`'s ISA (see [`Vector`]). Any address will do: a hint reads
/// nothing and cannot fault.
#[inline(always)]
unsafe fn prefetch<V: Vector>(span: &Span, row: *const u8, len: usize) {
    if span.prefetch {
        // SAFETY: forwarded from the caller.
        unsafe { prefetch_lines::<V>(row, len.div_ceil(64)) };
    }
}

/// For the unrolled rows: `lines` lines from [`PREFETCH_AHEAD`] past the start of row
/// `x`'s pairs (`span.first`), and as many past its second halves (`span.second`) when
/// they are split.
///
/// # Safety
/// The CPU must support `V`'s ISA (see [`Vector`]). Any address will do: a hint reads
/// nothing and cannot fault.
#[inline(always)]
unsafe fn prefetch_halves<V: Vector, E>(x: *const E, span: &Span, lines: usize) {
    let (first, second) = (x.wrapping_add(span.first), x.wrapping_add(span.second));
    // SAFETY: forwarded from the caller (hints read nothing).
    unsafe {
        prefetch_lines::<V>(first.cast(), lines);
        if !span.interleaved {
            prefetch_lines::<V>(second.cast(), lines);
        }
    }
}

/// `lines` 64-byte lines from [`PREFETCH_AHEAD`] past `p` (see [`prefetch`]).
///
/// # Safety
/// The CPU must support `V`'s ISA (see [`Vector`]). Any address will do: a hint reads
/// nothing and cannot fault.
#[inline(always)]
unsafe fn prefetch_lines<V: Vector>(p: *const u8, lines: usize) {
    for l in 0..lines {
        // SAFETY: a hint reads nothing (see `Vector::prefetch`); the ISA is supported
        // (caller).
        unsafe { V::prefetch(p.wrapping_add(PREFETCH_AHEAD + 64 * l)) };
    }
}

/// Pairs per vector of `V` for this span's layout, and the pairs of a row that whole
/// vectors cover (the rest, the tail, goes to the scalar kernel).
#[inline(always)]
fn vector_body<V: Vector>(span: &Span) -> (usize, usize) {
    let width = if span.interleaved { V::N / 2 } else { V::N };
    (width, span.n / width * width)
}

/// Rotate `span` of `x` with vectors `V`.
///
/// Row by row (head by head), each row front to back. When a row's body is short enough
/// (`V::UNROLL` vectors; 16 for f32 half-split pairs, 8 for 16-bit ones) and the span has
/// several rows, its cos/sin are made ready once and each row is one unrolled block (see
/// [`bodies_in_registers`]: in registers as far as a quarter of them, `V::KEEP` vectors
/// each, holds them); otherwise they are reloaded per row from L1. (The other order, each
/// vector of cos/sin applied to every row before the next, measured 3x slower on a 64 MiB
/// prefill: it walks memory with a stride.) Half-split pairs go in blocks (see
/// [`split_block`]). Pairs after the last full vector of a row go to `V::Tail`'s narrower
/// vectors where one of those fits (see [`tail_split`]: on AVX-512, a second pass over
/// the rows with AVX2's), and the rest to the scalar kernel, all rows' in one call where
/// the bodies allow. Loads need no alignment.
///
/// Measured (A/B probe, 40 heads, f32 unless said, AVX-512, before -> after the narrower
/// tails): head_dim 80 half-split 1208 -> 255 ns; 16 of 64 channels rotated (Pythia)
/// 1015 -> 79, f16 2757 -> 103; 24 of 96 interleaved (GPT-NeoX) 463 -> 85; rows of whole
/// vectors unchanged.
///
/// # Safety
/// The CPU must support `V`'s ISA (see [`Vector`]). Bounds are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn rotate<V: Vector, E: crate::Element>(
    x: &mut [E],
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    // One call of `rotate_rows` for both cases: each is a copy of the whole kernel.
    let split = tail_split::<V>(span);
    let head = split.map_or(*span, |body| span.head(body));
    // SAFETY: forwarded from the caller (`V::Tail` runs wherever `V` does); both parts
    // lie within the span, checked by `rotate_rows`.
    unsafe {
        if head.n > 0 {
            rotate_rows::<V, E>(x, &head, cos, sin);
        }
        if let Some(body) = split {
            V::rotate_tails(x, &span.tails(body), &cos[body..], &sin[body..]);
        }
    }
}

/// Where [`rotate`] and [`rotate_into`] split `span` between `V` and `V::Tail`: the pairs
/// of `V`'s vector body, when the rest of each row holds at least one vector of the
/// narrower `V::Tail` (`None` otherwise: all to `V`, the rest of each row to the scalar
/// kernel). With AVX-512 that is every row whose pairs are not a multiple of 16 (8
/// interleaved) and leave 8 (4) or more: head_dim 80 (40 pairs: two 16-lane vectors and
/// one 8-lane one) or partial rotary with 8 or 10 pairs (Pythia, GPT-NeoX, StableLM),
/// which used to go to the scalar kernel whole. The bits are the same either way.
#[inline(always)]
fn tail_split<V: Vector>(span: &Span) -> Option<usize> {
    let (_, body) = vector_body::<V>(span);
    let (narrow, _) = vector_body::<V::Tail>(span);
    (V::Tail::N < V::N && span.n - body >= narrow).then_some(body)
}

/// [`rotate`] with `V` alone: vector bodies, then the scalar kernel for each row's tail.
///
/// # Safety
/// As for [`rotate`].
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn rotate_rows<V: Vector, E: crate::Element>(
    x: &mut [E],
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    span.assert_fits(x.len(), cos, sin);
    let (_, body) = vector_body::<V>(span);
    let p = x.as_mut_ptr();
    // Large calls take the instantiation that prefetches (see `prefetch`).
    let (src, stride) = (p.cast_const(), span.stride);
    // SAFETY: forwarded from the caller; `assert_fits` checked the span above (for
    // reading and writing the same rows).
    let done = unsafe {
        if V::PREFETCH && span.prefetch {
            bodies_in_registers::<V, E, E, false, true>(src, p, stride, span, cos, sin)
        } else {
            bodies_in_registers::<V, E, E, false, false>(src, p, stride, span, cos, sin)
        }
    };
    if done && body == span.n {
        return;
    }
    let to = if done { 0 } else { body };
    match block_len::<V, E>(span.second - span.first) {
        // SAFETY: forwarded from the caller; `assert_fits` checked the span above.
        4 => unsafe { rows::<V, E, 4>(x, span, to, cos, sin) },
        _ => unsafe { rows::<V, E, 1>(x, span, to, cos, sin) },
    }
}

/// The rows of `span`: pairs `0..to` of each with cos/sin loaded per vector (half-split
/// in blocks of `B`; `to` is 0 when [`bodies_in_registers`] did them), then the scalar
/// tail after the last whole vector.
///
/// # Safety
/// The CPU must support `V`'s ISA; the span fits `x`, `cos` and `sin` (`assert_fits`);
/// `to` is 0 or the vector body.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn rows<V: Vector, E: crate::Element, const B: usize>(
    x: &mut [E],
    span: &Span,
    to: usize,
    cos: &[f32],
    sin: &[f32],
) {
    let (_, body) = vector_body::<V>(span);
    if to == 0 {
        // The bodies are done (or there are none): every row's tail in one call, not one
        // call per row (head_dim 80 with 20 rotated channels, 40 heads, f32, A/B probe:
        // AVX-512 667 -> 315 ns, AVX2 656 -> 306; f16 interleaved 889 -> 565).
        if body < span.n {
            kernel::scalar(x, &span.tails(body), &cos[body..], &sin[body..]);
        }
        return;
    }
    let mut dup = Dup::new();
    // SAFETY: the ISA is supported (caller); `cos`/`sin` hold `n >= to` values.
    let dup = unsafe { dup.fill::<V>(span, to, cos, sin) };
    for r in 0..span.rows {
        let row_x = &mut x[r * span.stride..];
        let p = row_x.as_mut_ptr();
        // SAFETY: the ISA is supported (caller).
        unsafe { prefetch::<V>(span, p.cast_const().cast(), span.row_bytes::<E>()) };
        // SAFETY: the ISA is supported (caller); pairs `0..to` of this row lie within
        // `row_x` (`assert_fits`), `cos`/`sin` hold at least `n` values, and `dup` (if
        // any) was filled for this span up to `to`.
        unsafe { vector_pairs::<V, E, E, B, false>(p, p, span, to, (cos, sin), dup) };
        if body < span.n {
            kernel::scalar(row_x, &span.row_tail(body), &cos[body..], &sin[body..]);
        }
    }
}

/// The vector body of every row of `span`, read from `src` and written to `dst` (row `r` at
/// `r * span.stride` and `r * dst_stride`; the same rows for an in-place rotation), with
/// the span's cos/sin made ready once (`K` vectors each: duplicated and sign-flipped for
/// interleaved pairs) before the first row, when the body is `K` vectors for `K` up to
/// `V::UNROLL` (at most 16 for f32 half-split pairs, 8 for 16-bit ones) and there is more
/// than one row; each row is then one unrolled block. Returns `false`, having done
/// nothing, otherwise. The caller does the scalar tails.
///
/// Up to `V::KEEP` vectors each stay in registers. Past that the compiler keeps the rest
/// on the stack and each vector of a row loads its cos/sin from there, as the per-row
/// loop of [`rows`] loads them from the table or [`Dup`]: the same loads, without that
/// loop's per-row and per-vector bookkeeping. On this crate's Intel test machine (decode,
/// 40 heads, f32 unless said; A/B probe, best of 3-4 alternating runs of 16 buffer
/// placements each) that took AVX2 interleaved hd64 312 -> 200 ns, hd128 578 -> 414 (f16
/// 363 -> 260 and 660 -> 515), AVX2 half-split hd128 452 -> 353, AVX-512 interleaved
/// hd256 646 -> 491; 16-bit rows otherwise within 4% (their conversions bound them).
/// 16-bit half-split rows of 16 vectors lost (AVX2 f16 hd256 1032 -> 1102, in repeated
/// runs): those stay with [`rows`]. f32 ones gained, measured 2026-12-02 (f32 decode,
/// best of 10 alternating runs): AVX2 hd256, 40 heads, 1149 -> 882 ns (the per-row loop
/// had made its rows 65% slower per element than hd128's); AVX-512 hd512, 8 heads (in
/// L1), 232 -> 185; AVX-512 hd512 at 40 heads (80 KiB, in L2) unchanged, 2075 -> 2048;
/// prefills (AVX2 hd256 1024 tokens, AVX-512 hd512 512 tokens) 1.15 -> 1.23x and 1.20 ->
/// 1.31x of the in-place pass's bandwidth. Interleaved rows of 32 vectors (AVX2 hd256,
/// AVX-512 hd512) likewise, every dtype, the same day: f32 decode AVX2 hd256 1261 -> 1050
/// ns, AVX-512 hd512 at 8 heads 360 -> 243 and at 40 unchanged (1740 -> 1779), f16 the same
/// or up to 8% faster; 64-token AVX2 hd256 prefill 0.81 -> 0.87x of the in-place
/// pass, AVX-512 hd512 512 tokens 1.13 -> 1.25x. Together the two cost the x86_64 C
/// library 56 KB (832 728 -> 888 632 bytes). (The portable lanes, whose `UNROLL` is its
/// `KEEP`, say why at their impl; they stop at 2.)
///
/// Where cos/sin fit in registers, besides saving two loads and a sign flip per vector,
/// this removes a slowdown measured on this crate's AMD EPYC test machine: every large
/// allocation starts at the same offset within a 4 KiB page, so at head_dim 256
/// (half-split) each cos/sin row shares its address bits below 4096 with the rows of one
/// head in four, and loads of cos/sin issued right after stores to those rows waited on
/// them ("4K aliasing"): 512-token prefills took twice as long in a probe. With no
/// cos/sin loads between the stores, nothing can alias.
///
/// With `PF` (in-place calls of [`PREFETCH_BYTES`](crate::kernel::PREFETCH_BYTES) or
/// more), the kernels that prefetch (see [`prefetch`]): the unrolled rows, not the
/// aligned runs.
///
/// # Safety
/// The CPU must support `V`'s ISA; the span must fit both buffers and `cos`/`sin`
/// (`assert_fits`); `src` and `dst` are the same rows or do not overlap.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn bodies_in_registers<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const NT: bool,
    const PF: bool,
>(
    src: *const S,
    dst: *mut D,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) -> bool {
    // The bf16-pair stores have no streaming form: a streaming bf16 -> bf16 call takes
    // the one-vector kernels below.
    if V::BF16_PAIRS && S::IS_BF16 && D::IS_BF16 && !NT {
        let (src, dst) = (src.cast::<u16>(), dst.cast::<u16>());
        // SAFETY: forwarded from the caller; `S` and `D` are bf16, a transparent u16.
        if unsafe {
            (span.rows >= 2
                && bf16_pairs_in_registers::<V, PF>(src, dst, dst_stride, span, cos, sin))
                || bf16_pairs_rows::<V>(src, dst, dst_stride, span, cos, sin)
        } {
            return true;
        }
    }
    if span.rows < 2 {
        return false;
    }
    if V::MASKED && S::IS_F32 && D::IS_F32 && !NT && !PF {
        let (src, dst) = (src.cast::<f32>(), dst.cast::<f32>());
        // SAFETY: forwarded from the caller; `S` and `D` are f32.
        if unsafe { aligned_run::<V>(src, dst, dst_stride, span, cos, sin) } {
            return true;
        }
    }
    let (width, _) = vector_body::<V>(span);
    // SAFETY: forwarded from the caller.
    unsafe {
        match span.n / width {
            1 => in_registers::<V, S, D, 1, NT, PF>(src, dst, dst_stride, span, cos, sin),
            2 => in_registers::<V, S, D, 2, NT, PF>(src, dst, dst_stride, span, cos, sin),
            4 if V::UNROLL >= 4 => {
                in_registers::<V, S, D, 4, NT, PF>(src, dst, dst_stride, span, cos, sin)
            }
            8 if V::UNROLL >= 8 => {
                in_registers::<V, S, D, 8, NT, PF>(src, dst, dst_stride, span, cos, sin)
            }
            // Half-split 16-bit rows of 16 vectors measured faster in `rows` (see above).
            16 if V::UNROLL >= 16 && (span.interleaved || (S::IS_F32 && D::IS_F32)) => {
                in_registers::<V, S, D, 16, NT, PF>(src, dst, dst_stride, span, cos, sin)
            }
            // Not f32 half-split rows of 32 vectors: AVX2 hd512 measured no faster (decode,
            // 8 heads 389 -> 403 ns, 40 heads 2264 -> 2251).
            32 if V::UNROLL >= 32 && span.interleaved => {
                in_registers::<V, S, D, 32, NT, PF>(src, dst, dst_stride, span, cos, sin)
            }
            _ => return false,
        }
    }
    true
}

/// [`bodies_in_registers`] for bf16 to bf16 on ISAs with [`Vector::BF16_PAIRS`], when
/// every row is a whole number of chunks of `2N` bf16 and the chunks' cos/sin fit in
/// `V::KEEP` vectors each: returns `false`, having done nothing, otherwise.
///
/// A chunk of `2N` bf16 is one load; its even- and odd-indexed elements widen with one
/// shift and one mask into two vectors of f32 (no lane crossing), and the results go back
/// with one two-vector rounding and one word shuffle (AVX512_BF16), or rounded in
/// integers with each result left in its half of a 32-bit lane and the halves merged
/// with a shift, masks and an or (every other ISA: no shuffle). Interleaved pairs are
/// then (even, odd) lanes of the same vector, so cos/sin are plain loads (no
/// duplication, no swap); half-split pairs match even with even and odd with odd lanes
/// of their two halves, so cos/sin are split into even and odd lanes once per span. The
/// arithmetic per element is the scalar kernel's (`a*c - b*s`, `b*c + a*s`). Measured in
/// isolation on this crate's test machine (AMD EPYC, AVX-512 + AVX512_BF16, 16 KiB in
/// L1, best of 7): a bf16 `x *= c` pass took 0.93 ns per 16 elements this way against
/// 1.36 ns with `vpmovzxwd` widening and one-vector rounding.
///
/// # Safety
/// As for [`bodies_in_registers`], with `src`/`dst` bf16 bits and `V::BF16_PAIRS`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn bf16_pairs_in_registers<V: Vector, const PF: bool>(
    src: *const u16,
    dst: *mut u16,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) -> bool {
    let n = span.n;
    // SAFETY: forwarded from the caller (the match arms check the chunk counts).
    unsafe {
        if span.interleaved {
            if !n.is_multiple_of(V::N) {
                return false;
            }
            match n / V::N {
                1 => bf16_interleaved::<V, 1, PF>(src, dst, dst_stride, span, cos, sin),
                2 => bf16_interleaved::<V, 2, PF>(src, dst, dst_stride, span, cos, sin),
                4 if V::KEEP >= 4 => {
                    bf16_interleaved::<V, 4, PF>(src, dst, dst_stride, span, cos, sin)
                }
                8 if V::KEEP >= 8 => {
                    bf16_interleaved::<V, 8, PF>(src, dst, dst_stride, span, cos, sin)
                }
                _ => return false,
            }
        } else {
            if !n.is_multiple_of(2 * V::N) {
                return false;
            }
            match n / (2 * V::N) {
                1 => bf16_split::<V, 1, PF>(src, dst, dst_stride, span, cos, sin),
                2 if V::KEEP >= 4 => bf16_split::<V, 2, PF>(src, dst, dst_stride, span, cos, sin),
                4 if V::KEEP >= 8 => bf16_split::<V, 4, PF>(src, dst, dst_stride, span, cos, sin),
                _ => return false,
            }
        }
    }
    true
}

/// [`bf16_pairs_in_registers`] for interleaved rows of `K` chunks (`K * N` pairs).
///
/// # Safety
/// As for [`bf16_pairs_in_registers`], with `span.n == K * V::N`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn bf16_interleaved<V: Vector, const K: usize, const PF: bool>(
    src: *const u16,
    dst: *mut u16,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): the ISA is supported and has bf16 pairs (caller);
    // `cos`/`sin` hold `n = K * N` values, and each row's `2n` channels from
    // `span.first` lie within both buffers (`assert_fits`, checked by the caller).
    let flip = unsafe { sin_flip::<V>(span) };
    let c: [V; K] = array!(K, |j| unsafe { V::load(cp.add(j * V::N)) });
    let s: [V; K] = array!(K, |j| unsafe { V::load(sp.add(j * V::N)).xor(flip) });
    // A row's `2n` bf16.
    let lines = (2 * K * V::N * 2).div_ceil(64);
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        if PF {
            unsafe { prefetch_halves::<V, u16>(x, span, lines) };
        }
        // Chunks two at a time (one rounding check for both), K being 1 or even.
        for j in (0..K).step_by(2) {
            unsafe {
                let o = span.first + 2 * j * V::N;
                let (a, b) = V::load_bf16_pairs(x.add(o));
                let (a2, b2) = pair(a, b, c[j], s[j]);
                if j + 1 < K {
                    let o1 = o + 2 * V::N;
                    let (a, b) = V::load_bf16_pairs(x.add(o1));
                    let (a3, b3) = pair(a, b, c[j + 1], s[j + 1]);
                    V::store_bf16_chunks([(a2, b2, y.add(o)), (a3, b3, y.add(o1))]);
                } else {
                    V::store_bf16_pairs(a2, b2, y.add(o));
                }
            }
        }
    }
}

/// [`bf16_pairs_in_registers`] for half-split rows of `K` chunks (`K * 2N` pairs).
///
/// # Safety
/// As for [`bf16_pairs_in_registers`], with `span.n == K * 2 * V::N`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn bf16_split<V: Vector, const K: usize, const PF: bool>(
    src: *const u16,
    dst: *mut u16,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): the ISA is supported and has bf16 pairs (caller);
    // `cos`/`sin` hold `n = K * 2N` values, and each row's two halves of `n` channels
    // lie within both buffers (`assert_fits`, checked by the caller).
    let flip = unsafe { sin_flip::<V>(span) };
    let c: [(V, V); K] = array!(K, |j| unsafe { V::load_f32_pairs(cp.add(j * 2 * V::N)) });
    let s: [(V, V); K] = array!(K, |j| unsafe {
        let (e, o) = V::load_f32_pairs(sp.add(j * 2 * V::N));
        (e.xor(flip), o.xor(flip))
    });
    // Each half's `n` bf16.
    let lines = (2 * K * V::N * 2).div_ceil(64);
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        if PF {
            unsafe { prefetch_halves::<V, u16>(x, span, lines) };
        }
        for j in 0..K {
            unsafe { split_pairs_chunk(x, y, span, j * 2 * V::N, c[j], s[j]) };
        }
    }
}

/// The bf16-pair kernels (see [`bf16_pairs_in_registers`]) for spans that one does not
/// take (one row, or more chunks than fit in registers), with cos/sin loaded per chunk
/// and row: plain loads for interleaved pairs; for half-split pairs, from a copy split
/// into even and odd lanes once per span. Covers every row's vector body (the caller
/// does the scalar tails); returns `false`, having done nothing, when that body is not
/// a whole number of chunks.
///
/// # Safety
/// As for [`bf16_pairs_in_registers`].
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn bf16_pairs_rows<V: Vector>(
    src: *const u16,
    dst: *mut u16,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) -> bool {
    let (_, body) = vector_body::<V>(span);
    let chunk = if span.interleaved { V::N } else { 2 * V::N };
    if body == 0 || !body.is_multiple_of(chunk) {
        return false;
    }
    let chunks = body / chunk;
    if body > MAX_PAIRS {
        return false; // never: no span has more pairs than a head
    }
    // SAFETY (every block below): the ISA is supported and has bf16 pairs (caller);
    // `cos`/`sin` hold `n >= body` values, and each row's pairs `0..body` lie within both
    // buffers (`assert_fits`, checked by the caller); the split copies below hold the
    // `body` values written before the loop.
    let flip = unsafe { sin_flip::<V>(span) };
    if span.interleaved {
        let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
        for r in 0..span.rows {
            let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
            unsafe { prefetch::<V>(span, x.cast(), span.row_bytes::<u16>()) };
            for j in 0..chunks {
                unsafe {
                    let (c, s) = (V::load(cp.add(j * V::N)), V::load(sp.add(j * V::N)));
                    let o = span.first + 2 * j * V::N;
                    let (a, b) = V::load_bf16_pairs(x.add(o));
                    let (a2, b2) = pair(a, b, c, s.xor(flip));
                    V::store_bf16_pairs(a2, b2, y.add(o));
                }
            }
        }
        return true;
    }
    if span.rows == 1 {
        // One row: split each chunk's cos/sin as it is used.
        for j in 0..chunks {
            unsafe {
                let o = j * chunk;
                let c = V::load_f32_pairs(cos.as_ptr().add(o));
                let (se, so) = V::load_f32_pairs(sin.as_ptr().add(o));
                split_pairs_chunk(src, dst, span, o, c, (se.xor(flip), so.xor(flip)));
            }
        }
        return true;
    }
    // Chunk j's even cos at `2jN`, its odd ones at `2jN + N` (sin likewise, sign-flipped).
    let mut split = [[MaybeUninit::<f32>::uninit(); MAX_PAIRS]; 2];
    let [cs, ss] = &mut split;
    let (cs, ss) = (cs.as_mut_ptr().cast::<f32>(), ss.as_mut_ptr().cast::<f32>());
    for j in 0..chunks {
        unsafe {
            let o = j * chunk;
            let (ce, co) = V::load_f32_pairs(cos.as_ptr().add(o));
            let (se, so) = V::load_f32_pairs(sin.as_ptr().add(o));
            ce.store(cs.add(o));
            co.store(cs.add(o + V::N));
            se.xor(flip).store(ss.add(o));
            so.xor(flip).store(ss.add(o + V::N));
        }
    }
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        unsafe { prefetch::<V>(span, x.cast(), span.row_bytes::<u16>()) };
        for j in 0..chunks {
            unsafe {
                let o = j * chunk;
                let c = (V::load(cs.add(o)), V::load(cs.add(o + V::N)));
                let s = (V::load(ss.add(o)), V::load(ss.add(o + V::N)));
                split_pairs_chunk(x, y, span, o, c, s);
            }
        }
    }
    true
}

/// Half-split bf16 pairs `o..o + 2N` of the row at `x` (written to `y`), with their cos
/// and sign-flipped sin as (even, odd) lanes.
///
/// # Safety
/// As for [`bf16_pairs_in_registers`], for pairs `o..o + 2N` of one row.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_pairs_chunk<V: Vector>(
    x: *const u16,
    y: *mut u16,
    span: &Span,
    o: usize,
    (ce, co): (V, V),
    (se, so): (V, V),
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let (oa, ob) = (span.first + o, span.second + o);
        let (ae, ao) = V::load_bf16_pairs(x.add(oa));
        let (be, bo) = V::load_bf16_pairs(x.add(ob));
        let ((ae2, be2), (ao2, bo2)) = (pair(ae, be, ce, se), pair(ao, bo, co, so));
        V::store_bf16_chunks([(ae2, ao2, y.add(oa)), (be2, bo2, y.add(ob))]);
    }
}

/// [`bodies_in_registers`] for f32 spans whose rows lie back to back (every channel
/// rotated, stride `2n`) but start off a vector boundary, on ISAs with masked loads and
/// stores ([`Vector::MASKED`]): the span is walked as one run of vectors on
/// `V::N`-element boundaries, so that no load or store crosses a cache line (half-split
/// pairs in [`split_stream`], interleaved ones in [`interleaved_stream`]). Returns
/// `false`, having done nothing, unless the span (and the destination) start `m > 0`
/// elements past a boundary (`m` even for interleaved pairs, so that no pair straddles
/// two vectors) and a row is a number of vectors that fits: up to `2 * V::KEEP` per half
/// for half-split pairs and per row for interleaved ones (8 and 16 with AVX-512, 8 and 8
/// with AVX2, where an interleaved run of 16 measured slower: below).
///
/// Why: with 16 lanes a vector is a 64-byte cache line, and a row that starts off a line
/// (Rust's `Vec<f32>` is 16-byte aligned by the allocator) makes every 512-bit load and
/// store of it cross one. On an Intel Xeon (family 6 model 207, 2026-12-01; f32 decode
/// step, 40 heads, in L1) rows 16 bytes off took 1.2-1.7x the time of 64-byte aligned
/// rows; with this path, in an A/B probe of that step at 16 bytes off (best of 18
/// timings each, two builds run alternately), half-split head_dim 64 went 162 -> 124 ns,
/// 128 324 -> 215 ns and 256 611 -> 431 ns; interleaved 64 149 -> 141, 128 304 -> 254,
/// 256 1041 -> 655 ns: 1.05-1.25x the time of aligned rows (which do not take this
/// path). At head_dim 256 the cos/sin vectors do not all fit in registers and LLVM keeps
/// some on the stack, where they are aligned loads.
///
/// With AVX2's 8 lanes a vector is half a line, and every other one of a row 16 bytes off
/// crosses one: on the same machine such rows took 1.2-1.5x the time of aligned ones
/// (f32 decode, 40 heads). The run, on the same probe (best of 4-6 alternating runs of
/// 16 placements 16 bytes off), took head_dim 64 half-split 225 -> 189 ns and
/// interleaved 250 -> 184 (aligned: 161 and 208), and half-split 128 500 -> 376 (aligned
/// 337) once each pair of vectors was loaded just before its stores (loading a row's
/// vectors first, as at first, left it at 481 -> 472: AVX2 has 16 registers).
/// Interleaved 128 (cos/sin in 32 vectors, most on the stack) went 526 -> 683 and is
/// left to the unaligned vectors.
///
/// # Safety
/// As for [`bodies_in_registers`], with `V::MASKED` and f32 on both sides.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn aligned_run<V: Vector>(
    src: *const f32,
    dst: *mut f32,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) -> bool {
    let (lanes, n) = (V::N, span.n);
    let off = |p: *const f32| (p as usize / core::mem::size_of::<f32>()) % lanes;
    let m = off(src.wrapping_add(span.first));
    if m == 0
        || off(dst.wrapping_add(span.first).cast_const()) != m
        || span.stride != 2 * n
        || dst_stride != 2 * n
        || !(2 * n).is_multiple_of(lanes)
    {
        return false;
    }
    let run = Run::new::<V>(
        src.wrapping_add(span.first),
        dst.wrapping_add(span.first),
        m,
    );
    // SAFETY: forwarded from the caller (the arms give `n == K * N`, or `2n == R * N`).
    unsafe {
        if span.interleaved {
            if m % 2 != 0 {
                return false;
            }
            match 2 * n / lanes {
                1 => interleaved_stream::<V, 1>(run, span, cos, sin),
                2 => interleaved_stream::<V, 2>(run, span, cos, sin),
                4 => interleaved_stream::<V, 4>(run, span, cos, sin),
                8 if V::KEEP >= 4 => interleaved_stream::<V, 8>(run, span, cos, sin),
                16 if V::KEEP >= 8 => interleaved_stream::<V, 16>(run, span, cos, sin),
                _ => return false,
            }
        } else {
            if span.second != span.first + n || !n.is_multiple_of(lanes) {
                return false;
            }
            match n / lanes {
                1 => split_stream::<V, 1>(run, span, cos, sin),
                2 => split_stream::<V, 2>(run, span, cos, sin),
                4 if V::KEEP >= 4 => split_stream::<V, 4>(run, span, cos, sin),
                8 if V::KEEP >= 4 => split_stream::<V, 8>(run, span, cos, sin),
                _ => return false,
            }
        }
    }
    true
}

/// The run of [`aligned_run`]: vector `w` starts `m` (`0 < m < N`) elements before
/// `src + w*N` (read) and `dst + w*N` (written), on a vector boundary; `low` and `high`
/// are the lane masks `0..m` and `m..N`.
#[derive(Clone, Copy)]
struct Run {
    src: *const f32,
    dst: *mut f32,
    m: usize,
    low: u32,
    high: u32,
}

impl Run {
    #[inline(always)]
    fn new<V: Vector>(src: *const f32, dst: *mut f32, m: usize) -> Self {
        let full = (1u32 << V::N) - 1;
        let (low, high) = ((1u32 << m) - 1, full & (full << m));
        Run {
            src,
            dst,
            m,
            low,
            high,
        }
    }
    /// Where vector `w` is read (wrapping arithmetic: vector 0 starts before `src`, and
    /// is accessed only in its lanes `m..N`). Plain pointer arithmetic, no intrinsics:
    /// the kernels call it through closures.
    #[inline(always)]
    fn at<V: Vector>(self, w: usize) -> *const f32 {
        self.src.wrapping_add(w * V::N).wrapping_sub(self.m)
    }
    /// Where vector `w` is written (as for [`Run::at`]).
    #[inline(always)]
    fn at_mut<V: Vector>(self, w: usize) -> *mut f32 {
        self.dst.wrapping_add(w * V::N).wrapping_sub(self.m)
    }
}

/// [`aligned_run`] for interleaved pairs, `2n == R * N`: vector `w` of the run holds
/// elements `w*N - m..(w+1)*N - m` of the span. Every pair lies within one vector (`m`
/// is even), so each vector is rotated on its own as in [`in_registers`]; the vectors
/// that straddle two rows (`w` a multiple of `R`) hold the end of one row in lanes
/// `0..m` and the start of the next in lanes `m..N`, and take cos/sin put together the
/// same way, once per span.
///
/// # Safety
/// As for [`aligned_run`]; `run.src`/`run.dst` hold `span.rows * 2n` elements from there.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn interleaved_stream<V: Vector, const R: usize>(
    run: Run,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let rows = span.rows;
    let (half, shift, n) = (V::N / 2, run.m / 2, R * V::N / 2);
    let (low, high) = (run.low, run.high);
    let (at, at_mut) = (|w| run.at::<V>(w), |w| run.at_mut::<V>(w));
    // The straddling vectors' pairs: `n - m/2..n`, then `0..N/2 - m/2`.
    let (mut bc, mut bs) = ([0.0f32; 16], [0.0f32; 16]);
    for l in 0..half.min(16) {
        let j = if l < shift { n - shift + l } else { l - shift };
        (bc[l], bs[l]) = (cos[j], sin[j]);
    }
    // SAFETY (every block below): the ISA is supported and has masked loads and stores
    // (caller); `V::N / 2 <= 16` values are read from `bc`/`bs`, and `N/2` from
    // cos/sin at pair `u*N/2 - m/2` for `0 < u < R`, which end at `n - m/2` at most.
    // The data: vectors `1..R*rows` of the run lie within the span's elements; vector 0
    // is accessed in lanes `m..N` (the span's first `N - m` elements) and vector `R*rows`
    // in lanes `0..m` (its last `m`). In place, every element is read once, before it
    // is written, and written once.
    unsafe {
        let flip = V::alternating_sign(span.inverse);
        let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
        let c: [V; R] = array!(R, |u| if u == 0 {
            V::load_dup(bc.as_ptr())
        } else {
            V::load_dup(cp.add(u * half - shift))
        });
        let s: [V; R] = array!(R, |u| if u == 0 {
            V::load_dup(bs.as_ptr()).xor(flip)
        } else {
            V::load_dup(sp.add(u * half - shift)).xor(flip)
        });
        for r in 0..rows {
            for u in 0..R {
                let w = r * R + u;
                if r == 0 && u == 0 {
                    let v = V::load_masked(at(0), high);
                    interleaved(v, c[0], s[0]).store_masked(at_mut(0), high);
                } else {
                    interleaved(V::load(at(w)), c[u], s[u]).store(at_mut(w));
                }
            }
        }
        let v = V::load_masked(at(R * rows), low);
        interleaved(v, c[0], s[0]).store_masked(at_mut(R * rows), low);
    }
}

/// [`aligned_run`] for half-split pairs, `n == K * N`: the span's `rows * 2n` elements
/// starting at `run.src` (read) and `run.dst` (written), `m` (`0 < m < N`) elements
/// past a vector boundary.
///
/// The run: vector `w` holds elements `w*N - m..(w+1)*N - m` of the span. Per row `r`
/// (`2K` vectors, `u = w - 2Kr`), vector `u = 0` (`B`) holds the end of row `r - 1`'s
/// second half in lanes `0..m` and the start of row `r`'s first half in lanes `m..N`;
/// `u = K` (`M`) the end of the first half and the start of the second; the others
/// lie inside one half and pair with the vector `K` away. The lanes of `B` and `M`
/// pair with lanes of the `M` and `B` around them (`B_r`: `M_(r-1)` below `m`, `M_r`
/// from `m`; `M_r`: `B_(r+1)` below `m`, `B_r` from `m`), put together with one blend.
/// Each lane computes `x*c + y*s'`, with `s' = -s` where `x` is the pair's first
/// element and `s` where it is the second: the scalar kernel's `a*c - b*s` and
/// `b*c + a*s`, exactly (`p - q == p + (-q)` in IEEE arithmetic).
///
/// # Safety
/// As for [`aligned_run`]; `run.src`/`run.dst` hold `span.rows * 2n` elements from there.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_stream<V: Vector, const K: usize>(run: Run, span: &Span, cos: &[f32], sin: &[f32]) {
    let (lanes, rows, n, m) = (V::N, span.rows, K * V::N, run.m);
    let (low, high) = (run.low, run.high);
    let (at, at_mut) = (|w| run.at::<V>(w), |w| run.at_mut::<V>(w));
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): the ISA is supported and has masked loads and stores
    // (caller). cos/sin: `n = K * N` values; the loads at `u*N - m` (`0 < u < K`) lie
    // within them, and `bc`/`bs` hold `N <= 16` values. The data: vectors `1..2K*rows` of
    // the run lie within the span's elements; vector 0 is accessed in lanes `m..N` (the
    // span's first `N - m` elements) and vector `2K*rows` in lanes `0..m` (its last `m`).
    // In place, every element is read once, before it is written, and written once.
    let flip = unsafe { sin_flip::<V>(span) };
    let neg = unsafe { V::splat(-0.0) };
    // Vectors inside a half: cos and sin for pairs `u*N - m..`, `u` in `1..K` (index 0
    // unused, and 0).
    let zero = unsafe { V::splat(0.0) };
    let c: [V; K] = array!(K, |u| unsafe {
        if u == 0 {
            zero
        } else {
            V::load(cp.add(u * lanes - m))
        }
    });
    let s: [V; K] = array!(K, |u| unsafe {
        if u == 0 {
            zero
        } else {
            V::load(sp.add(u * lanes - m)).xor(flip)
        }
    });
    // `B` and `M`: pairs `n - m..n` in lanes `0..m`, `0..N - m` in lanes `m..N`; in
    // `B` the low lanes are second elements and the high lanes first ones, in `M` the
    // other way round.
    // Put together lane by lane, once per call (masked loads would reach before `cos`,
    // where a page may end: the AVX-512 masks suppress faults there, AVX2's are only
    // documented to by Intel).
    let (mut bc, mut bs) = ([0.0f32; 16], [0.0f32; 16]);
    for l in 0..lanes.min(16) {
        let j = if l < m { n - m + l } else { l - m };
        (bc[l], bs[l]) = (cos[j], sin[j]);
    }
    let (cb, sb) = unsafe { (V::load(bc.as_ptr()), V::load(bs.as_ptr()).xor(flip)) };
    let (sb_b, sb_m) = unsafe {
        (
            V::blend(high, sb, sb.xor(neg)),
            V::blend(low, sb, sb.xor(neg)),
        )
    };
    let (s_a, s_b): ([V; K], [V; K]) = (array!(K, |u| unsafe { s[u].xor(neg) }), s);
    unsafe {
        let mut b_cur = V::load_masked(at(0), high);
        let mut m_prev = b_cur; // lanes below `m` of B_0 are never stored
        for r in 0..rows {
            let w = 2 * K * r;
            // `B` and `M` first (their blends need the loads around them), then each pair
            // of vectors inside the halves loaded just before its stores: few registers
            // live beyond cos/sin (with all `2K` loaded first, AVX2's 16 ran out at K = 8).
            let m_cur = V::load(at(w + K));
            let b_next = if r + 1 < rows {
                V::load(at(w + 2 * K))
            } else {
                V::load_masked(at(w + 2 * K), low)
            };
            let out_b = b_cur.mul(cb).add(V::blend(high, m_prev, m_cur).mul(sb_b));
            let out_m = m_cur.mul(cb).add(V::blend(high, b_next, b_cur).mul(sb_m));
            if r == 0 {
                out_b.store_masked(at_mut(w), high);
            } else {
                out_b.store(at_mut(w));
            }
            out_m.store(at_mut(w + K));
            for u in 1..K {
                let (a, b) = (V::load(at(w + u)), V::load(at(w + K + u)));
                a.mul(c[u]).add(b.mul(s_a[u])).store(at_mut(w + u));
                b.mul(c[u]).add(a.mul(s_b[u])).store(at_mut(w + K + u));
            }
            (m_prev, b_cur) = (m_cur, b_next);
        }
        // The last `B`: the end of the last row's second half, in lanes `0..m`.
        let out_b = b_cur.mul(cb).add(m_prev.mul(sb_b));
        out_b.store_masked(at_mut(2 * K * rows), low);
    }
}

/// [`bodies_in_registers`] for a body of `K` vectors; with `PF`, each row's bytes
/// [`PREFETCH_AHEAD`] ahead are asked for first (see [`prefetch`]).
///
/// # Safety
/// As for [`bodies_in_registers`], with `span.n / width == K`.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn in_registers<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const K: usize,
    const NT: bool,
    const PF: bool,
>(
    src: *const S,
    dst: *mut D,
    dst_stride: usize,
    span: &Span,
    cos: &[f32],
    sin: &[f32],
) {
    let (width, _) = vector_body::<V>(span);
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    let block = block_len::<V, S>(span.second - span.first).min(K);
    // SAFETY (every block below): the ISA is supported (caller); `cos`/`sin` hold at
    // least `n >= K * width` values, and pairs `0..K * width` of every row lie within
    // both buffers (`assert_fits`, checked by the caller), each access being one vector
    // of channels (or N/2 cos/sin values) starting at pair `j * width`.
    let (c, s): ([V; K], [V; K]) = if span.interleaved {
        let flip = unsafe { V::alternating_sign(span.inverse) };
        (
            array!(K, |j| unsafe { V::load_dup(cp.add(j * width)) }),
            array!(K, |j| unsafe { V::load_dup(sp.add(j * width)).xor(flip) }),
        )
    } else {
        let flip = unsafe { sin_flip::<V>(span) };
        (
            array!(K, |j| unsafe { V::load(cp.add(j * width)) }),
            array!(K, |j| unsafe { V::load(sp.add(j * width)).xor(flip) }),
        )
    };
    // A half's (split) or a row's (interleaved) bytes: K vectors.
    let lines = (K * V::N * core::mem::size_of::<S>()).div_ceil(64);
    for r in 0..span.rows {
        let (x, y) = unsafe { (src.add(r * span.stride), dst.add(r * dst_stride)) };
        if PF {
            unsafe { prefetch_halves::<V, S>(x, span, lines) };
        }
        if span.interleaved {
            // `V::N` channels a vector (not `2 * width`, the same number): constant
            // offsets from one base pointer a row.
            let (x, y) = unsafe { (x.add(span.first), y.add(span.first)) };
            for j in 0..K {
                unsafe {
                    let o = j * V::N;
                    put::<V, D, NT>(interleaved::<V>(S::load(x.add(o)), c[j], s[j]), y.add(o));
                }
            }
        } else {
            let (a, b) = unsafe {
                (
                    (x.add(span.first), x.add(span.second)),
                    (y.add(span.first), y.add(span.second)),
                )
            };
            // `V::N` pairs a vector, as `width` is here: a constant, so each vector's
            // address is a constant offset from the two halves' pointers. With `width`
            // (a run-time value to LLVM) the AVX2 rows computed 2K addresses and, out of
            // registers, reloaded them from the stack. Measured on an AMD EPYC (Zen 3,
            // no AVX-512), decode of 40 heads, best of 30 alternating runs: f32 hd128
            // 385 -> 254 ns, hd256 928 -> 746, f16 hd128 558 -> 497; none slower, the rest
            // within 8%.
            unsafe {
                match block {
                    4 => split_regs::<V, S, D, K, 4, NT>(a, b, V::N, &c, &s),
                    2 => split_regs::<V, S, D, K, 2, NT>(a, b, V::N, &c, &s),
                    _ => split_regs::<V, S, D, K, 1, NT>(a, b, V::N, &c, &s),
                }
            }
        }
    }
}

/// Vectors per half-split block (see [`split_block`]) for a span whose two halves are
/// `gap` elements of `E` apart: 4 with AVX-512 (32 registers: room for the block next to
/// cos/sin), and on the 16-register ISAs 4 when the halves are 512 bytes or more apart
/// (head_dim 256 in f32, 512 in 16-bit), where blocks pay for a few register spills, 1
/// otherwise (there the ping-pong measured no cost and the spills would).
#[inline(always)]
fn block_len<V: Vector, E>(gap: usize) -> usize {
    if V::KEEP >= 8 || gap * core::mem::size_of::<E>() >= 512 {
        4
    } else {
        1
    }
}

/// A row's `K` vectors of half-split pairs in blocks of `B` (which divides `K`; a `B`
/// above `K` does nothing, never happening), cos/sin from registers. Every index is a
/// constant once unrolled, so `c` and `s` stay in registers.
///
/// # Safety
/// As for [`split_block`], for `K` vectors.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_regs<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const K: usize,
    const B: usize,
    const NT: bool,
>(
    src: (*const S, *const S),
    dst: (*mut D, *mut D),
    width: usize,
    c: &[V; K],
    s: &[V; K],
) {
    if B > K {
        return;
    }
    for j in 0..K / B {
        let o = j * B * width;
        let cb: [V; B] = array!(B, |i| c[j * B + i]);
        let sb: [V; B] = array!(B, |i| s[j * B + i]);
        // SAFETY: forwarded from the caller; vectors `j*B..(j+1)*B` of the row.
        unsafe {
            let (a, d) = ((src.0.add(o), src.1.add(o)), (dst.0.add(o), dst.1.add(o)));
            split_block::<V, S, D, B, NT>(a, d, width, cb, sb);
        }
    }
}

/// One vector of interleaved pairs `v` rotated by duplicated cos `c` and sign-flipped
/// sin `s`: lane 2i is `a*c + b*(-s)`, lane 2i+1 is `b*c + a*s`.
#[inline(always)]
unsafe fn interleaved<V: Vector>(v: V, c: V, s: V) -> V {
    // SAFETY: forwarded from the caller (the ISA is supported).
    unsafe { v.mul(c).add(v.swap_pairs().mul(s)) }
}

/// What to xor into every lane of sin for a span whose pairs are not interleaved (and
/// for the bf16-pair kernels): `-0.0` when the rotation is inverse, `0.0` otherwise.
///
/// # Safety
/// The CPU must support `V`'s ISA.
#[inline(always)]
unsafe fn sin_flip<V: Vector>(span: &Span) -> V {
    // SAFETY: forwarded from the caller.
    unsafe { V::splat(if span.inverse { -0.0 } else { 0.0 }) }
}

/// Pairs `(a, b)` in lanes rotated by `c` and `s`: `(a*c - b*s, b*c + a*s)`, the scalar
/// kernel's arithmetic.
///
/// # Safety
/// The CPU must support `V`'s ISA.
#[inline(always)]
unsafe fn pair<V: Vector>(a: V, b: V, c: V, s: V) -> (V, V) {
    // SAFETY: forwarded from the caller.
    unsafe { (a.mul(c).sub(b.mul(s)), b.mul(c).add(a.mul(s))) }
}

/// Store `v` at `p`: with a streaming (non-temporal) store if `NT`.
///
/// # Safety
/// As for [`SimdElement::store`]; with `NT`, `p` is 16-byte aligned.
#[inline(always)]
unsafe fn put<V: Vector, D: crate::Element, const NT: bool>(v: V, p: *mut D) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if NT {
            D::store_stream(v, p)
        } else {
            D::store(v, p)
        }
    }
}

/// `B` consecutive vectors of half-split pairs, read from `src` (first halves, second
/// halves) and written to `dst`, rotated by `c[..B]` and `s[..B]`.
///
/// The order is the point: all the block's first-half loads, then its second-half loads,
/// then the stores in the same order, so memory sees runs of `B` consecutive vectors
/// rather than a ping-pong between two places up to 8 cache lines apart. Measured on
/// this crate's test machine (4096 tokens x 40 heads, head_dim 256, f32, AVX-512, out of
/// DRAM; probes, host noise 10-30%): the ping-pong order took 13.5-17.8 ms against
/// 7.5-9.2 ms for an in-place pass over the same bytes; blocks of 4 took 8.0-10.4 ms.
///
/// # Safety
/// The ISA is supported; the `B` vectors at `src`/`dst` (each `width` elements apart)
/// are readable/writable.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_block<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
>(
    src: (*const S, *const S),
    dst: (*mut D, *mut D),
    width: usize,
    c: [V; B],
    s: [V; B],
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let a: [V; B] = array!(B, |i| S::load(src.0.add(i * width)));
        let b: [V; B] = array!(B, |i| S::load(src.1.add(i * width)));
        // Each loop keeps one half of `pair`; the other half is dead code to LLVM.
        for i in 0..B {
            put::<V, D, NT>(pair(a[i], b[i], c[i], s[i]).0, dst.0.add(i * width));
        }
        for i in 0..B {
            put::<V, D, NT>(pair(a[i], b[i], c[i], s[i]).1, dst.1.add(i * width));
        }
    }
}

/// An interleaved span's cos and sign-flipped sin for pairs `0..to`, each value twice
/// (`c0 c0 c1 c1 ...`; sin with the alternating sign the kernel xors in), written once
/// per span for rows that load cos/sin per vector: then each row takes plain loads
/// instead of two duplicating shuffles per vector.
struct Dup {
    cos: [MaybeUninit<f32>; 2 * MAX_PAIRS],
    sin: [MaybeUninit<f32>; 2 * MAX_PAIRS],
}

impl Dup {
    /// Room for a span's duplicated cos/sin, not yet written.
    #[inline(always)]
    fn new() -> Self {
        Dup {
            cos: [MaybeUninit::uninit(); 2 * MAX_PAIRS],
            sin: [MaybeUninit::uninit(); 2 * MAX_PAIRS],
        }
    }

    /// Fill pairs `0..to` for `span` (interleaved, `to` a whole number of vectors) and
    /// return `self`, or `None` (nothing written) where there is no point: one row, or
    /// nothing to do per vector.
    ///
    /// # Safety
    /// The CPU must support `V`'s ISA; `cos`/`sin` hold at least `to` values.
    #[inline(always)]
    unsafe fn fill<V: Vector>(
        &mut self,
        span: &Span,
        to: usize,
        cos: &[f32],
        sin: &[f32],
    ) -> Option<&Self> {
        if !span.interleaved || span.rows < 2 || to == 0 || to > MAX_PAIRS {
            return None;
        }
        let (cd, sd) = (
            self.cos.as_mut_ptr().cast::<f32>(),
            self.sin.as_mut_ptr().cast::<f32>(),
        );
        // SAFETY: forwarded from the caller; pairs `k..k + N/2` of `cos`/`sin` in, values
        // `2k..2k + N` of `2 * MAX_PAIRS` out.
        unsafe {
            let flip = V::alternating_sign(span.inverse);
            let mut k = 0;
            while k < to {
                V::load_dup(cos.as_ptr().add(k)).store(cd.add(2 * k));
                V::load_dup(sin.as_ptr().add(k))
                    .xor(flip)
                    .store(sd.add(2 * k));
                k += V::N / 2;
            }
        }
        Some(self)
    }
}

/// Pairs `0..to` (a whole number of vectors) of one row, read from the row at `src` and
/// written to the row at `dst` (the same row for an in-place rotation; channels at the
/// same offsets in both), cos/sin loaded per vector, half-split pairs in blocks of `B`;
/// interleaved pairs from `dup` when given (see [`Dup`]).
///
/// # Safety
/// The CPU must support `V`'s ISA; the pairs must lie within both rows and `cos`/`sin`;
/// `src` and `dst` are either the same row or do not overlap; `dup`, if given, holds
/// pairs `0..to` of this span.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn vector_pairs<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
>(
    src: *const S,
    dst: *mut D,
    span: &Span,
    to: usize,
    (cos, sin): (&[f32], &[f32]),
    dup: Option<&Dup>,
) {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): forwarded from the caller; `k < to` and each access is
    // one vector of channels (or N/2 cos/sin values, N from `dup`) starting at pair `k`
    // (`B` of them for a block).
    if let (true, Some(dup)) = (span.interleaved, dup) {
        let (cd, sd) = (
            dup.cos.as_ptr().cast::<f32>(),
            dup.sin.as_ptr().cast::<f32>(),
        );
        let mut k = 0;
        while k < to {
            unsafe {
                let (c, s) = (V::load(cd.add(2 * k)), V::load(sd.add(2 * k)));
                let o = span.first + 2 * k;
                put::<V, D, NT>(interleaved::<V>(S::load(src.add(o)), c, s), dst.add(o));
            }
            k += V::N / 2;
        }
    } else if span.interleaved {
        let flip = unsafe { V::alternating_sign(span.inverse) };
        let mut k = 0;
        while k < to {
            unsafe {
                let (c, s) = (V::load_dup(cp.add(k)), V::load_dup(sp.add(k)).xor(flip));
                let o = span.first + 2 * k;
                put::<V, D, NT>(interleaved::<V>(S::load(src.add(o)), c, s), dst.add(o));
            }
            k += V::N / 2;
        }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe {
            let k = if B > 1 {
                split_run::<V, S, D, B, NT>(src, dst, span, 0, to, cos, sin)
            } else {
                0
            };
            split_run::<V, S, D, 1, NT>(src, dst, span, k, to, cos, sin);
        }
    }
}

/// Half-split pairs from `from` in blocks of `B` vectors while a whole block fits before
/// `to`, cos/sin loaded per block; returns the pair where it stopped.
///
/// # Safety
/// As for [`vector_pairs`], with `from` a whole number of vectors.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn split_run<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
>(
    src: *const S,
    dst: *mut D,
    span: &Span,
    from: usize,
    to: usize,
    cos: &[f32],
    sin: &[f32],
) -> usize {
    let (cp, sp) = (cos.as_ptr(), sin.as_ptr());
    // SAFETY (every block below): forwarded from the caller; pairs `k..k + B * N` lie
    // within both rows and `cos`/`sin`.
    let flip = unsafe { sin_flip::<V>(span) };
    let mut k = from;
    while k + B * V::N <= to {
        unsafe {
            let c: [V; B] = array!(B, |i| V::load(cp.add(k + i * V::N)));
            let s: [V; B] = array!(B, |i| V::load(sp.add(k + i * V::N)).xor(flip));
            let (oa, ob) = (span.first + k, span.second + k);
            let (a, d) = ((src.add(oa), src.add(ob)), (dst.add(oa), dst.add(ob)));
            split_block::<V, S, D, B, NT>(a, d, V::N, c, s);
        }
        k += B * V::N;
    }
    k
}

/// Widen `src` into `dst` (same length), `V::N` elements at a time, exactly.
///
/// # Safety
/// The CPU must support `V`'s ISA. Lengths are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn widen<V: Vector, E: crate::Element>(src: &[E], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "rope-simd internal error: widen lengths"
    );
    let body = src.len() / V::N * V::N;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both slices; the ISA is supported (caller).
        unsafe { E::load::<V>(sp.add(i)).store(dp.add(i)) };
        i += V::N;
    }
    for (d, s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = s.to_f32();
    }
}

/// Round `src` into `dst` (same length) to nearest even, `V::N` elements at a time.
///
/// # Safety
/// The CPU must support `V`'s ISA. Lengths are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn narrow<V: Vector, E: crate::Element>(src: &[f32], dst: &mut [E]) {
    assert_eq!(
        src.len(),
        dst.len(),
        "rope-simd internal error: narrow lengths"
    );
    let body = src.len() / V::N * V::N;
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    let mut i = 0;
    while i < body {
        // SAFETY: `i + N <= len` for both slices; the ISA is supported (caller).
        unsafe { E::store(V::load(sp.add(i)), dp.add(i)) };
        i += V::N;
    }
    for (d, s) in dst[body..].iter_mut().zip(&src[body..]) {
        *d = E::from_f32(*s);
    }
}

/// Rotate `span` reading from `src` and writing `dst`, out of place: row `r` of the span
/// is at `r * span.stride` in `src` and at `r * dst_stride` in `dst`, its channels at the
/// same offsets in both. Each value is widened, rotated in f32 exactly as the in-place
/// kernels do, and rounded once to `D`. With `span.stream`, a 16-bit `D`, an ISA with
/// streaming stores and every vector store 16-byte aligned, the vector stores are
/// non-temporal (the scalar tails are not); the caller then runs
/// [`stream_fence`](crate::backend::stream_fence) once the whole call is written.
///
/// # Safety
/// The CPU must support `V`'s ISA. Bounds are checked here.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
pub(crate) unsafe fn rotate_into<V: Vector, S: crate::Element, D: crate::Element>(
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    cos: &[f32],
    sin: &[f32],
) {
    // As in `rotate`: one call of `rotate_rows_into`.
    let split = tail_split::<V>(span);
    let head = split.map_or(*span, |body| span.head(body));
    // SAFETY: as in `rotate`; both parts lie within the spans, checked by
    // `rotate_rows_into`.
    unsafe {
        if head.n > 0 {
            rotate_rows_into::<V, S, D>(src, dst, &head, dst_stride, cos, sin);
        }
        if let Some(body) = split {
            let (tails, cos, sin) = (span.tails(body), &cos[body..], &sin[body..]);
            V::rotate_tails_into(src, dst, &tails, dst_stride, cos, sin);
        }
    }
}

/// [`rotate_into`] with `V` alone (as [`rotate_rows`] in place).
///
/// # Safety
/// As for [`rotate_into`].
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn rotate_rows_into<V: Vector, S: crate::Element, D: crate::Element>(
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    cos: &[f32],
    sin: &[f32],
) {
    span.assert_fits(src.len(), cos, sin);
    let dst_span = Span {
        stride: dst_stride,
        ..*span
    };
    dst_span.assert_fits(dst.len(), cos, sin);
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    // Streaming stores need every vector store 16-byte aligned: the slice, the row
    // stride and the halves' offsets (vectors are 16 or 32 bytes).
    let bytes = core::mem::size_of::<D>();
    let aligned = [
        dp as usize,
        dst_stride * bytes,
        span.first * bytes,
        span.second * bytes,
    ]
    .iter()
    .all(|v| v.is_multiple_of(16));
    let stream = span.stream && V::STREAM && D::STREAMS && aligned;
    // SAFETY: forwarded from the caller; both spans fit (checked above), and the two
    // slices cannot overlap; streaming stores only where every store is aligned (the
    // caller fences them once its whole call is written: `backend::stream_fence`).
    let done = unsafe {
        if stream {
            bodies_in_registers::<V, S, D, true, false>(sp, dp, dst_stride, span, cos, sin)
        } else {
            bodies_in_registers::<V, S, D, false, false>(sp, dp, dst_stride, span, cos, sin)
        }
    };
    let (_, body) = vector_body::<V>(span);
    if done && body == span.n {
        return;
    }
    let to = if done { 0 } else { body };
    match block_len::<V, S>(span.second - span.first) {
        // SAFETY (every arm): forwarded from the caller; both spans fit (checked above);
        // streaming stores only where every vector store is aligned (`stream`).
        4 if stream => unsafe {
            rows_into::<V, S, D, 4, true>(src, dst, span, dst_stride, to, cos, sin)
        },
        4 => unsafe { rows_into::<V, S, D, 4, false>(src, dst, span, dst_stride, to, cos, sin) },
        _ if stream => unsafe {
            rows_into::<V, S, D, 1, true>(src, dst, span, dst_stride, to, cos, sin)
        },
        _ => unsafe { rows_into::<V, S, D, 1, false>(src, dst, span, dst_stride, to, cos, sin) },
    }
}

/// The rows of [`rotate_into`], as [`rows`] does them in place.
///
/// # Safety
/// The CPU must support `V`'s ISA; both spans fit (`assert_fits`); `to` is 0 or the
/// vector body.
#[cfg_attr(not(rope_simd_unoptimized), inline(always))]
#[cfg_attr(rope_simd_unoptimized, inline(never))]
unsafe fn rows_into<
    V: Vector,
    S: crate::Element,
    D: crate::Element,
    const B: usize,
    const NT: bool,
>(
    src: &[S],
    dst: &mut [D],
    span: &Span,
    dst_stride: usize,
    to: usize,
    cos: &[f32],
    sin: &[f32],
) {
    let (_, body) = vector_body::<V>(span);
    if to == 0 {
        // As in `rows`: the tails in one call.
        if body < span.n {
            let (tails, cos, sin) = (span.tails(body), &cos[body..], &sin[body..]);
            kernel::scalar_into(src, dst, &tails, dst_stride, cos, sin);
        }
        return;
    }
    let mut dup = Dup::new();
    // SAFETY: the ISA is supported (caller); `cos`/`sin` hold `n >= to` values.
    let dup = unsafe { dup.fill::<V>(span, to, cos, sin) };
    for r in 0..span.rows {
        let src_row = &src[r * span.stride..];
        let dst_row = &mut dst[r * dst_stride..];
        // SAFETY: the ISA is supported (caller); pairs `0..to` of this row lie within
        // both rows (`assert_fits` on both spans), which are different slices,
        // `cos`/`sin` hold at least `n` values, and `dup` (if any) was filled for this
        // span up to `to`.
        unsafe {
            vector_pairs::<V, S, D, B, NT>(
                src_row.as_ptr(),
                dst_row.as_mut_ptr(),
                span,
                to,
                (cos, sin),
                dup,
            )
        };
        if body < span.n {
            let tail = span.row_tail(body);
            kernel::scalar_into(src_row, dst_row, &tail, 0, &cos[body..], &sin[body..]);
        }
    }
}
