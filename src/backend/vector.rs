//! The vector trait every ISA implements, the element loads and stores built on it, and
//! the arithmetic every strategy shares.
//!
//! The arithmetic reproduces [`crate::kernel::scalar`] bit for bit: the same f32
//! multiplies and adds per element, in the same order up to IEEE-exact rewrites
//! (`a*c - b*s == a*c + b*(-s)`, `x + y == y + x`), no fused multiply-add, the same
//! conversions.

use crate::backend::span::SpanJob;
use crate::element::{Element, Kind};
use crate::kernel::Span;

/// `array!(n, |i| e)`: `[e(0), e(1), .., e(n-1)]`, written out in place. Neither
/// `core::array::from_fn` nor an `#[inline(always)]` function taking a closure is
/// enough: LLVM left calls to both in `codegen-units = 1` builds, which returned the
/// vectors through memory (`docs/design.md`, "Inlining"). A macro leaves no closure to
/// call.
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
pub(crate) use array;

/// A vector of `N` f32 lanes on one ISA.
///
/// # Safety
/// Every method may use instructions of the implementing ISA: call them only from code
/// that runs after the CPU was found to support it (an ISA's `run`, reached through
/// `dispatch` with its token, or a build where the feature is always on). Pointer
/// arguments must be valid for the reads or writes of `N` (or `N/2`, or `2N` for the
/// pair methods) elements.
pub trait Vector: Copy {
    /// Lanes.
    const N: usize;
    /// How many vectors of cos and as many of sin the kernel may keep in registers
    /// across rows (a quarter of the ISA's registers, leaving the rest for the data).
    const KEEP: usize;
    /// The row bodies that get an unrolled block (`strategy/unrolled.rs`): the ISA's
    /// budget of specialised code. Every other shape takes the general row loop.
    const UNROLLED: &'static [Unroll];
    /// The bf16-to-bf16 rows that get an unrolled block of bf16-pair chunks
    /// (`strategy/bf16_pairs.rs`; `vectors` counts chunks of `2N` values, each one's
    /// cos/sin within `KEEP`): the same budget. Other bf16 rows take the chunk loop.
    const BF16_UNROLLED: &'static [Unroll];
    /// Narrower vectors that row tails of at least one of them go to (AVX-512: AVX2's),
    /// or `Self` where there are none (see `plan.rs`). Their ISA must be part of this
    /// one's: they run inside this ISA's `#[target_feature]` function.
    type Tail: Vector;
    /// Rotate row tails with `Self::Tail`'s vectors: by default inlined here; AVX-512
    /// calls AVX2's entry point instead, one copy of that code for all its callers.
    ///
    /// # Safety
    /// The CPU supports this ISA (and so `Self::Tail`'s).
    #[inline(always)]
    unsafe fn run_tail<S: crate::Element, D: crate::Element, const INTO: bool>(
        job: SpanJob<'_, S, D, INTO>,
    ) {
        // SAFETY: forwarded from the caller.
        unsafe { crate::backend::span::rotate::<Self::Tail, S, D, INTO, false>(job) }
    }
    /// Run `job` (one without bf16) through this ISA's out-of-line entry point: the copy
    /// of its code that the public calls use, not one inlined into the caller.
    ///
    /// # Safety
    /// The CPU supports this ISA.
    unsafe fn call<J: crate::backend::dispatch::Job>(job: J) -> J::Out;
    /// Whether [`Vector::prefetch`] does anything (only then do spans marked `prefetch`
    /// take the instantiations that issue it, see `prefetch.rs`).
    const PREFETCH: bool = false;
    /// Ask for the 64-byte line holding `p` to be brought into L1 (no access, no fault,
    /// whatever `p` points at). By default nothing.
    #[inline(always)]
    unsafe fn prefetch(_p: *const u8) {}
    /// Masked loads and stores, where the ISA has them (see [`Masked`]).
    type Masks: Masked<Self>;
    /// `Some` where the ISA has masked loads and stores.
    const MASKS: Option<Self::Masks>;
    /// The fewest rows a span takes the aligned run with (`plan.rs`): its masked ends
    /// and the seams between rows cost once a span, and below 8 rows the unrolled rows'
    /// loads across lines cost less, on AVX2 and on AVX-512 (`cargo bench -p
    /// rope-simd-benches --bench rope -- misaligned`).
    const ALIGNED_RUN_ROWS: usize = 8;
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
    /// Whether interleaved pairs are loaded split into (even, odd) vectors and stored
    /// interleaved again ([`SimdElement::load_pairs`], [`SimdElement::store_pairs`]:
    /// NEON's `ld2`/`st2`), so that they rotate as half-split pairs do, with plain cos/sin:
    /// then a step of an interleaved row is `N` pairs, two vectors. Otherwise (the
    /// default) a vector holds `N/2` interleaved pairs, rotated with duplicated cos/sin
    /// and [`Vector::swap_pairs`].
    const DEINTERLEAVE: bool = false;
    /// Whether unrolled rows go a block of vectors at a time across all the span's rows
    /// (`strategy::unrolled::columns`), with only that block's cos/sin in registers,
    /// rather than row by row with every cos/sin kept (half-split rows; interleaved rows
    /// go there exactly when `DEINTERLEAVE`: [`in_columns`]). An ISA that takes the column
    /// order does not prefetch (the column order does not).
    const COLUMNS: bool = false;
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

    /// Whether f32 into f16 or bf16 has kernels of its own (the runtimes' path, read,
    /// rotated and rounded in one pass); otherwise it goes through f32 rows like the
    /// other out-of-place pairs (`through_f32.rs`).
    const FUSED_INTO_16: bool = true;
    /// Whether f16 in place has kernels of its own; otherwise its rows are widened to
    /// f32, rotated by the f32 kernel and rounded back (`through_f32.rs`). (bf16 keeps
    /// its kernels on every ISA: its conversions are shifts, and through f32 it was
    /// slower, `docs/design.md`, "Out of place".)
    const FUSED_F16: bool = true;
    /// Whether on-the-fly cos/sin skips the multiply by a scale of 1 in loops of its own
    /// (`trig::cos_sin_batch`): faster, and twice the code.
    const SKIP_SCALE_ONE: bool = true;
    /// Unrolled rows of this many pairs and more test for prefetch hints at run time
    /// rather than carry a copy with them (`hints_at_run_time`): head_dim 256, where the
    /// row's work hides the test and the copies are the largest.
    const HINTS_AT_RUN_TIME_FROM: usize = 128;
    /// Whether f32 into bf16 gets the unrolled rows of `UNROLLED`.
    const UNROLL_INTO_BF16: bool = true;
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
    /// Load `2N` f32 as (even-indexed, odd-indexed) lanes.
    unsafe fn load_f32_pairs(p: *const f32) -> (Self, Self);
    /// Store `2N` f32: `even[i]` at `2i`, `odd[i]` at `2i + 1`. By default through a
    /// stack buffer (ISAs with `DEINTERLEAVE` have an instruction for it; only they call
    /// this in the kernels).
    #[inline(always)]
    unsafe fn store_f32_pairs(even: Self, odd: Self, p: *mut f32) {
        let mut lanes = [[0.0f32; MAX_LANES]; 2];
        // SAFETY: `N <= MAX_LANES` lanes each; the caller guarantees `2N` writable f32.
        unsafe {
            even.store(lanes[0].as_mut_ptr());
            odd.store(lanes[1].as_mut_ptr());
            let [e, o] = &lanes;
            for (i, (e, o)) in e.iter().zip(o).take(Self::N).enumerate() {
                p.add(2 * i).write_unaligned(*e);
                p.add(2 * i + 1).write_unaligned(*o);
            }
        }
    }
    /// Load `2N` f16 (as bits), widened exactly into (even-indexed, odd-indexed) lanes.
    /// By default through a stack buffer (see `store_f32_pairs`).
    #[inline(always)]
    unsafe fn load_f16_pairs(p: *const u16) -> (Self, Self) {
        let mut halves = [[0u16; MAX_LANES]; 2];
        // SAFETY: the caller guarantees `2N` readable u16; `N <= MAX_LANES`.
        unsafe {
            let [e, o] = &mut halves;
            for (i, (e, o)) in e.iter_mut().zip(o).take(Self::N).enumerate() {
                *e = p.add(2 * i).read_unaligned();
                *o = p.add(2 * i + 1).read_unaligned();
            }
            (
                Self::load_f16(halves[0].as_ptr()),
                Self::load_f16(halves[1].as_ptr()),
            )
        }
    }
    /// Round (nearest even) and store `2N` f16: `even[i]` at `2i`, `odd[i]` at `2i + 1`.
    /// By default through a stack buffer (see `store_f32_pairs`).
    #[inline(always)]
    unsafe fn store_f16_pairs(even: Self, odd: Self, p: *mut u16) {
        let mut halves = [[0u16; MAX_LANES]; 2];
        // SAFETY: the caller guarantees `2N` writable u16; `N <= MAX_LANES`.
        unsafe {
            even.store_f16(halves[0].as_mut_ptr());
            odd.store_f16(halves[1].as_mut_ptr());
            let [e, o] = &halves;
            for (i, (e, o)) in e.iter().zip(o).take(Self::N).enumerate() {
                p.add(2 * i).write_unaligned(*e);
                p.add(2 * i + 1).write_unaligned(*o);
            }
        }
    }
    /// Load `2N` bf16 (as bits), widened exactly into (even-indexed, odd-indexed) lanes.
    unsafe fn load_bf16_pairs(p: *const u16) -> (Self, Self);
    /// Round (nearest even, as `half` does) and store `2N` bf16: `even[i]` at `2i`,
    /// `odd[i]` at `2i + 1`.
    unsafe fn store_bf16_pairs(even: Self, odd: Self, p: *mut u16);
    /// `store_bf16_pairs` of `M` chunks, `(even, odd, p)` each (one branch for all where
    /// the ISA checks its rounding). Inlined always, like every method here: a default
    /// body compiled on its own lacks the ISA's target features, and its intrinsics
    /// become calls.
    #[inline(always)]
    unsafe fn store_bf16_chunks<const M: usize>(chunks: [(Self, Self, *mut u16); M]) {
        for (even, odd, p) in chunks {
            // SAFETY: forwarded from the caller.
            unsafe { Self::store_bf16_pairs(even, odd, p) }
        }
    }
}

/// The most lanes of any ISA's vectors (AVX-512's 16).
pub(crate) const MAX_LANES: usize = 16;

/// A row body that gets an unrolled block on an ISA: `vectors` vectors of interleaved
/// or half-split pairs, for every element type or f32 to f32 only.
#[derive(Clone, Copy, Debug)]
pub struct Unroll {
    pub interleaved: bool,
    pub vectors: usize,
    pub f32_only: bool,
}

impl Unroll {
    /// Interleaved rows of `vectors` vectors, every element type.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub const fn interleaved(vectors: usize) -> Unroll {
        Unroll {
            interleaved: true,
            vectors,
            f32_only: false,
        }
    }
    /// Half-split rows of `vectors` vectors, every element type.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub const fn split(vectors: usize) -> Unroll {
        Unroll {
            interleaved: false,
            vectors,
            f32_only: false,
        }
    }
    /// Half-split rows of `vectors` vectors, f32 to f32 only.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub const fn split_f32(vectors: usize) -> Unroll {
        Unroll {
            interleaved: false,
            vectors,
            f32_only: true,
        }
    }
}

/// Calls macro `$m` with every `(interleaved, vectors)` shape an ISA may list in
/// `Vector::UNROLLED`: the one list that `plan.rs` looks shapes up in and `span.rs`
/// compiles kernels for.
macro_rules! unroll_shapes {
    ($m:ident) => {
        $m!(
            (true, 1),
            (false, 1),
            (true, 2),
            (false, 2),
            (true, 4),
            (false, 4),
            (true, 8),
            (false, 8),
            (true, 16),
            (false, 16),
            (true, 32),
            (false, 32)
        )
    };
}
pub(crate) use unroll_shapes;

/// Whether `V` unrolls bf16 rows of `chunks` chunks of this layout (`BF16_UNROLLED`).
#[inline(always)]
pub(crate) const fn bf16_unrolls<V: Vector>(interleaved: bool, chunks: usize) -> bool {
    let mut i = 0;
    while i < V::BF16_UNROLLED.len() {
        let u = V::BF16_UNROLLED[i];
        if u.interleaved == interleaved && u.vectors == chunks {
            return true;
        }
        i += 1;
    }
    false
}

/// Vectors of each half (half-split) or `ld2` steps (interleaved) per block of the column
/// order (`strategy::unrolled::columns`): one cache line of f32 on 4-lane vectors.
pub(crate) const BLOCK: usize = 4;

/// Whether `V`'s unrolled rows of this layout take the column order: half-split rows
/// with `Vector::COLUMNS`; interleaved rows exactly when split by `ld2`/`st2`
/// (`Vector::DEINTERLEAVE`, whose steps the row order has no path for).
pub(crate) const fn in_columns<V: Vector>(interleaved: bool) -> bool {
    match interleaved {
        true => V::DEINTERLEAVE,
        false => V::COLUMNS,
    }
}

/// Whether `V` unrolls rows of `vectors` vectors of this layout from `S` to `D`. Never
/// bf16 to bf16: every listed shape is a whole number of bf16-pair chunks, which the plan
/// gives to the bf16-pair kernels first, so an unrolled copy would be dead code.
#[inline(always)]
pub(crate) const fn unrolls<V: Vector, S: Element, D: Element>(
    interleaved: bool,
    vectors: usize,
) -> bool {
    if S::IS_BF16 && D::IS_BF16 {
        return false;
    }
    if S::IS_F32 && D::IS_BF16 && !V::UNROLL_INTO_BF16 {
        return false;
    }
    // The column order takes whole blocks only.
    if in_columns::<V>(interleaved) && !vectors.is_multiple_of(BLOCK) {
        return false;
    }
    let f32 = S::IS_F32 && D::IS_F32;
    let mut i = 0;
    while i < V::UNROLLED.len() {
        let u = V::UNROLLED[i];
        if u.interleaved == interleaved && u.vectors == vectors && (f32 || !u.f32_only) {
            return true;
        }
        i += 1;
    }
    false
}

/// Masked memory access of vectors `V`: a capability some ISAs have (AVX2, AVX-512),
/// held as a value (`Vector::MASKS`) so that only code that has one can call it.
///
/// # Safety
/// As for [`Vector`]; only the lanes of `mask` are read or written.
pub trait Masked<V>: Copy {
    /// The lanes of `mask` (bit `i` for lane `i`) loaded from `p`, the others 0. Only
    /// those lanes' elements are read: `p` needs to be valid for them alone.
    unsafe fn load(self, p: *const f32, mask: u32) -> V;
    /// Lanes of `mask` from `b`, the others from `a`.
    unsafe fn blend(self, mask: u32, a: V, b: V) -> V;
    /// Store the lanes of `mask` at `p`; only those lanes' elements are written.
    unsafe fn store(self, v: V, p: *mut f32, mask: u32);
}

/// No masked access: no value of this type exists, so its methods cannot be called.
#[derive(Clone, Copy)]
pub enum NoMasks {}

impl<V> Masked<V> for NoMasks {
    unsafe fn load(self, _: *const f32, _: u32) -> V {
        match self {}
    }
    unsafe fn blend(self, _: u32, _: V, _: V) -> V {
        match self {}
    }
    unsafe fn store(self, _: V, _: *mut f32, _: u32) {
        match self {}
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
    /// Load `2N` elements as (even-indexed, odd-indexed) lanes, widened exactly.
    unsafe fn load_pairs<V: Vector>(p: *const Self) -> (V, V);
    /// Round and store `2N` elements: `even[i]` at `2i`, `odd[i]` at `2i + 1`.
    unsafe fn store_pairs<V: Vector>(even: V, odd: V, p: *mut Self);
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
    #[inline(always)]
    unsafe fn load_pairs<V: Vector>(p: *const Self) -> (V, V) {
        unsafe {
            match E::KIND {
                Kind::F32 => V::load_f32_pairs(p.cast()),
                Kind::F16 => V::load_f16_pairs(p.cast()),
                Kind::Bf16 => V::load_bf16_pairs(p.cast()),
            }
        }
    }
    #[inline(always)]
    unsafe fn store_pairs<V: Vector>(even: V, odd: V, p: *mut Self) {
        unsafe {
            match E::KIND {
                Kind::F32 => V::store_f32_pairs(even, odd, p.cast()),
                Kind::F16 => V::store_f16_pairs(even, odd, p.cast()),
                Kind::Bf16 => V::store_bf16_pairs(even, odd, p.cast()),
            }
        }
    }
}

/// Pairs per vector of `V` for this span's layout (per step of two vectors for
/// interleaved pairs on a `DEINTERLEAVE` ISA), and the pairs of a row that whole
/// vectors cover (the rest, the tail, goes to narrower vectors or the scalar kernel).
#[inline(always)]
pub(crate) fn vector_body<V: Vector>(span: &Span) -> (usize, usize) {
    let width = pair_width::<V>(span.interleaved);
    (width, span.n / width * width)
}

/// Pairs per vector of `V` (per step of two vectors for interleaved pairs on a
/// `DEINTERLEAVE` ISA).
pub(crate) const fn pair_width<V: Vector>(interleaved: bool) -> usize {
    if interleaved && !V::DEINTERLEAVE {
        V::N / 2
    } else {
        V::N
    }
}

/// Whether unrolled rows of `pairs` pairs ask for the rows ahead (`prefetch.rs`) behind a
/// run-time test in the one instantiation, rather than in an instantiation of their own:
/// interleaved f32/f16 rows and bf16 pairs of either layout from
/// `V::HINTS_AT_RUN_TIME_FROM` pairs. Half-split f32/f16 rows keep their copy: with the
/// test, AVX2's kept fewer cos/sin in registers and ran slower. Run `python3
/// scripts/ab_probe.py REV decode` to see (`docs/design.md`, "Prefetch").
pub(crate) const fn hints_at_run_time<V: Vector>(pairs: usize) -> bool {
    pairs >= V::HINTS_AT_RUN_TIME_FROM
}

/// [`hints_at_run_time`] for unrolled f32/f16 rows of `k` vectors: interleaved ones only.
pub(crate) const fn row_hints_at_run_time<V: Vector>(il: bool, k: usize) -> bool {
    il && hints_at_run_time::<V>(k * pair_width::<V>(il))
}

/// One vector of interleaved pairs `v` rotated by duplicated cos `c` and sign-flipped
/// sin `s`: lane 2i is `a*c + b*(-s)`, lane 2i+1 is `b*c + a*s`.
///
/// # Safety
/// The CPU must support `V`'s ISA.
#[inline(always)]
pub(crate) unsafe fn interleaved<V: Vector>(v: V, c: V, s: V) -> V {
    // SAFETY: forwarded from the caller (the ISA is supported).
    unsafe { v.mul(c).add(v.swap_pairs().mul(s)) }
}

/// What to xor into every lane of sin for a span whose pairs are not interleaved (and
/// for the bf16-pair kernels): `-0.0` when the rotation is inverse, `0.0` otherwise.
///
/// # Safety
/// The CPU must support `V`'s ISA.
#[inline(always)]
pub(crate) unsafe fn sin_flip<V: Vector>(span: &Span) -> V {
    // SAFETY: forwarded from the caller.
    unsafe { V::splat(if span.inverse { -0.0 } else { 0.0 }) }
}

/// Pairs `(a, b)` in lanes rotated by `c` and `s`: `(a*c - b*s, b*c + a*s)`, the scalar
/// kernel's arithmetic.
///
/// # Safety
/// The CPU must support `V`'s ISA.
#[inline(always)]
pub(crate) unsafe fn pair<V: Vector>(a: V, b: V, c: V, s: V) -> (V, V) {
    // SAFETY: forwarded from the caller.
    unsafe { (a.mul(c).sub(b.mul(s)), b.mul(c).add(a.mul(s))) }
}

/// Store `v` at `p`: with a streaming (non-temporal) store if `NT`.
///
/// # Safety
/// As for [`SimdElement::store`]; with `NT`, `p` is 16-byte aligned.
#[inline(always)]
pub(crate) unsafe fn put<V: Vector, D: crate::Element, const NT: bool>(v: V, p: *mut D) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if NT {
            D::store_stream(v, p)
        } else {
            D::store(v, p)
        }
    }
}
