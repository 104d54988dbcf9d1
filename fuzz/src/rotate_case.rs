//! The `rotate` fuzz target's check, shared with the regression test
//! (`tests/fuzz_regressions.rs`): decode a whole call from bytes (configuration, shape,
//! positions, dtype, source, direction, backend, data), run it, and check the contract:
//!
//! - invalid: a typed error, and the buffer byte for byte unchanged;
//! - valid: the scalar backend's bits from every backend, and within the documented bound
//!   of the float64 reference wherever the inputs are finite and far from overflow;
//! - out of place, into a cache slot of the same or another element type: the in-place
//!   call's bits (for another type, the f32 call's rounded once), or its error with
//!   nothing written;
//! - never a panic.

use super::bytes::Bytes;
use super::common::{assert_same_bits, axis_of, bound, view, Order, Reference, TestElement};
use rope_simd::{
    bf16, f16, Axes, Backend, CompactTable, ContextLengths, CosSinTable, Direction, Ggml, GgmlMode,
    Heads, KvCache, Llama3, LongRope, LongRopeChoice, PairLayout, Positions, Rope, Rotate, Scaling,
    View, Yarn,
};

/// The sin/cos source of a call: on the fly, a full table or a compact table.
enum Source {
    Fly,
    Full(CosSinTable<Vec<f32>>),
    Compact(CompactTable<Vec<f64>>),
}

impl Source {
    fn new(kind: u8, rope: &Rope, max_pos: usize) -> Self {
        match kind {
            1 => Source::Full(rope.table(max_pos).unwrap()),
            2 => Source::Compact(rope.compact_table(max_pos).unwrap()),
            _ => Source::Fly,
        }
    }
    fn kind(&self) -> u8 {
        match self {
            Source::Fly => 0,
            Source::Full(_) => 1,
            Source::Compact(_) => 2,
        }
    }
}

/// `$body` with `$s` bound to the source (the `Rotate` methods are generic, so no `dyn`).
macro_rules! on_source {
    ($source:expr, $rope:expr, |$s:ident| $body:expr) => {
        match &$source {
            Source::Fly => {
                let $s = &$rope;
                $body
            }
            Source::Full(t) => {
                let $s = t;
                $body
            }
            Source::Compact(t) => {
                let $s = t;
                $body
            }
        }
    };
}

pub fn run(data: &[u8]) {
    let mut b = Bytes(data);
    // Any size below 600, or (the top values of the two bytes, which decoded as other
    // sizes before) the head sizes models ship with, whose rows take the unrolled and
    // aligned-run kernels that a uniform pick rarely reaches.
    let raw = b.u16();
    let head_dim = match raw {
        60_000.. => [64, 128, 256, 80, 96, 112][usize::from(raw % 6)],
        _ => usize::from(raw % 600),
    };
    let rotary_dim = match b.u8() % 4 {
        0 => None,
        1 => Some(usize::from(b.u16() % 600)),
        _ => Some((head_dim / 2) & !1),
    };
    // One byte: even is half-split, odd interleaved, and 7 mod 8 DeepSeek's reordering
    // layout (so inputs from before it decode as they did, but for those).
    let layout = match b.u8() {
        k if k % 8 == 7 => PairLayout::InterleavedToHalfSplit,
        k if k % 2 == 1 => PairLayout::Interleaved,
        _ => PairLayout::HalfSplit,
    };
    let base = b.param(&[10_000.0, 500_000.0, 1e6, 2.0]);
    let scale = b.param(&[1.0, 1.0, 0.7, 1.3]);
    let pairs = rotary_dim.unwrap_or(head_dim) / 2;
    let custom: Option<Vec<f64>> = (b.u8() % 4 == 0).then(|| {
        let n = if b.u8() % 8 == 0 {
            usize::from(b.u8())
        } else {
            pairs
        };
        (0..n.min(600))
            .map(|_| b.param(&[1.0, 0.01, 1e-4, 0.5]))
            .collect()
    });
    let pick = usize::from(b.u8());
    let backend = Backend::ALL[pick % Backend::ALL.len()];
    // One this CPU does not run is refused; the case then goes on with one it runs, so
    // that every input rotates whichever architecture replays it.
    let backend = if backend.is_available() {
        backend
    } else {
        assert!(
            Rope::builder(64).backend(backend).build().is_err(),
            "{backend:?} is not available but was accepted"
        );
        let available: Vec<Backend> = Backend::available().collect();
        available[pick % available.len()]
    };
    // A schedule and position axes (most combinations valid, some not).
    let factors: Vec<f64> = (0..if b.u8() % 8 == 0 { pairs + 1 } else { pairs })
        .map(|i| 1.0 + (i % 7) as f64 * b.param(&[0.5, 1.0, 0.0, -3.0]))
        .collect();
    let factor = b.param(&[4.0, 8.0, 1.0, 0.0]);
    let scaling = match b.u8() % 8 {
        1 => Scaling::Linear { factor },
        2 => Scaling::NtkAware { alpha: factor },
        3 => Scaling::DynamicNtk {
            factor,
            max_position_embeddings: 64,
            seq_len: u64::from(b.u8()),
        },
        4 => {
            // Read in the order the bytes always had.
            let truncate = b.bool();
            let mscale = b.param(&[1.0, 0.707, 0.0, 1.0]);
            let all = b.param(&[1.0, 0.0, 1.0, 2.0]);
            Scaling::Yarn(
                Yarn::new(factor, u64::from(b.u16()))
                    .truncate(truncate)
                    .mscale(mscale)
                    .mscale_all_dim(all),
            )
        }
        5 => Scaling::Llama3(Llama3::new(factor, 1.0, b.param(&[4.0, 2.0, 1.0, 0.5]), 64)),
        6 => Scaling::LongRope(LongRope::new(
            &factors,
            &factors,
            ContextLengths {
                original: 64,
                extended: u64::from(b.u16()),
            },
            LongRopeChoice::SeqLen(u64::from(b.u8())),
        )),
        _ => Scaling::None,
    };
    let s3 = |b: &mut Bytes<'_>| {
        let t = pairs.min(usize::from(b.u8()) % (pairs + 1)) as u32;
        let h = (pairs as u32 - t) / 2 + u32::from(b.u8() % 2);
        [t, h, (pairs as u32).wrapping_sub(t + h)]
    };
    let axes = match b.u8() % 6 {
        1 => Axes::MRope(s3(&mut b)),
        2 => Axes::MRopeInterleaved(s3(&mut b)),
        3 => Axes::Axial2d,
        // ggml's parameters and modes (`Rope::ggml_multi`) instead of the builder.
        5 => {
            return ggml_case(
                &mut b,
                head_dim,
                rotary_dim,
                base,
                custom.as_deref(),
                backend,
            )
        }
        _ => Axes::Single,
    };
    let mut builder = Rope::builder(head_dim)
        .scaling(scaling)
        .axes(axes)
        .layout(layout)
        .base(base)
        .scale(scale)
        .backend(backend);
    if let Some(r) = rotary_dim {
        builder = builder.rotary_dim(r);
    }
    if let Some(f) = &custom {
        builder = builder.inv_freqs(f);
    }
    let rope = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    match b.u8() % 3 {
        0 => call::<f32>(&rope, &mut b),
        1 => call::<f16>(&rope, &mut b),
        _ => call::<bf16>(&rope, &mut b),
    }
}

/// A `Rope` from ggml's parameters in any of its modes (normal, NeoX, and M-RoPE,
/// interleaved M-RoPE and vision with four sections from the bytes, some summing to fewer
/// pairs than the head has, so that they wrap), then the same call and checks as every
/// other case.
fn ggml_case(
    b: &mut Bytes<'_>,
    head_dim: usize,
    rotary_dim: Option<usize>,
    base: f64,
    factors: Option<&[f64]>,
    backend: Backend,
) {
    let mode = [
        GgmlMode::MRope,
        GgmlMode::IMRope,
        GgmlMode::Vision,
        GgmlMode::Normal,
        GgmlMode::Neox,
    ][usize::from(b.u8() % 5)];
    let n_dims = rotary_dim.unwrap_or(head_dim);
    let pairs = n_dims / 2;
    let sections = [(); 4].map(|_| u32::from(b.u8()) % (pairs as u32 + 2));
    let mut g = Ggml::new(n_dims, base);
    g.freq_scale = b.param(&[1.0, 0.25, 0.5, 2.0]);
    g.ext_factor = b.param(&[0.0, 1.0, 0.0, -1.0]);
    g.attn_factor = b.param(&[1.0, 1.0, 0.5, 0.0]);
    g.n_ctx_orig = u64::from(b.u16());
    g.freq_factors = factors;
    let rope = match Rope::ggml_multi(head_dim, mode, sections, &g)
        .and_then(|r| r.with_backend(backend))
    {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    match b.u8() % 3 {
        0 => call::<f32>(&rope, b),
        1 => call::<f16>(&rope, b),
        _ => call::<bf16>(&rope, b),
    }
}

fn call<E: TestElement>(rope: &Rope, b: &mut Bytes<'_>) {
    let heads = usize::from(b.u8() % 6);
    let tokens = usize::from(b.u8() % 6);
    let order = if b.bool() {
        Order::TokensHeads
    } else {
        Order::HeadsTokens
    };
    let direction = if b.bool() {
        Direction::Forward
    } else {
        Direction::Inverse
    };
    let list: Vec<u32> = (0..if b.u8().is_multiple_of(8) {
        tokens + 1
    } else {
        tokens
    })
        .map(|_| b.position() as u32)
        .collect();
    let list64: Vec<u64> = (0..tokens).map(|_| b.position()).collect();
    let n_axes = rope.axes().count();
    let coords: Vec<u32> = (0..tokens * n_axes + usize::from(b.u8().is_multiple_of(8)))
        .map(|_| b.position() as u32)
        .collect();
    // The same 64-bit list, read as signed: negative positions, and magnitudes past 2^63.
    let signed64: Vec<i64> = list64.iter().map(|&p| p as i64).collect();
    let positions = match b.u8() {
        k if k % 5 == 0 => Positions::Start(b.position()),
        k if k % 5 == 1 => Positions::List(&list),
        k if k % 5 == 2 => Positions::Same(b.position()),
        k if k % 5 == 3 => Positions::Axes(&coords),
        // Odd ones of the fifth kind (so inputs from before decode mostly as they did).
        k if k % 2 == 1 => Positions::Signed64(&signed64),
        _ => Positions::List64(&list64),
    };
    let mut len = tokens * heads * rope.head_dim();
    if b.u8().is_multiple_of(8) {
        len = (len + usize::from(b.u8() % 5)).saturating_sub(2);
    }
    let x: Vec<E> = (0..len)
        .map(|_| {
            let raw = b.u32();
            let v = if raw & 3 == 0 {
                f32::from_bits(raw)
            } else {
                (raw >> 8) as f32 / 65536.0 - 128.0
            };
            E::from_f32(v)
        })
        .collect();
    let shape = view(heads, order);
    // positions are often below 64 (see `Bytes::position`)
    let raw = b.u16();
    let table_pos = usize::from(raw % 80);
    let source = Source::new(b.u8() % 3, rope, table_pos);

    // The buffer starts `shift` elements past its allocation's (aligned) start, so that
    // rows begin off a vector boundary as often as on one: the aligned-run kernels
    // (`strategy/aligned_run.rs`) take only those. From the table size's byte, so that
    // the committed corpus decodes as it did.
    let shift = usize::from(raw / 80 % 16);
    let mut y_buf = vec![E::from_f32(0.0); shift + x.len()];
    y_buf[shift..].copy_from_slice(&x);
    let y = &mut y_buf[shift..];
    let result = on_source!(source, rope, |s| s
        .apply(&mut *y, shape, positions, direction));
    // The same call out of place, into a cache slot of the same type: the in-place bits
    // in the slot's rows, nothing else written; or the same error, nothing written.
    let (first, extra, cap) = (
        usize::from(b.u8() % 4),
        usize::from(b.u8() % 3),
        usize::from(b.u8() % 12),
    );
    let row = heads * rope.head_dim();
    // A window of a dense cache, or of one with padded rows (a strided view).
    let window = |heads: usize, row: usize| {
        if extra == 0 {
            View::tokens_heads(heads).at(first)
        } else {
            View::strided(heads, row + extra, rope.head_dim()).at(first)
        }
    };
    let canary = E::from_f32(-3.0);
    let cache_len = cap * (row + extra) + usize::from(b.u8() % 4);
    let slot = Slot {
        view: window(heads, row),
        first,
        row: row + extra,
        len: cache_len,
    };
    let mut cache = vec![canary; cache_len];
    let into = on_source!(source, rope, |s| s
        .apply_into(&x, shape, &mut cache, slot.view, positions, direction));
    let geometry = (heads, order, rope.head_dim());
    match (&result, &into) {
        (_, Err(_)) => assert!(
            cache.iter().all(|v| v.bits() == canary.bits()),
            "a failing rotate_into wrote"
        ),
        (Err(e), Ok(())) => panic!("rotate_into succeeded where the in-place call failed: {e}"),
        (Ok(()), Ok(())) => {
            assert_slot(y, &cache, canary, geometry, slot, "rotate_into vs in place")
        }
    }
    // The decode step in one call (Q = x, K and V = its first kv heads' worth), same
    // slot numbers as above: the bits of the separate calls, or an error writing nothing.
    if order == Order::TokensHeads && direction == Direction::Forward && heads > 0 {
        let hd = rope.head_dim();
        let kv = 1.max(heads / 2);
        let tokens = x.len().checked_div(row).unwrap_or(0);
        let kv_len = (tokens * kv * hd).min(x.len());
        let (k, v) = (&x[..kv_len], &x[x.len() - kv_len..]);
        let kv_slot = window(kv, kv * hd);
        let size = cap * (kv * hd + extra);
        let (mut q, mut kc, mut vc) = (x.clone(), vec![canary; size], vec![canary; size]);
        let cache = KvCache {
            k: &mut kc,
            v: &mut vc,
            view: kv_slot,
        };
        let heads2 = Heads { q: heads, kv };
        let decoded = on_source!(source, rope, |s| s
            .rotate_decode(&mut q, k, v, heads2, cache, positions));
        let mut k_want = vec![canary; size];
        let k_into = on_source!(source, rope, |s| s.apply_into(
            k,
            View::tokens_heads(kv),
            &mut k_want,
            kv_slot,
            positions,
            Direction::Forward
        ));
        match decoded {
            Ok(()) => {
                assert!(
                    result.is_ok() && k_into.is_ok(),
                    "rotate_decode succeeded alone"
                );
                assert_same_bits(y, &q, "rotate_decode: q");
                assert_same_bits(&k_want, &kc, "rotate_decode: k cache");
            }
            Err(_) => {
                assert_same_bits(&x, &q, "a failing rotate_decode changed q");
                assert!(
                    kc.iter().chain(&vc).all(|v| v.bits() == canary.bits()),
                    "a failing rotate_decode wrote a cache"
                );
            }
        }
    }
    // The convenience calls over `apply` (`rotate`, `rotate_inverse`) and the call split
    // at a token (`apply_tokens`, as `par_apply` splits it): the same bits, or an error.
    if order == Order::TokensHeads {
        let mut w = x.clone();
        let wrapped = on_source!(source, rope, |s| if direction == Direction::Forward {
            s.rotate(&mut w, heads, positions)
        } else {
            s.rotate_inverse(&mut w, heads, positions)
        });
        assert_eq!(
            wrapped.is_ok(),
            result.is_ok(),
            "a wrapper and apply disagree"
        );
        if result.is_ok() {
            assert_same_bits(y, &w, "rotate / rotate_inverse vs apply");
        }
        if direction == Direction::Forward {
            // Q and K as two copies: each the in-place bits, or both untouched.
            let (mut q, mut k) = (x.clone(), x.clone());
            let qk = on_source!(source, rope, |s| s
                .rotate_qk(&mut q, heads, &mut k, heads, positions));
            assert_eq!(qk.is_ok(), result.is_ok(), "rotate_qk and apply disagree");
            let want = if qk.is_ok() { &*y } else { &x };
            assert_same_bits(want, &q, "rotate_qk: q");
            assert_same_bits(want, &k, "rotate_qk: k");
            // Into a fresh cache of the same slot: the bits `apply_into` wrote above.
            let mut c2 = vec![canary; cache_len];
            let into2 = on_source!(source, rope, |s| s
                .rotate_into(&x, shape, &mut c2, slot.view, positions));
            assert_eq!(
                into2.is_ok(),
                into.is_ok(),
                "rotate_into and apply_into disagree"
            );
            assert_same_bits(&cache, &c2, "rotate_into vs apply_into");
        }
        let tokens = x.len().checked_div(row).unwrap_or(0);
        let at = usize::from(b.u8()) % (tokens + 1);
        if result.is_ok() && row > 0 {
            let mut parts = x.clone();
            let (first_part, rest) = parts.split_at_mut(at * row);
            on_source!(source, rope, |s| s
                .apply_tokens(first_part, heads, positions, 0, direction))
            .unwrap();
            on_source!(source, rope, |s| s
                .apply_tokens(rest, heads, positions, at, direction))
            .unwrap();
            assert_same_bits(y, &parts, "apply_tokens in two parts vs apply");
        }
    }
    // Out of place into a cache of another element type (f32 activations into an f16 or
    // bf16 cache, the runtimes' path, among them). Read last, so that inputs from before
    // it decode as they did.
    let (f32_source, f16_source) = (size_of::<E>() == 4, E::REL == f16::REL);
    let call = Call {
        rope,
        source: &source,
        heads,
        order,
        positions,
        direction,
    };
    match (b.u8() % 2, f32_source, f16_source) {
        (0, _, false) => other_cache::<E, f16>(&call, &x, slot),
        (0, ..) | (_, true, _) => other_cache::<E, bf16>(&call, &x, slot),
        _ => other_cache::<E, f32>(&call, &x, slot),
    }
    if let Err(e) = result {
        assert!(!e.to_string().is_empty());
        assert_same_bits(&x, y, "a failing call changed the buffer");
        return;
    }
    // Valid: the scalar backend's bits ...
    let scalar = rope.clone().with_backend(Backend::Scalar).unwrap();
    let scalar_source = Source::new(source.kind(), &scalar, table_pos);
    let mut s = x.clone();
    on_source!(scalar_source, scalar, |src| src
        .apply(&mut s, shape, positions, direction))
    .unwrap();
    assert_same_bits(&s, y, rope.backend().name());
    // ... and the float64 reference, where it is meaningful.
    let tokens = if heads == 0 {
        0
    } else {
        x.len() / (heads * rope.head_dim())
    };
    let pairs = rope.pairs();
    let at = |t: usize, i: usize| match positions {
        Positions::Start(s) => s + t as u64,
        Positions::List(l) => u64::from(l[t]),
        Positions::List64(l) => l[t],
        Positions::Signed64(l) => l[t].unsigned_abs(),
        Positions::Same(p) => p,
        Positions::Axes(c) => u64::from(c[t * n_axes + axis_of(rope.axes(), i, pairs)]),
        _ => unreachable!("a position kind this check does not know"),
    };
    // The plain f64 reference loses accuracy at huge positions (its own angle error grows
    // with the position): check up to 2^24, where it is far below the bound.
    let huge = (0..tokens).any(|t| (0..pairs).any(|i| at(t, i) > 1 << 24));
    if huge || heads == 0 {
        return;
    }
    let r = Reference {
        head_dim: rope.head_dim(),
        rotary_dim: rope.rotary_dim(),
        layout: rope.layout(),
        inv_freq: rope.inv_freqs(),
        scale: rope.scale(),
    };
    let xf: Vec<f64> = x.iter().map(|v| f64::from(v.to_f32())).collect();
    let negative = |t: usize| matches!(positions, Positions::Signed64(l) if l[t] < 0);
    let want = r.rotate_signed_at(
        &xf,
        heads,
        order,
        tokens,
        at,
        negative,
        direction == Direction::Inverse,
    );
    let max = E::MAX;
    let inverse = direction == Direction::Inverse;
    // Each rotated output channel's pair, looked up once (a search per element was most
    // of this target's time).
    let mut pair_of = vec![usize::MAX; r.rotary_dim];
    for p in 0..r.rotary_dim / 2 {
        let (a, b) = r.pair_out(p, inverse);
        (pair_of[a], pair_of[b]) = (p, p);
    }
    for (i, (&got, &w)) in y.iter().zip(&want).enumerate() {
        let head = i / r.head_dim * r.head_dim;
        let c = i % r.head_dim;
        if c >= r.rotary_dim {
            assert_eq!(got.bits(), x[i].bits(), "pass-through channel {i} changed");
            continue;
        }
        let pair = pair_of[c];
        assert_ne!(pair, usize::MAX, "channel {c} is in no pair");
        let (ia, ib) = r.pair_in(pair, inverse);
        let (a, bb) = (xf[head + ia], xf[head + ib]);
        // The true inverse divides by the scale: bound by the larger magnitude.
        let scale = r.scale.max(1.0 / r.scale);
        if !(a.is_finite() && bb.is_finite()) || (a.abs() + bb.abs()) * scale > max / 4.0 {
            continue;
        }
        let g = f64::from(got.to_f32());
        let tol = bound::<E>(a, bb, w, scale);
        assert!((g - w).abs() <= tol, "element {i}: got {g}, reference {w}, bound {tol}; head_dim {} rotary {} {:?} scale {} freqs {:?} backend {:?} heads {heads} order {order:?} {direction:?} positions {positions:?} source {} x {:?}", r.head_dim, r.rotary_dim, r.layout, r.scale, r.inv_freq, rope.backend(), source.kind(), &xf);
    }
}

/// One call's arguments but the data, for the checks that repeat it.
struct Call<'a> {
    rope: &'a Rope,
    source: &'a Source,
    heads: usize,
    order: Order,
    positions: Positions<'a>,
    direction: Direction,
}

/// The slot of a cache that `call` writes: `view` (tokens from `first` on, `row` elements
/// a token) of a cache of `len` elements.
#[derive(Clone, Copy)]
struct Slot {
    view: View,
    first: usize,
    row: usize,
    len: usize,
}

/// `call` out of place from `x` into a cache of `D`: what the in-place f32 call gives on
/// `x` widened, rounded once to `D`, in the slot's rows and nothing else written; or the
/// in-place call's error, nothing written.
fn other_cache<E: TestElement, D: TestElement>(call: &Call<'_>, x: &[E], slot: Slot) {
    let Call {
        rope,
        source,
        heads,
        order,
        positions,
        direction,
    } = *call;
    let shape = view(heads, order);
    let mut want: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let in_f32 = on_source!(source, rope, |s| s
        .apply(&mut want, shape, positions, direction));
    let canary = D::from_f32(-3.0);
    let mut cache = vec![canary; slot.len];
    let into = on_source!(source, rope, |s| s
        .apply_into(x, shape, &mut cache, slot.view, positions, direction));
    match (in_f32, into) {
        (_, Err(_)) => assert!(
            cache.iter().all(|v| v.bits() == canary.bits()),
            "a failing rotate_into of another type wrote"
        ),
        (Err(e), Ok(())) => panic!("rotate_into another type succeeded where f32 failed: {e}"),
        (Ok(()), Ok(())) => {
            let rounded: Vec<D> = want.iter().map(|&v| D::from_f32(v)).collect();
            let geometry = (heads, order, rope.head_dim());
            let what = "rotate_into another type vs in place in f32";
            assert_slot(&rounded, &cache, canary, geometry, slot, what);
        }
    }
}

/// A successful out-of-place call's cache: each token's heads of `want` (laid out as
/// `(heads, order, head_dim)` says) in the slot's rows, and every other element still
/// `canary` (padding, the rows around the slot, the cache's tail).
fn assert_slot<D: TestElement>(
    want: &[D],
    cache: &[D],
    canary: D,
    (heads, order, hd): (usize, Order, usize),
    slot: Slot,
    what: &str,
) {
    let tokens = want.len().checked_div(heads * hd).unwrap_or(0);
    let mut written = vec![false; cache.len()];
    for t in 0..tokens {
        for h in 0..heads {
            let s0 = match order {
                Order::TokensHeads => (t * heads + h) * hd,
                Order::HeadsTokens => (h * tokens + t) * hd,
            };
            let d0 = (slot.first + t) * slot.row + h * hd;
            assert_same_bits(&want[s0..s0 + hd], &cache[d0..d0 + hd], what);
            written[d0..d0 + hd].fill(true);
        }
    }
    let stray = (0..cache.len()).find(|&i| !written[i] && cache[i].bits() != canary.bits());
    assert!(
        stray.is_none(),
        "{what}: element {stray:?} outside the slot written"
    );
}
