//! The decode step in one call: Q rotated in place, K rotated into its cache and V copied
//! into its cache, converting to the cache's element type, with each token's cos/sin had
//! once for Q and K; and its packed-QKV form.

use crate::any_slice::{AnySlice, AnySliceMut, OutOfPlace};
use crate::driver::{into_unchecked, place_dst, turn, validate, Dims, Into, Target};
use crate::element::Element;
use crate::error::RopeError;
use crate::positions::Positions;
use crate::shape::{Direction, Heads, Placed, View};
use crate::source::Runs;

/// Where a step writes K and V: the two caches, laid out alike, and the view of the
/// step's tokens in them (usually a window: [`View::at`]).
#[derive(Debug)]
pub struct KvCache<'a, D> {
    /// The key cache.
    pub k: &'a mut [D],
    /// The value cache.
    pub v: &'a mut [D],
    /// Where the step's tokens go, in both (its head count is the KV heads').
    pub view: View,
}

/// A [`KvCache`] with its element type a value: the calls below are compiled once for
/// every pair of element types (`any_slice.rs`).
pub(crate) struct AnyCache<'a> {
    k: AnySliceMut<'a>,
    v: AnySliceMut<'a>,
    view: View,
}

impl<'a, D: Element> From<KvCache<'a, D>> for AnyCache<'a> {
    fn from(c: KvCache<'a, D>) -> Self {
        AnyCache {
            k: AnySliceMut::of(c.k),
            v: AnySliceMut::of(c.v),
            view: c.view,
        }
    }
}

/// The Q, K and V views of a packed buffer, after checking the head counts.
pub(crate) fn packed_views(heads: Heads) -> Result<[View; 3], RopeError> {
    if heads.q == 0 || heads.kv == 0 {
        let what = if heads.q == 0 { "q_heads" } else { "kv_heads" };
        return Err(RopeError::ZeroHeads { what });
    }
    heads
        .kv
        .checked_mul(2)
        .and_then(|kv| kv.checked_add(heads.q))
        .ok_or(RopeError::SizeOverflow)?;
    Ok(View::packed_qkv(heads))
}

/// See [`Rotate::rotate_decode`](crate::Rotate::rotate_decode).
/// `q`, `k` and `v` are of one element type and the caches of another, those `kernels`
/// are for.
pub(crate) fn decode(
    src: &dyn Runs,
    [q]: [AnySliceMut<'_>; 1],
    [k, v]: [AnySlice<'_>; 2],
    heads: Heads,
    cache: AnyCache<'_>,
    kernels: &'static OutOfPlace,
    positions: Positions<'_>,
) -> Result<(), RopeError> {
    let g = src.dims();
    let dims = |view, len, what| Dims { view, len, what };
    let (qv, kv) = (View::tokens_heads(heads.q), View::tokens_heads(heads.kv));
    let all = [
        dims(qv, q.len(), "q"),
        dims(kv, k.len(), "k"),
        dims(kv, v.len(), "v"),
    ];
    let mut placed = [Placed::EMPTY; 3];
    let tokens = validate(src, &g, &all, &mut placed, &positions)?;
    let [q_at, k_at, v_at] = placed;
    let k_to = place_dst(cache.view, cache.k.len(), &g, "k_cache", heads.kv, tokens)?;
    let v_to = place_dst(cache.view, cache.v.len(), &g, "v_cache", heads.kv, tokens)?;
    // Everything is valid: write. V is only converted.
    let v_write = Into {
        input: v,
        from: v_at,
        dst: cache.v,
        to: v_to,
        copy_only: true,
        kernels,
    };
    into_unchecked(src, v_write, tokens, positions, Direction::Forward, None);
    let k_write = Into {
        input: k,
        from: k_at,
        dst: cache.k,
        to: k_to,
        copy_only: false,
        kernels,
    };
    let also = Some((q, q_at));
    into_unchecked(src, k_write, tokens, positions, Direction::Forward, also);
    Ok(())
}

/// See [`Rotate::rotate_packed_qkv_into`](crate::Rotate::rotate_packed_qkv_into).
pub(crate) fn packed_into(
    src: &dyn Runs,
    qkv: AnySliceMut<'_>,
    heads: Heads,
    cache: AnyCache<'_>,
    kernels: &'static OutOfPlace,
    positions: Positions<'_>,
) -> Result<(), RopeError> {
    let g = src.dims();
    let views = packed_views(heads)?;
    let all = views.map(|view| Dims {
        view,
        len: qkv.len(),
        what: "qkv",
    });
    let mut placed = [Placed::EMPTY; 3];
    let tokens = validate(src, &g, &all, &mut placed, &positions)?;
    let [q_at, k_at, v_at] = placed;
    let k_to = place_dst(cache.view, cache.k.len(), &g, "k_cache", heads.kv, tokens)?;
    let v_to = place_dst(cache.view, cache.v.len(), &g, "v_cache", heads.kv, tokens)?;
    // Everything is valid: write K and V from their places in each row, then turn Q.
    for (from, dst, to, copy_only) in [(k_at, cache.k, k_to, false), (v_at, cache.v, v_to, true)] {
        let w = Into {
            input: qkv.as_slice(),
            from,
            dst,
            to,
            copy_only,
            kernels,
        };
        into_unchecked(src, w, tokens, positions, Direction::Forward, None);
    }
    // Q was placed and the positions checked above: turn it without validating again.
    let mut q = [Target {
        x: qkv,
        kernels: kernels.src,
        view: views[0],
        what: "qkv",
    }];
    turn(
        src,
        &g,
        &mut q,
        &[q_at],
        tokens,
        positions,
        Direction::Forward,
    );
    Ok(())
}
