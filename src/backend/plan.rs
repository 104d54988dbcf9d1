//! The plan: how one span is rotated on one ISA, chosen once per call from the ISA's
//! capabilities, the element types, the layout, the row shape and (for the aligned run)
//! where the rows start. `span.rs` carries it out; `plans.txt` pins it for every shape
//! of the backend sweep (the test below), so a change in the decisions shows up in
//! review. Why each strategy serves the shapes it does: `docs/design.md`.

use super::vector::{bf16_unrolls, unroll_shapes, unrolls, vector_body, SimdElement, Vector};
use crate::config::MAX_PAIRS;
use crate::element::Element;
use crate::kernel::Span;

/// How the vector body of every row is rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// No whole vector in a row: every pair to the scalar kernel.
    Scalar,
    /// Rows of `vectors` vectors, each one unrolled block, cos/sin made ready once per
    /// span (`strategy/unrolled.rs`).
    Unrolled { vectors: usize },
    /// bf16 to bf16 rows of `chunks` chunks of `2N` values, unrolled, cos/sin ready once
    /// (`strategy/bf16_pairs.rs`).
    Bf16Unrolled { chunks: usize },
    /// bf16 to bf16 rows a chunk at a time, cos/sin loaded per chunk
    /// (`strategy/bf16_pairs.rs`).
    Bf16Rows,
    /// f32 rows back to back that start off a vector boundary, walked as one run of
    /// aligned vectors, `vectors` a row (`strategy/aligned_run.rs`).
    AlignedRun { vectors: usize },
    /// The general row loop: cos/sin loaded per vector, half-split pairs in blocks of
    /// `block` vectors (`strategy/rows.rs`).
    Rows { block: usize },
}

/// The plan for one span on ISA `V`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Pairs `0..pairs` of each row are `V`'s: its vector body by `strategy`, then the
    /// scalar kernel. Pairs `pairs..n` go to `V::Tail`, planned on their own.
    pub pairs: usize,
    /// Pairs of each row in whole vectors of `V` (`<= pairs`).
    pub body: usize,
    pub strategy: Strategy,
    /// Ask for rows ahead (in place, large calls; `prefetch.rs`).
    pub prefetch: bool,
    /// Write with non-temporal stores (out of place, large calls, every vector store
    /// 16-byte aligned).
    pub stream: bool,
}

impl Plan {
    /// The plan for `span` read from `src` and written to `dst` (rows `dst_stride`
    /// apart; the same pointer and stride in place, unless `into`); with `split`, row
    /// tails of at least one narrower vector go to `V::Tail`.
    #[inline(always)]
    pub(crate) fn new<V: Vector, S: Element, D: Element>(
        span: &Span,
        (src, dst, dst_stride): (*const S, *mut D, usize),
        into: bool,
        split: bool,
    ) -> Plan {
        let in_place = !into;
        let pairs = match split {
            true => tail_split::<V>(span).unwrap_or(span.n),
            false => span.n,
        };
        let head = span.head(pairs);
        let (_, body) = vector_body::<V>(&head);
        let prefetch = in_place && V::PREFETCH && span.prefetch;
        let stream = !in_place && span.stream && V::STREAM && D::STREAMS && {
            // Every vector store 16-byte aligned: the slice, the row stride and the
            // halves' offsets (vectors are 16 or 32 bytes).
            let bytes = core::mem::size_of::<D>();
            [
                dst as usize,
                dst_stride * bytes,
                span.first * bytes,
                span.second * bytes,
            ]
            .iter()
            .all(|v| v.is_multiple_of(16))
        };
        let strategy = strategy::<V, S, D>(&head, body, src, dst, dst_stride, prefetch, stream);
        Plan {
            pairs,
            body,
            strategy,
            prefetch,
            stream,
        }
    }
}

/// Where a span splits between `V` and the narrower `V::Tail`: the pairs of `V`'s
/// vector body, when the rest of each row holds at least one vector of `V::Tail`
/// (`None` otherwise: all to `V`, the rest of each row to the scalar kernel). With
/// AVX-512 that is head_dim 80 (two 16-lane vectors and one 8-lane one) or partial
/// rotary with 8 or 10 pairs (Pythia, GPT-NeoX, StableLM). The bits are the same either
/// way; `docs/design.md`, "Narrower tails", gives the measurements.
#[inline(always)]
fn tail_split<V: Vector>(span: &Span) -> Option<usize> {
    let (_, body) = vector_body::<V>(span);
    let (narrow, _) = vector_body::<V::Tail>(span);
    (V::Tail::N < V::N && span.n - body >= narrow).then_some(body)
}

/// The decision tree, first match wins (`span` is `V`'s part of the row).
#[inline(always)]
fn strategy<V: Vector, S: Element, D: Element>(
    span: &Span,
    body: usize,
    src: *const S,
    dst: *mut D,
    dst_stride: usize,
    prefetch: bool,
    stream: bool,
) -> Strategy {
    let (width, _) = vector_body::<V>(span);
    // bf16 to bf16: the pair kernels (they have no streaming stores).
    if S::IS_BF16 && D::IS_BF16 && !stream {
        if span.rows >= 2 {
            if let Some(chunks) = bf16_unrolled::<V>(span) {
                return Strategy::Bf16Unrolled { chunks };
            }
        }
        let chunk = if span.interleaved { V::N } else { 2 * V::N };
        if body > 0 && body.is_multiple_of(chunk) && body <= MAX_PAIRS {
            return Strategy::Bf16Rows;
        }
    }
    if span.rows >= 2 {
        if V::MASKS.is_some()
            && S::IS_F32
            && D::IS_F32
            && !stream
            && !prefetch
            && span.rows >= V::ALIGNED_RUN_ROWS
        {
            if let Some(vectors) = aligned_run::<V>(span, src.cast(), dst.cast(), dst_stride) {
                return Strategy::AlignedRun { vectors };
            }
        }
        let vectors = span.n / width;
        // The ISA's list, looked up at compile time for each shape it may hold.
        macro_rules! listed {
            ($(($il:literal, $k:literal)),*) => {
                match (span.interleaved, vectors) {
                    $(($il, $k) => const { unrolls::<V, S, D>($il, $k) },)*
                    _ => false,
                }
            };
        }
        let unrolled = unroll_shapes!(listed);
        // Streaming calls are memory-bound: the row loop measured as fast there, and
        // unrolled kernels with streaming stores would be a second copy of each shape
        // (`cargo bench -p rope-simd-benches --bench rope -- fused`).
        if unrolled && !stream {
            return Strategy::Unrolled { vectors };
        }
    }
    if body == 0 {
        return Strategy::Scalar;
    }
    Strategy::Rows {
        block: block_len::<V, S>(span.second - span.first),
    }
}

/// Chunks of `2N` bf16 per row for [`Strategy::Bf16Unrolled`]: every row a whole number
/// of chunks, a count `V` lists in `BF16_UNROLLED`, whose cos/sin fit in `V::KEEP`
/// vectors each.
#[inline(always)]
fn bf16_unrolled<V: Vector>(span: &Span) -> Option<usize> {
    let n = span.n;
    let (pairs, keep) = match span.interleaved {
        true => (V::N, 1), // a chunk's cos/sin in one vector each
        false => (2 * V::N, 2),
    };
    let chunks = n / pairs;
    let listed = match (span.interleaved, chunks) {
        (true, 1) => const { bf16_unrolls::<V>(true, 1) },
        (true, 2) => const { bf16_unrolls::<V>(true, 2) },
        (true, 4) => const { bf16_unrolls::<V>(true, 4) },
        (true, 8) => const { bf16_unrolls::<V>(true, 8) },
        (false, 1) => const { bf16_unrolls::<V>(false, 1) },
        (false, 2) => const { bf16_unrolls::<V>(false, 2) },
        (false, 4) => const { bf16_unrolls::<V>(false, 4) },
        _ => false,
    };
    (n.is_multiple_of(pairs) && listed && chunks * keep <= V::KEEP.max(2)).then_some(chunks)
}

/// Vectors a row for [`Strategy::AlignedRun`]: f32 rows back to back (every channel
/// rotated, stride `2n`) in both buffers, starting `m > 0` elements past a vector
/// boundary (the same `m` in both; even for interleaved pairs, so that no pair straddles
/// two vectors), and a row a number of vectors that fits in registers.
#[inline(always)]
fn aligned_run<V: Vector>(
    span: &Span,
    src: *const f32,
    dst: *mut f32,
    dst_stride: usize,
) -> Option<usize> {
    let (lanes, n) = (V::N, span.n);
    let m = misalignment::<V>(src.wrapping_add(span.first));
    if m == 0
        || misalignment::<V>(dst.wrapping_add(span.first).cast_const()) != m
        || span.stride != 2 * n
        || dst_stride != 2 * n
        || !(2 * n).is_multiple_of(lanes)
    {
        return None;
    }
    // The shapes the ISA unrolls (the same vector counts), as far as they fit.
    macro_rules! listed {
        ($il:literal, $k:expr, $($n:literal),*) => {
            match $k {
                $($n => const { unrolls::<V, f32, f32>($il, $n) },)*
                _ => false,
            }
        };
    }
    if span.interleaved {
        let r = 2 * n / lanes;
        let fits = matches!(r, 1 | 2 | 4) || (r == 8 && V::KEEP >= 4) || (r == 16 && V::KEEP >= 8);
        let listed = listed!(true, r, 1, 2, 4, 8, 16);
        (m.is_multiple_of(2) && fits && listed).then_some(r)
    } else {
        let k = n / lanes;
        let fits = matches!(k, 1 | 2) || (matches!(k, 4 | 8) && V::KEEP >= 4);
        let listed = listed!(false, k, 1, 2, 4, 8);
        (span.second == span.first + n && n.is_multiple_of(lanes) && fits && listed).then_some(k)
    }
}

/// Elements of `p` past the last `V::N`-element boundary.
#[inline(always)]
pub(crate) fn misalignment<V: Vector>(p: *const f32) -> usize {
    (p as usize / core::mem::size_of::<f32>()) % V::N
}

/// Vectors per half-split block (see `strategy::split_block`) for a span whose two
/// halves are `gap` elements of `E` apart: 4 with 32 registers (room for the block next
/// to cos/sin), and on the 16-register ISAs 4 when the halves are 512 bytes or more
/// apart (head_dim 256 in f32, 512 in 16-bit), where blocks pay for a few register
/// spills; 1 otherwise.
#[inline(always)]
pub(crate) fn block_len<V: Vector, E>(gap: usize) -> usize {
    if V::KEEP >= 8 || gap * core::mem::size_of::<E>() >= 512 {
        4
    } else {
        1
    }
}

/// The plans of every shape in the backend sweep, pinned in `plans.txt` (and
/// `plans_aarch64.txt`, written under qemu): a change in
/// the decisions fails here and shows up in review as a diff of that file (after
/// `ROPE_SIMD_BLESS=1 cargo test --lib plans_are_pinned`). Not under Miri, which opens
/// no files (and the decisions are plain arithmetic).
#[cfg(all(
    test,
    feature = "std",
    any(
        target_arch = "x86_64",
        all(
            target_arch = "aarch64",
            target_feature = "neon",
            target_endian = "little"
        )
    ),
    not(miri)
))]
mod tests {
    use super::*;
    #[cfg(target_arch = "aarch64")]
    use crate::backend::aarch64::neon::Neon;
    use crate::backend::lanes::Lanes;
    #[cfg(target_arch = "x86_64")]
    use crate::backend::x86_64::{avx2::Avx2, avx512::Avx512};
    use half::{bf16, f16};
    use std::fmt::Write;
    use std::string::String;

    /// A strategy in a few letters: `S` scalar, `U<k>` unrolled, `B<k>` bf16 unrolled,
    /// `BR` bf16 rows, `A<k>` aligned run, `R<b>` row loop in blocks of `b`.
    fn short(s: Strategy) -> String {
        match s {
            Strategy::Scalar => "S".into(),
            Strategy::Unrolled { vectors } => std::format!("U{vectors}"),
            Strategy::Bf16Unrolled { chunks } => std::format!("B{chunks}"),
            Strategy::Bf16Rows => "BR".into(),
            Strategy::AlignedRun { vectors } => std::format!("A{vectors}"),
            Strategy::Rows { block } => std::format!("R{block}"),
        }
    }

    /// `V`'s plan of `span` (and `V::Tail`'s of its tails), as `strategy[+tail][+sN]`.
    fn describe<V: Vector, S: Element, D: Element>(span: &Span, offset: usize) -> String {
        // Addresses only (never dereferenced): 64-byte aligned, plus `offset` bytes.
        let src = core::ptr::without_provenance::<S>(0x10000 + offset);
        let dst = core::ptr::without_provenance_mut::<D>(0x20000 + offset);
        let plan = Plan::new::<V, S, D>(span, (src, dst, span.stride), false, true);
        let mut out = short(plan.strategy);
        if plan.pairs < span.n {
            let tails = span.tails(plan.pairs);
            let t = Plan::new::<V::Tail, S, D>(&tails, (src, dst, span.stride), false, false);
            let _ = write!(out, "+{}", short(t.strategy));
            if t.body < tails.n {
                let _ = write!(out, "+s{}", tails.n - t.body);
            }
        } else if plan.body < plan.pairs {
            let _ = write!(out, "+s{}", plan.pairs - plan.body);
        }
        out
    }

    fn lines<V: Vector, S: Element, D: Element>(isa: &str, out: &mut String) {
        let hds = [
            2usize, 4, 6, 8, 14, 16, 18, 30, 32, 62, 64, 66, 80, 96, 128, 256, 512,
        ];
        for interleaved in [false, true] {
            for rows in [1usize, 2, 8] {
                for offset in [0usize, 16] {
                    let layout = if interleaved {
                        "interleaved"
                    } else {
                        "half-split"
                    };
                    let _ = write!(
                        out,
                        "{isa} {}>{} {layout} rows {rows} +{offset}B:",
                        S::NAME,
                        D::NAME
                    );
                    for hd in hds {
                        for rotary in [hd, (hd / 2) & !1].into_iter().filter(|&r| r > 0) {
                            let n = rotary / 2;
                            let span = Span {
                                rows,
                                stride: hd,
                                first: 0,
                                second: n,
                                n,
                                interleaved,
                                inverse: false,
                                stream: false,
                                prefetch: false,
                            };
                            let plan = describe::<V, S, D>(&span, offset);
                            let _ = write!(out, " {hd}/{rotary}={plan}");
                        }
                    }
                    out.push('\n');
                }
            }
        }
    }

    fn every<V: Vector>(isa: &str, out: &mut String) {
        lines::<V, f32, f32>(isa, out);
        lines::<V, f16, f16>(isa, out);
        lines::<V, bf16, bf16>(isa, out);
        lines::<V, f32, f16>(isa, out);
        lines::<V, f32, bf16>(isa, out);
    }

    #[test]
    fn plans_are_pinned() {
        let mut out = String::from(
            "# The plan of every shape in the backend sweep (src/backend/plan.rs, test\n\
             # plans_are_pinned): head_dim/rotary_dim=strategy (S scalar, U<k> unrolled,\n\
             # B<k> bf16 unrolled, BR bf16 rows, A<k> aligned run, R<b> row loop),\n\
             # +tail strategy on the narrower vectors, +s<n> pairs left to the scalar kernel.\n",
        );
        every::<Lanes>("lanes", &mut out);
        #[cfg(target_arch = "x86_64")]
        {
            every::<Avx2>("avx2", &mut out);
            every::<Avx512<false>>("avx512", &mut out);
        }
        #[cfg(target_arch = "aarch64")]
        every::<Neon<false>>("neon", &mut out);
        // x86_64's ISAs in one file, aarch64's (under qemu in CI) in another.
        let path = match cfg!(target_arch = "aarch64") {
            true => concat!(env!("CARGO_MANIFEST_DIR"), "/src/backend/plans_aarch64.txt"),
            false => concat!(env!("CARGO_MANIFEST_DIR"), "/src/backend/plans.txt"),
        };
        if std::env::var_os("ROPE_SIMD_BLESS").is_some() {
            std::fs::write(path, &out).unwrap();
        }
        let pinned = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            pinned == out,
            "the plans changed: review them with ROPE_SIMD_BLESS=1 cargo test --lib \
             plans_are_pinned and git diff src/backend/plans.txt"
        );
    }
}
