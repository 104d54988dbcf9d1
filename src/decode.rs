//! The decode step in one call: Q rotated in place, K rotated into its cache and V copied
//! into its cache, converting to the cache's element type, with each token's cos/sin had
//! once for Q and K.

use crate::driver::{into_unchecked, validate, Dims, Into, Target};
use crate::element::Element;
use crate::error::RopeError;
use crate::positions::Positions;
use crate::rotate::{Direction, Shape};
use crate::shape::Slot;
use crate::source::Source;

/// Head counts of a grouped-query attention step: `q` query heads, `kv` key and value
/// heads (`q` a multiple of `kv` in real models; not required here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Heads {
    /// Query heads per token.
    pub q: usize,
    /// Key (and value) heads per token.
    pub kv: usize,
}

/// Where a decode step writes K and V: the two caches, laid out alike, and the slot of
/// the step's tokens in them.
#[derive(Debug)]
pub struct KvCache<'a, D> {
    /// The key cache.
    pub k: &'a mut [D],
    /// The value cache.
    pub v: &'a mut [D],
    /// Where the step's tokens go, in both.
    pub slot: Slot,
}

/// See [`Rotate::rotate_decode`](crate::Rotate::rotate_decode).
pub(crate) fn decode<Src: Source + ?Sized, S: Element, D: Element>(
    src: &Src,
    q: &mut [S],
    k: &[S],
    v: &[S],
    heads: Heads,
    cache: KvCache<'_, D>,
    positions: Positions<'_>,
) -> Result<(), RopeError> {
    let g = src.geom();
    let q_dims = Dims::shape(q.len(), Shape::tokens_heads(heads.q), "q");
    let k_dims = Dims::shape(k.len(), Shape::tokens_heads(heads.kv), "k");
    let v_dims = Dims::shape(v.len(), Shape::tokens_heads(heads.kv), "v");
    let tokens = validate(src, &g, &[q_dims, k_dims, v_dims], &positions)?;
    cache
        .slot
        .check(tokens, heads.kv, g.head_dim, cache.k.len())?;
    cache
        .slot
        .check(tokens, heads.kv, g.head_dim, cache.v.len())?;
    // Everything is valid: write. V is only converted.
    let v_write = Into {
        input: v,
        dims: v_dims,
        dst: cache.v,
        slot: cache.slot,
        copy_only: true,
    };
    into_unchecked(src, v_write, tokens, positions, Direction::Forward, None);
    let k_write = Into {
        input: k,
        dims: k_dims,
        dst: cache.k,
        slot: cache.slot,
        copy_only: false,
    };
    let mut q = Target::new(q, Shape::tokens_heads(heads.q), "q");
    into_unchecked(
        src,
        k_write,
        tokens,
        positions,
        Direction::Forward,
        Some(&mut q),
    );
    Ok(())
}
