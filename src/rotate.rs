//! The user-facing operations, shared by every sin/cos source: the [`Rotate`] trait and
//! the types its calls take. `driver.rs` carries them out.

use crate::config::PairLayout;
use crate::driver::{
    into_unchecked, reorder_heads, run, span_for, validate, Dims, Into, Kind, Rows, Target,
};
use crate::element::Element;
use crate::error::RopeError;
pub use crate::positions::Positions;
pub use crate::shape::{Direction, Order, Shape, Slot};
use crate::source::Source;

/// The rotations, available on every sin/cos source: [`Rope`](crate::Rope) (computed on
/// the fly) and [`CosSinTable`](crate::CosSinTable). Both give the same bits.
///
/// Each call validates all its input first; on `Err` the buffers are untouched.
pub trait Rotate: Source {
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
        self.apply(x, Shape::tokens_heads(heads), positions, Direction::Forward)
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
        self.apply(x, Shape::tokens_heads(heads), positions, Direction::Inverse)
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
            Shape::tokens_heads(q_heads),
            k,
            Shape::tokens_heads(k_heads),
            positions,
            Direction::Forward,
        )
    }

    /// The general form of [`Rotate::rotate`]: any [`Shape`] and [`Direction`].
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, Shape};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut cache = vec![0.25f32; 8 * 100 * 64]; // [heads=8, tokens=100, 64]
    /// rope.apply(&mut cache, Shape::heads_tokens(8), Positions::Start(0), Direction::Forward)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate`].
    fn apply<E: Element>(
        &self,
        x: &mut [E],
        shape: Shape,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError> {
        run(
            self,
            &mut [Target::new(x, shape, "x")],
            positions,
            direction,
        )
    }

    /// The general form of [`Rotate::rotate_qk`]: any [`Shape`]s and [`Direction`].
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, Shape};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// // Q by token, K in a [heads, tokens, dim] cache layout; 2 tokens.
    /// let (mut q, mut k) = (vec![0.5f32; 2 * 8 * 64], vec![0.5f32; 2 * 2 * 64]);
    /// rope.apply_qk(&mut q, Shape::tokens_heads(8), &mut k, Shape::heads_tokens(2),
    ///               Positions::Start(30), Direction::Forward)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate_qk`].
    fn apply_qk<E: Element>(
        &self,
        q: &mut [E],
        q_shape: Shape,
        k: &mut [E],
        k_shape: Shape,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError> {
        run(
            self,
            &mut [Target::new(q, q_shape, "q"), Target::new(k, k_shape, "k")],
            positions,
            direction,
        )
    }

    /// Rotate the Q and K parts of a packed QKV buffer in place, as a fused QKV
    /// projection produces it: `[tokens, (q_heads + 2 * kv_heads) * head_dim]`, each token's
    /// row holding its Q heads, then its K heads, then its V heads. V is left untouched.
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let (q_heads, kv_heads) = (8, 2);
    /// let mut qkv = vec![0.5f32; 3 * (q_heads + 2 * kv_heads) * 64]; // 3 tokens
    /// rope.rotate_packed_qkv(&mut qkv, q_heads, kv_heads, Positions::Start(10), Direction::Forward)?;
    /// assert_eq!(qkv[(q_heads + kv_heads) * 64], 0.5); // V untouched
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::ZeroHeads`] if `q_heads` or `kv_heads` is 0; otherwise as
    /// [`Rotate::rotate`], with the row `(q_heads + 2 * kv_heads) * head_dim`.
    fn rotate_packed_qkv<E: Element>(
        &self,
        qkv: &mut [E],
        q_heads: usize,
        kv_heads: usize,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError> {
        if q_heads == 0 || kv_heads == 0 {
            let what = if q_heads == 0 { "q_heads" } else { "kv_heads" };
            return Err(RopeError::ZeroHeads { what });
        }
        let row = kv_heads
            .checked_mul(2)
            .and_then(|kv| kv.checked_add(q_heads))
            .and_then(|h| h.checked_mul(self.geom().head_dim))
            .ok_or(RopeError::SizeOverflow)?;
        let target = Target {
            x: qkv,
            heads: q_heads + kv_heads,
            kind: Kind::Packed { row },
            what: "qkv",
        };
        run(self, &mut [target], positions, direction)
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
        let g = self.geom();
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
        self.apply(part, Shape::tokens_heads(heads), sub, direction)
    }

    /// [`Rotate::apply`] split over rayon's thread pool (feature `rayon`): by tokens for
    /// `[tokens, heads, head_dim]`, by heads for `[heads, tokens, head_dim]`. The same bits
    /// as `apply`; everything is validated before any thread writes.
    ///
    /// ```
    /// use rope_simd::{Direction, PairLayout, Positions, Rope, Rotate, Shape};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let mut q = vec![0.5f32; 512 * 32 * 128];
    /// rope.par_apply(&mut q, Shape::tokens_heads(32), Positions::Start(0), Direction::Forward)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::apply`].
    #[cfg(feature = "rayon")]
    fn par_apply<E: Element + Send>(
        &self,
        x: &mut [E],
        shape: Shape,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError>
    where
        Self: Sync,
    {
        use rayon::prelude::*;
        let g = self.geom();
        let dims = Dims::shape(x.len(), shape, "x");
        let tokens = validate(self, &g, &[dims], &positions)?;
        if tokens == 0 {
            return Ok(());
        }
        let row = shape.heads * g.head_dim;
        match shape.order {
            Order::TokensHeads => {
                // A few chunks per thread, for balance; at least 16 tokens each.
                let per = tokens.div_ceil(4 * rayon::current_num_threads()).max(16);
                x.par_chunks_mut(per * row)
                    .enumerate()
                    .try_for_each(|(i, part)| {
                        self.apply_tokens(part, shape.heads, positions, i * per, direction)
                    })
            }
            Order::HeadsTokens => x.par_chunks_mut(tokens * g.head_dim).try_for_each(|head| {
                self.apply(head, Shape::heads_tokens(1), positions, direction)
            }),
        }
    }

    /// Rotate `src` (any [`Shape`]) and write the result into a cache slot of `dst`, in
    /// one pass, converting the element type (f32 activations into an f16 cache, say).
    /// `src` is not modified. Each value is rotated in f32 and rounded once to `D`: the
    /// in-place result converted to `D` whenever `D` is no wider than `S` (the same bits;
    /// channels past `rotary_dim` are converted too).
    ///
    /// A call whose rotated output is 16 MiB or more (a long prefill into an f16 or bf16
    /// cache) is written with non-temporal stores on the AVX2 and AVX-512 backends, where
    /// the slot's rows are 16-byte aligned: output that size would mostly leave the cache
    /// before it is read anyway, and bypassing the cache spares reading each destination
    /// line first. The bits are the same; the call returns after an `sfence`,
    /// so the writes are ordered like any other.
    ///
    /// ```
    /// use rope_simd::{f16, PairLayout, Positions, Rope, Rotate, Shape, Slot, Direction};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let k = vec![0.5f32; 4 * 8 * 128];                   // 4 new tokens, 8 KV heads
    /// let mut cache = vec![f16::ZERO; 4096 * 8 * 128];     // [capacity, heads, dim]
    /// let slot = Slot::tokens_heads(100, 8 * 128, 128);   // rows 100..104
    /// rope.rotate_into(&k, Shape::tokens_heads(8), &mut cache, slot, Positions::Start(100), Direction::Forward)?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::apply`] for `src`; [`RopeError::BadSlot`] if the slot does not fit
    /// `dst` or its rows overlap. On error `dst` is untouched.
    fn rotate_into<S: Element, D: Element>(
        &self,
        src: &[S],
        shape: Shape,
        dst: &mut [D],
        slot: Slot,
        positions: Positions<'_>,
        direction: Direction,
    ) -> Result<(), RopeError> {
        let g = self.geom();
        let dims = Dims::shape(src.len(), shape, "src");
        let tokens = validate(self, &g, &[dims], &positions)?;
        slot.check(tokens, shape.heads, g.head_dim, dst.len())?;
        let w = Into {
            input: src,
            dims,
            dst,
            slot,
            copy_only: false,
        };
        into_unchecked(self, w, tokens, positions, direction, None);
        Ok(())
    }

    /// [`Rotate::rotate_packed_qkv`] fused with the KV-cache write: rotate Q in place,
    /// write the rotated K into `k_cache` and V (unrotated) into `v_cache`, converting to
    /// the cache's element type, in one call. K in `qkv` is left as it was (the cache
    /// holds the rotated copy; not writing it back saves a pass).
    ///
    /// ```
    /// use rope_simd::{bf16, PairLayout, Positions, Rope, Rotate, Slot};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let (q_heads, kv_heads, tokens) = (8, 2, 3);
    /// let mut qkv = vec![0.5f32; tokens * (q_heads + 2 * kv_heads) * 64];
    /// let mut k_cache = vec![bf16::ZERO; 1024 * kv_heads * 64];
    /// let mut v_cache = k_cache.clone();
    /// let slot = Slot::tokens_heads(40, kv_heads * 64, 64);
    /// rope.rotate_packed_qkv_into(&mut qkv, q_heads, kv_heads, &mut k_cache, slot, &mut v_cache, slot, Positions::Start(40))?;
    /// assert_eq!(v_cache[40 * kv_heads * 64], bf16::from_f32(0.5));
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate_packed_qkv`]; [`RopeError::BadSlot`] for either slot. On error
    /// nothing is written.
    #[allow(clippy::too_many_arguments)]
    fn rotate_packed_qkv_into<S: Element, D: Element>(
        &self,
        qkv: &mut [S],
        q_heads: usize,
        kv_heads: usize,
        k_cache: &mut [D],
        k_slot: Slot,
        v_cache: &mut [D],
        v_slot: Slot,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        let g = self.geom();
        if q_heads == 0 || kv_heads == 0 {
            let what = if q_heads == 0 { "q_heads" } else { "kv_heads" };
            return Err(RopeError::ZeroHeads { what });
        }
        let row = kv_heads
            .checked_mul(2)
            .and_then(|kv| kv.checked_add(q_heads))
            .and_then(|h| h.checked_mul(g.head_dim))
            .ok_or(RopeError::SizeOverflow)?;
        let dims = Dims {
            len: qkv.len(),
            heads: q_heads,
            kind: Kind::Packed { row },
            what: "qkv",
        };
        let tokens = validate(self, &g, &[dims], &positions)?;
        k_slot.check(tokens, kv_heads, g.head_dim, k_cache.len())?;
        v_slot.check(tokens, kv_heads, g.head_dim, v_cache.len())?;
        // Everything is valid: write. K and V are read from their offsets in each row.
        let kv = |first_head: usize| Dims {
            len: qkv.len() - first_head * g.head_dim,
            heads: kv_heads,
            kind: Kind::Packed { row },
            what: "qkv",
        };
        let (k_dims, v_dims) = (kv(q_heads), kv(q_heads + kv_heads));
        let (k_off, v_off) = (q_heads * g.head_dim, (q_heads + kv_heads) * g.head_dim);
        let k = Into {
            input: &qkv[k_off..],
            dims: k_dims,
            dst: k_cache,
            slot: k_slot,
            copy_only: false,
        };
        into_unchecked(self, k, tokens, positions, Direction::Forward, None);
        let v = Into {
            input: &qkv[v_off..],
            dims: v_dims,
            dst: v_cache,
            slot: v_slot,
            copy_only: true,
        };
        into_unchecked(self, v, tokens, positions, Direction::Forward, None);
        let q = Target {
            x: qkv,
            heads: q_heads,
            kind: Kind::Packed { row },
            what: "qkv",
        };
        run(self, &mut [q], positions, Direction::Forward)
    }

    /// A decode (or prefill) step in one call: rotate `q` (`[tokens, heads.q, head_dim]`)
    /// in place, rotate `k` (`[tokens, heads.kv, head_dim]`) into `cache.k` and copy `v`
    /// into `cache.v` at `cache.slot`, converting to the caches' element type (f32
    /// activations into an f16 cache, say). Each token's cos/sin are had once for Q and K;
    /// the bits are those of [`Rotate::rotate`] on `q` and [`Rotate::rotate_into`] of `k`.
    /// `k` and `v` are not modified.
    ///
    /// ```
    /// use rope_simd::{f16, Heads, KvCache, PairLayout, Positions, Rope, Rotate, Slot};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let heads = Heads { q: 32, kv: 8 };
    /// let mut q = vec![0.5f32; 32 * 128];
    /// let (k, v) = (vec![0.25f32; 8 * 128], vec![1.0f32; 8 * 128]);
    /// let (mut k_cache, mut v_cache) = (vec![f16::ZERO; 4096 * 8 * 128], vec![f16::ZERO; 4096 * 8 * 128]);
    /// let slot = Slot::tokens_heads(100, 8 * 128, 128); // this token's row: 100
    /// let cache = KvCache { k: &mut k_cache, v: &mut v_cache, slot };
    /// rope.rotate_decode(&mut q, &k, &v, heads, cache, Positions::Start(100))?;
    /// assert_eq!(v_cache[100 * 8 * 128], f16::ONE);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Rotate::rotate_qk`] for `q` and `k` (and `v`, which must match `k`);
    /// [`RopeError::BadSlot`] if the slot does not fit either cache. On error nothing is
    /// written.
    fn rotate_decode<S: Element, D: Element>(
        &self,
        q: &mut [S],
        k: &[S],
        v: &[S],
        heads: crate::decode::Heads,
        cache: crate::decode::KvCache<'_, D>,
        positions: Positions<'_>,
    ) -> Result<(), RopeError> {
        crate::decode::decode(self, q, k, v, heads, cache, positions)
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
