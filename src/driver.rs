//! The driver behind every call: validate everything, then walk the tokens, have each
//! one's cos/sin once, and hand each run of pairs to the backend's kernels (in place, or
//! out of place into a cache slot with conversion).

use crate::any_slice::{AnySlice, AnySliceMut, InPlace, OutOfPlace};
use crate::config::{PairLayout, MAX_PAIRS, MAX_POSITION};
use crate::element::Element;
use crate::error::RopeError;
use crate::kernel::{Span, PREFETCH_BYTES};
use crate::positions::{At, Positions};
use crate::shape::{Direction, Placed, View};
use crate::source::{Geom, RunFn, Runs, Source};

/// One buffer of a call rotated in place: Q, K or the only one. Its element type is a
/// value, its kernels come with it (`any_slice.rs`): the loop below is compiled once per
/// sin/cos source, not once per source and element type.
pub(crate) struct Target<'x> {
    pub x: AnySliceMut<'x>,
    pub kernels: &'static InPlace,
    pub view: View,
    pub what: &'static str,
}

impl<'x> Target<'x> {
    pub(crate) fn new<E: Element>(x: &'x mut [E], view: View, what: &'static str) -> Self {
        Target {
            x: AnySliceMut::of(x),
            kernels: InPlace::of::<E>(),
            view,
            what,
        }
    }

    pub(crate) fn dims(&self) -> Dims {
        Dims {
            view: self.view,
            len: self.x.len(),
            what: self.what,
        }
    }
}

/// The span of `n` pairs from `first_pair`, over `rows` rows `stride` apart.
pub(crate) fn span_for(
    g: &Geom,
    rows: usize,
    stride: usize,
    first_pair: usize,
    n: usize,
    inverse: bool,
) -> Span {
    // DeepSeek's layout turns interleaved pairs and then reorders them (forward), or
    // turns half-split pairs and then reorders them back (inverse): see `reorder_heads`.
    let interleaved = match g.layout {
        PairLayout::Interleaved => true,
        PairLayout::HalfSplit => false,
        PairLayout::InterleavedToHalfSplit => !inverse,
    };
    Span {
        rows,
        stride,
        first: g.offset
            + if interleaved {
                2 * first_pair
            } else {
                first_pair
            },
        second: g.offset + g.rotary_dim / 2 + first_pair,
        n,
        interleaved,
        inverse,
        stream: false,
        prefetch: false,
    }
}

/// What validation needs to know of a buffer: its view, length and name.
#[derive(Clone, Copy)]
pub(crate) struct Dims {
    pub view: View,
    pub len: usize,
    pub what: &'static str,
}

/// Validate every buffer (each placed into `placed`, in order) and the positions; return
/// the token count.
pub(crate) fn validate(
    src: &dyn Runs,
    g: &Geom,
    targets: &[Dims],
    placed: &mut [Placed],
    positions: &Positions<'_>,
) -> Result<usize, RopeError> {
    let axes = g.axes.count();
    let coords = match positions {
        Positions::Axes(l) => Some(l.len()),
        Positions::Axes64(l) => Some(l.len()),
        _ => None,
    };
    if let Some(len) = coords {
        if axes == 1 {
            return Err(RopeError::NotMultiAxis);
        }
        if !len.is_multiple_of(axes) {
            return Err(RopeError::WrongLength {
                what: "Axes positions (a whole number of tokens)",
                expected: (len / axes + 1) * axes,
                got: len,
            });
        }
    }
    let mut tokens: Option<usize> = None;
    let list = positions.list_len(axes);
    for (t, out) in targets.iter().zip(placed.iter_mut()) {
        let n = match t.view.whole_tokens_heads() {
            // The common case, a whole [tokens, heads, head_dim] buffer, checked directly:
            // a decode step is a few hundred nanoseconds, and the general placement cost
            // a tenth of that at head_dim 64 (`cargo bench -p rope-simd-benches --bench
            // rope -- decode/f32/hd64`).
            Some(heads) if heads > 0 => {
                let row = heads
                    .checked_mul(g.head_dim)
                    .ok_or(RopeError::SizeOverflow)?;
                let rows = t.len / row;
                let n = list.unwrap_or(rows);
                if rows * row != t.len || n != rows {
                    return Err(RopeError::BufferLength {
                        what: t.what,
                        len: t.len,
                        row,
                        tokens: (rows * row == t.len).then_some(n),
                    });
                }
                *out = Placed {
                    heads,
                    base: 0,
                    token_stride: row,
                    head_stride: g.head_dim,
                };
                n
            }
            _ => {
                let w = t.view.place(t.len, g.head_dim, t.what)?;
                let n = w.tokens(list)?;
                *out = w.at;
                n
            }
        };
        match tokens {
            Some(q_tokens) if q_tokens != n => {
                return Err(RopeError::TokenMismatch {
                    what: t.what,
                    tokens: n,
                    q_tokens,
                })
            }
            _ => tokens = Some(n),
        }
    }
    let tokens = tokens.unwrap_or(0);
    positions.check_each(tokens, |p| {
        if p >= MAX_POSITION {
            Err(RopeError::PositionTooLarge { position: p })
        } else {
            src.check(p)
        }
    })?;
    Ok(tokens)
}

/// [`validate`] for the buffers of an in-place call (one or two), out of line so that its
/// frame is not part of the rotation loop's (the stack a microcontroller counts).
#[inline(never)]
fn validate_targets<const N: usize>(
    src: &dyn Runs,
    g: &Geom,
    targets: &[Target<'_>; N],
    placed: &mut [Placed; N],
    positions: &Positions<'_>,
) -> Result<usize, RopeError> {
    let dims: [Dims; N] = core::array::from_fn(|i| targets[i].dims());
    validate(src, g, &dims, placed, positions)
}

pub(crate) fn run<S: Source + ?Sized, const N: usize>(
    src: &S,
    targets: &mut [Target<'_>; N],
    positions: Positions<'_>,
    direction: Direction,
) -> Result<(), RopeError> {
    let g = src.geom();
    let mut placed = [Placed::EMPTY; N];
    let tokens = validate_targets(src.erased(), &g, targets, &mut placed, &positions)?;
    turn(src, &g, targets, &placed, tokens, positions, direction);
    Ok(())
}

/// The loop of [`run`] (and of the packed decode call, for Q), once its buffers are
/// placed. It is inlined into each caller and
/// hands the source its closure to inline: a decode step at head_dim 64 is under 200
/// nanoseconds, and calling out of line through the object-safe source made it a tenth
/// slower (`cargo bench -p rope-simd-benches --bench rope -- decode/f32/hd64`); the C and
/// wasm libraries pay for that in code (`docs/design.md`, "Code size"). Gathering goes
/// through the object-safe source, once for all.
#[inline]
pub(crate) fn turn<S: Source + ?Sized>(
    src: &S,
    g: &Geom,
    targets: &mut [Target<'_>],
    placed: &[Placed],
    tokens: usize,
    positions: Positions<'_>,
    direction: Direction,
) {
    let g = *g;
    let inverse = direction.back();
    let rescale = rescale_for(&g, direction);
    let axes = g.axes.count();
    let bytes: usize = targets.iter().map(|t| t.x.len() * t.x.elem_bytes()).sum();
    let prefetch = bytes >= PREFETCH_BYTES;
    let reorder = g.layout == PairLayout::InterleavedToHalfSplit;
    for t in 0..tokens {
        let at = positions.get(t, axes);
        // At the identity nothing turns, bit for bit (cos 1, sin 0 would turn -0.0 into
        // +0.0), but DeepSeek's reorder still happens.
        if !(at.is_zero() && g.scale == 1.0) {
            let each = |first_pair: usize, cos: &[f32], sin: &[f32]| {
                for (target, p) in targets.iter_mut().zip(placed) {
                    // A negative position turns the other way: its cos/sin transposed.
                    let span = Span {
                        prefetch,
                        inverse: inverse ^ at.negative,
                        ..span_for(&g, p.heads, p.head_stride, first_pair, cos.len(), inverse)
                    };
                    (target.kernels.rotate)(g.isa, &mut target.x, p.row(t), &span, cos, sin);
                }
            };
            if !at.multi && rescale.is_none() {
                src.for_each_run(at.coords[0], each);
            } else {
                let mut each = each;
                gathered(src.erased(), &g, &at, rescale, &mut each);
            }
        }
        for (target, p) in targets.iter_mut().zip(placed).filter(|_| reorder) {
            let rows = Rows::of(p, t, &g);
            (target.kernels.reorder)(&mut target.x, rows, g.rotary_dim, inverse);
        }
    }
}

/// Where one token's heads are in a buffer.
#[derive(Clone, Copy)]
pub(crate) struct Rows {
    pub base: usize,
    pub stride: usize,
    pub heads: usize,
}

impl Rows {
    /// The rotated channels of token `t`'s heads in a placed view.
    fn of(p: &Placed, t: usize, g: &Geom) -> Self {
        Rows {
            base: p.row(t) + g.offset,
            stride: p.head_stride,
            heads: p.heads,
        }
    }
}

/// The second half of [`PairLayout::InterleavedToHalfSplit`]: after its pairs were turned
/// in place, move each head's rotated channels from interleaved to half-split order
/// (`back == false`), or from half-split to interleaved (`back`, the inverse). In place,
/// by block rotations (`O(n log n)` moves, no scratch row on the stack).
#[inline(never)]
pub(crate) fn reorder_heads<E: Copy>(x: &mut [E], rows: Rows, rotary_dim: usize, back: bool) {
    for h in 0..rows.heads {
        let row = &mut x[rows.base + h * rows.stride..][..rotary_dim];
        if back {
            interleave(row);
        } else {
            deinterleave(row);
        }
    }
}

/// `[a0 b0 a1 b1 ..]` to `[a0 a1 .. b0 b1 ..]`: each half of the pairs separately, then
/// `[A1 B1 A2 B2]` to `[A1 A2 B1 B2]` by rotating the middle.
fn deinterleave<E>(x: &mut [E]) {
    let pairs = x.len() / 2;
    if pairs < 2 {
        return;
    }
    let h = pairs / 2;
    let (first, second) = x.split_at_mut(2 * h);
    deinterleave(first);
    deinterleave(second);
    turn_left(&mut x[h..2 * h + (pairs - h)], h);
}

/// `x.rotate_left(k)` by three reversals: a few instructions where core's rotation is
/// kilobytes per element type (the wasm module counts them).
fn turn_left<E>(x: &mut [E], k: usize) {
    x[..k].reverse();
    x[k..].reverse();
    x.reverse();
}

/// The inverse of [`deinterleave`].
fn interleave<E>(x: &mut [E]) {
    let pairs = x.len() / 2;
    if pairs < 2 {
        return;
    }
    let h = pairs / 2;
    let middle = &mut x[h..pairs + h];
    let k = middle.len() - h;
    turn_left(middle, k);
    let (first, second) = x.split_at_mut(2 * h);
    interleave(first);
    interleave(second);
}

/// Calls `f(first_pair, cos, sin)` for runs covering every pair of a token at `at`, cos
/// and sin times `factor` where there is one (the true inverse's rescale). With several
/// distinct coordinates, or a factor, each pair's cos/sin are gathered from the source at
/// its own axis's coordinate (the source computes or looks up whole rows, once per
/// distinct coordinate), and `f` gets them in one run; one gathering loop serves both, so
/// that the rescale adds no second copy of this code to every caller.
#[inline]
fn for_each_at(src: &dyn Runs, g: &Geom, at: &At, factor: Option<f32>, f: &mut RunFn<'_>) {
    if !at.multi && factor.is_none() {
        return src.runs(at.coords[0], f);
    }
    gathered(src, g, at, factor, f)
}

/// The gathering path of [`for_each_at`]: a function of its own, so that its two
/// `MAX_PAIRS` arrays take stack only in the calls that gather (on a microcontroller the
/// common path's frame is a few hundred bytes).
#[inline(never)]
fn gathered(src: &dyn Runs, g: &Geom, at: &At, factor: Option<f32>, f: &mut RunFn<'_>) {
    let pairs = g.rotary_dim / 2;
    let axes = if at.multi { g.axes.count() } else { 1 };
    let (mut cos, mut sin) = ([0.0f32; MAX_PAIRS], [0.0f32; MAX_PAIRS]);
    for a in 0..axes {
        let p = at.coords[a];
        if at.coords[..a].contains(&p) {
            continue; // gathered with an earlier axis
        }
        src.runs(p, &mut |first, c, s| {
            for (j, (&c, &s)) in c.iter().zip(s).enumerate() {
                let pair = first + j;
                if !at.multi || at.coords[g.axes.axis_of(pair, pairs)] == p {
                    cos[pair] = c;
                    sin[pair] = s;
                }
            }
        });
    }
    if let Some(k) = factor {
        cos[..pairs]
            .iter_mut()
            .chain(&mut sin[..pairs])
            .for_each(|v| *v *= k);
    }
    f(0, &cos[..pairs], &sin[..pairs]);
}

/// For the true inverse at a magnitude scale `s` other than 1, the factor `1 / s^2` that
/// turns the source's `s cos`, `s sin` into `cos / s`, `sin / s` (one more f32 rounding).
fn rescale_for(g: &Geom, direction: Direction) -> Option<f32> {
    (direction == Direction::Inverse && g.scale != 1.0).then(|| (1.0 / (g.scale * g.scale)) as f32)
}

/// From this many bytes of rotated output in one out-of-place call, the kernels write it
/// with non-temporal stores (16-bit destinations, AVX2 and AVX-512): half the size of
/// the largest last-level caches of the CPUs they run on, so that output would mostly
/// leave the cache before a runtime reads it back, and writing it around the cache saves
/// reading every destination line first (`docs/design.md`, "Streaming stores"; run
/// `cargo bench -p rope-simd-benches --bench rope -- fused` to see).
#[cfg(not(fuzzing))]
pub(crate) const STREAM_BYTES: usize = 16 << 20;
/// In fuzzing builds (`--cfg fuzzing`, which cargo-fuzz sets) from 16 KiB, so that inputs
/// of fuzzing size reach the streaming kernels; no value depends on it.
#[cfg(fuzzing)]
pub(crate) const STREAM_BYTES: usize = 16 << 10;

/// An out-of-place write: `input`'s tokens (where `from` places them) rotated, or with
/// `copy_only` just converted, into `dst` (where `to` places them). The element types are
/// values and the kernels come with them (`any_slice.rs`): this path is compiled once for
/// all nine pairs.
pub(crate) struct Into<'i, 'd> {
    pub input: AnySlice<'i>,
    pub from: Placed,
    pub dst: AnySliceMut<'d>,
    pub to: Placed,
    pub copy_only: bool,
    pub kernels: &'static OutOfPlace,
}

/// Place a destination view for `tokens` tokens from a source of `heads` heads.
pub(crate) fn place_dst(
    view: View,
    len: usize,
    g: &Geom,
    what: &'static str,
    heads: usize,
    tokens: usize,
) -> Result<Placed, RopeError> {
    let to = view.place(len, g.head_dim, what)?;
    if to.at.heads != heads {
        return Err(RopeError::HeadMismatch {
            what,
            heads: to.at.heads,
            expected: heads,
        });
    }
    to.fits(tokens)?;
    Ok(to.at)
}

/// [`Rotate::rotate_into`](crate::Rotate::rotate_into) and `apply_into`: validate, then
/// write.
pub(crate) fn into(
    src: &dyn Runs,
    (input, src_view): (AnySlice<'_>, View),
    (dst, dst_view): (AnySliceMut<'_>, View),
    kernels: &'static OutOfPlace,
    positions: Positions<'_>,
    direction: Direction,
) -> Result<(), RopeError> {
    let g = src.dims();
    let dims = Dims {
        view: src_view,
        len: input.len(),
        what: "src",
    };
    let mut from = [Placed::EMPTY];
    let tokens = validate(src, &g, &[dims], &mut from, &positions)?;
    let to = place_dst(dst_view, dst.len(), &g, "dst", from[0].heads, tokens)?;
    let w = Into {
        input,
        from: from[0],
        dst,
        to,
        copy_only: false,
        kernels,
    };
    into_unchecked(src, w, tokens, positions, direction, None);
    Ok(())
}

/// Write `w` for `tokens` tokens; with `also`, rotate that buffer's heads of each token in
/// place with the same cos/sin (a decode step's Q beside its K), so that they are had once.
/// Everything was validated by the caller.
pub(crate) fn into_unchecked(
    src: &dyn Runs,
    w: Into<'_, '_>,
    tokens: usize,
    positions: Positions<'_>,
    direction: Direction,
    mut also: Option<(AnySliceMut<'_>, Placed)>,
) {
    let Into {
        input,
        from,
        mut dst,
        to,
        copy_only,
        kernels: k,
    } = w;
    let g = src.dims();
    let (hd, rot) = (g.head_dim, g.rotary_dim);
    // Rotated channels this call writes, in bytes: past `STREAM_BYTES` the output is
    // written with streaming stores where the kernels can.
    let stream = tokens
        .saturating_mul(from.heads)
        .saturating_mul(rot)
        .saturating_mul(dst.elem_bytes())
        >= STREAM_BYTES;
    let axes = g.axes.count();
    let inverse = direction.back();
    let rescale = rescale_for(&g, direction);
    let reorder = g.layout == PairLayout::InterleavedToHalfSplit;
    for t in 0..tokens {
        let at = positions.get(t, axes);
        let (base, dst_base) = (from.row(t), to.row(t));
        // Channels that are only converted: those before and after the rotated ones, or
        // all of them at the identity.
        let identity = copy_only || (at.is_zero() && g.scale == 1.0);
        let (before, after) = if identity {
            (0..hd, hd..hd)
        } else {
            (0..g.offset, g.offset + rot..hd)
        };
        if !(before.is_empty() && after.is_empty()) {
            let heads = (from.heads, from.head_stride, to.head_stride);
            let rows = (&input, base, &mut dst, dst_base);
            k.convert_heads(g.isa, rows, heads, [before, after]);
        }
        let turn = |heads, stride, first, n| Span {
            inverse: inverse ^ at.negative,
            ..span_for(&g, heads, stride, first, n, inverse)
        };
        if !identity {
            for_each_at(src, &g, &at, rescale, &mut |first, cos, sin| {
                let span = Span {
                    stream,
                    ..turn(from.heads, from.head_stride, first, cos.len())
                };
                (k.rotate_into)(
                    g.isa,
                    (&input, base),
                    (&mut dst, dst_base),
                    &span,
                    to.head_stride,
                    cos,
                    sin,
                );
                if let Some((q, p)) = also.as_mut() {
                    let span = turn(p.heads, p.head_stride, first, cos.len());
                    (k.src.rotate)(g.isa, q, p.row(t), &span, cos, sin);
                }
            });
        }
        if reorder && !copy_only {
            (k.dst.reorder)(&mut dst, Rows::of(&to, t, &g), rot, inverse);
            if let Some((q, p)) = also.as_mut() {
                (k.src.reorder)(q, Rows::of(p, t, &g), rot, inverse);
            }
        }
    }
    if stream {
        crate::backend::stream_fence();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rope;

    /// `validate`'s direct check of a whole `[tokens, heads, head_dim]` buffer gives what
    /// the general placement gives: the same tokens and offsets, or the same error.
    #[test]
    fn the_fast_path_places_as_the_general_one() {
        let rope = Rope::new(8, 10_000.0, crate::config::PairLayout::HalfSplit).unwrap();
        let g = rope.dims();
        let lists: [&[u32]; 3] = [&[], &[1, 2], &[1, 2, 3]];
        for heads in 0..4 {
            for len in [0, 7, 8, 16, 24, 48, 50, 96] {
                for list in [None, Some(0), Some(1), Some(2)] {
                    let positions = match list {
                        None => Positions::Start(3),
                        Some(i) => Positions::List(lists[i]),
                    };
                    let view = View::tokens_heads(heads);
                    let dims = [Dims {
                        view,
                        len,
                        what: "x",
                    }];
                    let mut fast = [Placed::EMPTY];
                    let got = validate(&rope, &g, &dims, &mut fast, &positions);
                    let general = view.place(len, g.head_dim, "x").and_then(|w| {
                        let n = w.tokens(positions.list_len(1))?;
                        Ok((n, w.at))
                    });
                    match (got, general) {
                        (Ok(n), Ok((m, at))) => {
                            assert_eq!(n, m, "{heads} heads, len {len}, {list:?}");
                            let f = fast[0];
                            assert_eq!(
                                (f.heads, f.base, f.token_stride, f.head_stride),
                                (at.heads, at.base, at.token_stride, at.head_stride)
                            );
                        }
                        (Err(a), Err(b)) => assert_eq!(a, b, "{heads} heads, len {len}"),
                        (a, b) => panic!("{heads} heads, len {len}, {list:?}: {a:?} vs {b:?}"),
                    }
                }
            }
        }
    }
}
