//! The user-facing operations, shared by every sin/cos source: the [`Rotate`] trait and
//! the types its calls take. `driver.rs` carries them out.

use crate::any_slice::{AnySlice, AnySliceMut, InPlace, OutOfPlace};
use crate::config::PairLayout;
use crate::decode::KvCache;
use crate::driver::{into, reorder_heads, run, span_for, Rows, Target};
use crate::element::Element;
use crate::error::RopeError;
pub use crate::positions::Positions;
pub use crate::shape::{Direction, Heads, View};
use crate::source::Source;

/// The rotations, available on every sin/cos source: [`Rope`](crate::Rope) (computed on
/// the fly) and [`CosSinTable`](crate::CosSinTable). Both give the same bits.
///
/// Each call validates all its input first; on `Err` the buffers are untouched.
///
/// The `rotate*` calls turn forward (the embedding) on the common layouts; the `apply*`
/// calls take any [`View`] and a [`Direction`] (the true inverse, or the transpose a
/// backward pass needs).
pub trait Rotate: Source + Sized {
    /// Rotate a `[tokens, heads, head_dim]` buffer in place.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(4, 10_000.0, PairLayout::Interleaved)?;
    /// let mut x = [1.0f32, 0.0, 1.0, 0.0]; // one token, one head
    /// rope.rotate(&mut x, 1, Positions::Start(1))?;
    /// assert_eq!(x[0], 1.0f64.cos() as f32); // pair 0 turns by 1 radian
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::ZeroHeads`]; [`RopeError::BufferLength`] if `x.len()` is not a multiple
    /// of `heads * head_dim` (or not `positions * heads * head_dim` for a list);
    /// [`RopeError::PositionTooLarge`], [`RopeError::PositionOutOfTable`];
    /// [`RopeError::SizeOverflow`].
    fn rotate<E: Element>(
        &self,
        x: &mut [E],
        heads: usize,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        self.apply(x, View::tokens_heads(heads), positions, Direction::Forward)
    }

    /// The true inverse of [`Rotate::rotate`] ([`Direction::Inverse`]): by
    /// `-position * theta`, divided by the magnitude scale, so that `rotate_inverse` after
    /// `rotate` at the same positions gives the input back (within the rounding bound) for
    /// any scale. For the backward pass's transpose, use [`Rotate::apply`] with
    /// [`Direction::Transpose`].
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate, Scaling, Yarn};
    /// // YaRN's attention factor (1.139 here) scales cos and sin.
    /// let rope = Rope::builder(8).scaling(Scaling::Yarn(Yarn::new(4.0, 64))).build()?;
    /// let mut x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    /// rope.rotate(&mut x, 1, Positions::Start(9))?;
    /// rope.rotate_inverse(&mut x, 1, Positions::Start(9))?;
    /// assert!((x[7] - 8.0).abs() < 1e-5);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate`].
    fn rotate_inverse<E: Element>(
        &self,
        x: &mut [E],
        heads: usize,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        self.apply(x, View::tokens_heads(heads), positions, Direction::Inverse)
    }

    /// Rotate one step's Q and K (`[tokens, q_heads, head_dim]` and
    /// `[tokens, k_heads, head_dim]`; GQA head counts may differ), computing each token's
    /// cos/sin once for both.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let (mut q, mut k) = (vec![0.5f32; 32 * 128], vec![0.5f32; 8 * 128]); // one token
    /// rope.rotate_qk(&mut q, 32, &mut k, 8, Positions::Start(4096))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate`] for each buffer, and [`RopeError::TokenMismatch`] if Q and K
    /// hold different numbers of tokens.
    fn rotate_qk<E: Element>(
        &self,
        q: &mut [E],
        q_heads: usize,
        k: &mut [E],
        k_heads: usize,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        self.apply_qk(
            q,
            View::tokens_heads(q_heads),
            k,
            View::tokens_heads(k_heads),
            positions,
            Direction::Forward,
        )
    }

    /// The general form of [`Rotate::rotate`]: any [`View`] (a `[heads, tokens, head_dim]`
    /// buffer, a window of a cache, a strided tensor) and [`Direction`].
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut cache = vec![0.25f32; 8 * 100 * 64]; // [heads=8, tokens=100, 64]
    /// rope.apply(&mut cache, View::heads_tokens(8), Positions::Start(0), Direction::Forward)?;
    /// // Rows 90..100 of it turned back (the true inverse):
    /// rope.apply(&mut cache, View::heads_tokens(8).at(90), Positions::Start(90), Direction::Inverse)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate`]; [`RopeError::BadView`] for a view that cannot describe `x`,
    /// [`RopeError::NoRoom`] for a window past its end.
    fn apply<E: Element>(
        &self,
        x: &mut [E],
        view: View,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError> {
        run(self, &mut [Target::new(x, view, "x")], positions, direction)
    }

    /// The general form of [`Rotate::rotate_qk`]: any [`View`]s and [`Direction`].
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// // Q by token, K in a [heads, tokens, dim] layout; 2 tokens.
    /// let (mut q, mut k) = (vec![0.5f32; 2 * 8 * 64], vec![0.5f32; 2 * 2 * 64]);
    /// rope.apply_qk(&mut q, View::tokens_heads(8), &mut k, View::heads_tokens(2),
    ///               Positions::Start(30), Direction::Forward)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate_qk`] and [`Rotate::apply`].
    fn apply_qk<E: Element>(
        &self,
        q: &mut [E],
        q_view: View,
        k: &mut [E],
        k_view: View,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError> {
        run(
            self,
            &mut [Target::new(q, q_view, "q"), Target::new(k, k_view, "k")],
            positions,
            direction,
        )
    }

    /// Rotate the Q and K parts of a packed QKV buffer in place, as a fused QKV
    /// projection produces it: `[tokens, (q + 2 kv) heads, head_dim]`, each token's row
    /// holding its Q heads, then its K heads, then its V heads ([`View::packed_qkv`]). V is
    /// left untouched. (Q and K are adjacent in each row: another direction is
    /// [`Rotate::apply`] with `View::in_rows(q + kv, q + 2 * kv, 0)`.)
    ///
    /// ```
    /// use rope_simd::{Heads, PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let heads = Heads { q: 8, kv: 2 };
    /// let mut qkv = vec![0.5f32; 3 * (8 + 2 * 2) * 64]; // 3 tokens
    /// rope.rotate_packed_qkv(&mut qkv, heads, Positions::Start(10))?;
    /// assert_eq!(qkv[(8 + 2) * 64], 0.5); // V untouched
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::ZeroHeads`] if `heads.q` or `heads.kv` is 0; otherwise as
    /// [`Rotate::rotate`], with the row `(q + 2 kv) * head_dim`.
    fn rotate_packed_qkv<E: Element>(
        &self,
        qkv: &mut [E],
        heads: Heads,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        let [q, k, _] = crate::decode::packed_views(heads)?;
        let qk = View::in_rows(q.heads() + k.heads(), q.heads() + 2 * k.heads(), 0);
        run(
            self,
            &mut [Target::new(qkv, qk, "qkv")],
            positions,
            Direction::Forward,
        )
    }

    /// Rotate a part of a larger call: `part` holds tokens `first_token..` (whole token
    /// rows of `[tokens, heads, head_dim]`) of a call whose positions are `positions`. The
    /// result is what [`Rotate::apply`] on the whole buffer gives those rows, bit for bit,
    /// so a runtime's own thread pool can split a prefill by tokens (`chunks_mut`) with no
    /// allocation. (A `[heads, tokens, head_dim]` buffer splits by heads instead: each
    /// head's block is a call of its own with the same positions.)
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let (tokens, heads) = (10, 4);
    /// let mut x = vec![0.5f32; tokens * heads * 64];
    /// let positions = Positions::Start(100);
    /// // Two workers, 5 tokens each (here one after the other):
    /// for (i, part) in x.chunks_mut(5 * heads * 64).enumerate() {
    ///     rope.apply_tokens(part, heads, positions, i * 5, Direction::Forward)?;
    /// }
    /// let mut whole = vec![0.5f32; tokens * heads * 64];
    /// rope.rotate(&mut whole, heads, positions)?;
    /// assert_eq!(x, whole);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate`] for `part`; [`RopeError::TokenRange`] if a position list does
    /// not cover the part's tokens.
    fn apply_tokens<E: Element>(
        &self,
        part: &mut [E],
        heads: usize,
        positions: Positions<'_>,
        first_token: usize,
        direction: Direction,
    ) -> Result<(), RopeError> {
        let part = (AnySliceMut::of(part), InPlace::of::<E>());
        apply_tokens(self, part, heads, positions, first_token, direction)
    }

    /// [`Rotate::apply`] split over rayon's thread pool (feature `rayon`): by tokens for
    /// [`View::tokens_heads`], by heads for [`View::heads_tokens`] (other views run on the
    /// calling thread). The same bits as `apply`; everything is validated before any
    /// thread writes.
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let mut q = vec![0.5f32; 512 * 32 * 128];
    /// rope.par_apply(&mut q, View::tokens_heads(32), Positions::Start(0), Direction::Forward)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::apply`].
    #[cfg(feature = "rayon")]
    fn par_apply<E: Element + Send>(
        &self,
        x: &mut [E],
        view: View,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError>
    where
        Self: Sync,
    {
        use rayon::prelude::*;
        let g = self.geom();
        let dims = crate::driver::Dims {
            view,
            len: x.len(),
            what: "x",
        };
        let mut placed = [crate::shape::Placed::EMPTY];
        let tokens = crate::driver::validate(self, &g, &[dims], &mut placed, &positions)?;
        let heads = view.heads();
        if tokens == 0 {
            Ok(())
        } else if view == View::tokens_heads(heads) {
            // A few chunks per thread, for balance; at least 16 tokens each.
            let per = tokens.div_ceil(4 * rayon::current_num_threads()).max(16);
            x.par_chunks_mut(per * placed[0].token_stride)
                .enumerate()
                .try_for_each(|(i, part)| {
                    self.apply_tokens(part, heads, positions, i * per, direction)
                })
        } else if view == View::heads_tokens(heads) {
            x.par_chunks_mut(placed[0].head_stride)
                .try_for_each(|head| self.apply(head, View::heads_tokens(1), positions, direction))
        } else {
            self.apply(x, view, positions, direction)
        }
    }

    /// Rotate `src` and write the result into `dst`, in one pass, converting the element
    /// type (f32 activations into an f16 cache, say); `dst_view` is usually a window of a
    /// cache ([`View::at`]: the call's tokens from that row on), `src_view` any view
    /// (the K part of a packed QKV buffer, say). `src` is not modified. Each value is
    /// rotated in f32 and rounded once to `D`: the in-place result converted to `D`
    /// whenever `D` is no wider than `S` (the same bits; channels past `rotary_dim` are
    /// converted too).
    ///
    /// A call whose rotated output is 16 MiB or more (a long prefill into an f16 or bf16
    /// cache) is written with non-temporal stores on the AVX2 and AVX-512 backends, where
    /// the destination's rows are 16-byte aligned: output that size would mostly leave the
    /// cache before it is read anyway, and bypassing the cache spares reading each
    /// destination line first. The bits are the same; the call returns after an `sfence`,
    /// so the writes are ordered like any other.
    ///
    /// ```
    /// use rope_simd::{f16, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let k = vec![0.5f32; 4 * 8 * 128];                   // 4 new tokens, 8 KV heads
    /// let mut cache = vec![f16::ZERO; 4096 * 8 * 128];     // [capacity, heads, dim]
    /// let slot = View::tokens_heads(8).at(100);            // rows 100..104
    /// rope.rotate_into(&k, View::tokens_heads(8), &mut cache, slot, Positions::Start(100))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::apply`] for `src` and for `dst`'s view; [`RopeError::HeadMismatch`] if
    /// the views' head counts differ; [`RopeError::NoRoom`] if the window has no room for
    /// the tokens. On error `dst` is untouched.
    fn rotate_into<S: Element, D: Element>(
        &self,
        src: &[S],
        src_view: View,
        dst: &mut [D],
        dst_view: View,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        self.apply_into(src, src_view, dst, dst_view, positions, Direction::Forward)
    }

    /// The general form of [`Rotate::rotate_into`]: any [`Direction`].
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let grad = vec![0.5f32; 2 * 4 * 64]; // a backward pass: the transpose, out of place
    /// let mut out = vec![0.0f32; 2 * 4 * 64];
    /// let v = View::tokens_heads(4);
    /// rope.apply_into(&grad, v, &mut out, v, Positions::Start(7), Direction::Transpose)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate_into`].
    fn apply_into<S: Element, D: Element>(
        &self,
        src: &[S],
        src_view: View,
        dst: &mut [D],
        dst_view: View,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError> {
        into(
            self,
            (AnySlice::of(src), src_view),
            (AnySliceMut::of(dst), dst_view),
            OutOfPlace::of::<S, D>(),
            positions,
            direction,
        )
    }

    /// [`Rotate::rotate_packed_qkv`] fused with the KV-cache write: rotate Q in place,
    /// write the rotated K into `cache.k` and V (unrotated) into `cache.v`, converting to
    /// the caches' element type, in one call. K in `qkv` is left as it was (the cache
    /// holds the rotated copy; not writing it back saves a pass).
    ///
    /// ```
    /// use rope_simd::{bf16, Heads, KvCache, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let (heads, tokens) = (Heads { q: 8, kv: 2 }, 3);
    /// let mut qkv = vec![0.5f32; tokens * (8 + 2 * 2) * 64];
    /// let (mut k, mut v) = (vec![bf16::ZERO; 1024 * 2 * 64], vec![bf16::ZERO; 1024 * 2 * 64]);
    /// let cache = KvCache { k: &mut k, v: &mut v, view: View::tokens_heads(2).at(40) };
    /// rope.rotate_packed_qkv_into(&mut qkv, heads, cache, Positions::Start(40))?;
    /// assert_eq!(v[40 * 2 * 64], bf16::from_f32(0.5));
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate_packed_qkv`]; as [`Rotate::rotate_into`] for the caches' view.
    /// On error nothing is written.
    fn rotate_packed_qkv_into<S: Element, D: Element>(
        &self,
        qkv: &mut [S],
        heads: Heads,
        cache: KvCache<'_, D>,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        let (qkv, kernels) = (AnySliceMut::of(qkv), OutOfPlace::of::<S, D>());
        crate::decode::packed_into(self, qkv, heads, cache.into(), kernels, positions)
    }

    /// A decode (or prefill) step in one call: rotate `q` (`[tokens, heads.q, head_dim]`)
    /// in place, rotate `k` (`[tokens, heads.kv, head_dim]`) into `cache.k` and copy `v`
    /// into `cache.v` where `cache.view` says, converting to the caches' element type (f32
    /// activations into an f16 cache, say). Each token's cos/sin are had once for Q and K;
    /// the bits are those of [`Rotate::rotate`] on `q` and [`Rotate::rotate_into`] of `k`.
    /// `k` and `v` are not modified.
    ///
    /// ```
    /// use rope_simd::{f16, Heads, KvCache, PairLayout, Positions, Rope, Rotate, View};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let heads = Heads { q: 32, kv: 8 };
    /// let mut q = vec![0.5f32; 32 * 128];
    /// let (k, v) = (vec![0.25f32; 8 * 128], vec![1.0f32; 8 * 128]);
    /// let (mut k_cache, mut v_cache) = (vec![f16::ZERO; 4096 * 8 * 128], vec![f16::ZERO; 4096 * 8 * 128]);
    /// let view = View::tokens_heads(8).at(100); // this token's row: 100
    /// let cache = KvCache { k: &mut k_cache, v: &mut v_cache, view };
    /// rope.rotate_decode(&mut q, &k, &v, heads, cache, Positions::Start(100))?;
    /// assert_eq!(v_cache[100 * 8 * 128], f16::ONE);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate_qk`] for `q` and `k` (and `v`, which must match `k`); as
    /// [`Rotate::rotate_into`] for the caches' view. On error nothing is written.
    fn rotate_decode<S: Element, D: Element>(
        &self,
        q: &mut [S],
        k: &[S],
        v: &[S],
        heads: Heads,
        cache: KvCache<'_, D>,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        let (q, k, v) = (AnySliceMut::of(q), AnySlice::of(k), AnySlice::of(v));
        let kernels = OutOfPlace::of::<S, D>();
        crate::decode::decode(self, [q], [k, v], heads, cache.into(), kernels, positions)
    }

    /// The low-level entry for runtimes that bring their own cos/sin (as candle and vLLM
    /// pass a cos/sin cache): rotate one head vector, or several contiguous head vectors
    /// sharing one position, by `cos[i]`, `sin[i]` for pair `i` (`rotary_dim/2` of each).
    ///
    /// This is the kernel the other calls use, with the same speed and bits; it uses this
    /// source's dimensions, layout and backend but not its frequencies, scale or table.
    /// Negate `sin` for the inverse rotation.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope, Rotate};
    /// let rope = Rope::new(4, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut heads = [1.0f32, 2.0, 3.0, 4.0, /* head 2 */ 1.0, 2.0, 3.0, 4.0];
    /// rope.rotate_with_cos_sin(&mut heads, &[0.0, 1.0], &[1.0, 0.0])?;
    /// assert_eq!(heads[..4], [-3.0, 2.0, 1.0, 4.0]); // pair 0 (x0, x2) turned by 90 degrees
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::BufferLength`] if `heads.len()` is not a multiple of `head_dim`;
    /// [`RopeError::WrongLength`] if `cos` or `sin` does not hold `rotary_dim/2` values.
    fn rotate_with_cos_sin<E: Element>(
        &self,
        heads: &mut [E],
        cos: &[f32],
        sin: &[f32],
    ) -> Result<(), RopeError> {
        let g = self.geom();
        let pairs = g.rotary_dim / 2;
        if !heads.len().is_multiple_of(g.head_dim) {
            return Err(RopeError::BufferLength {
                what: "heads",
                len: heads.len(),
                row: g.head_dim,
                tokens: None,
            });
        }
        crate::error::check_len("cos", pairs, cos.len())?;
        crate::error::check_len("sin", pairs, sin.len())?;
        let rows = heads.len() / g.head_dim;
        let span = span_for(&g, rows, g.head_dim, 0, pairs, false);
        g.isa.rotate(heads, &span, cos, sin);
        if g.layout == PairLayout::InterleavedToHalfSplit {
            let rows = Rows {
                base: g.offset,
                stride: g.head_dim,
                heads: rows,
            };
            reorder_heads(heads, rows, g.rotary_dim, false);
        }
        Ok(())
    }
}

impl<T: Source> Rotate for T {}

/// [`Rotate::apply_tokens`], once per source for every element type.
fn apply_tokens<S: Source>(
    src: &S,
    (part, kernels): (AnySliceMut<'_>, &'static InPlace),
    heads: usize,
    positions: Positions<'_>,
    first_token: usize,
    direction: Direction,
) -> Result<(), RopeError> {
    let g = src.geom();
    let row = heads
        .checked_mul(g.head_dim)
        .ok_or(RopeError::SizeOverflow)?;
    if heads == 0 {
        return Err(RopeError::ZeroHeads { what: "heads" });
    }
    if !part.len().is_multiple_of(row) {
        return Err(RopeError::BufferLength {
            what: "part",
            len: part.len(),
            row,
            tokens: None,
        });
    }
    let n = part.len() / row;
    let sub = positions.tokens(first_token, n, g.axes.count())?;
    let view = View::tokens_heads(heads);
    let mut x = [Target {
        x: part,
        kernels,
        view,
        what: "x",
    }];
    run(src, &mut x, sub, direction)
}
