//! The compact two-level cos/sin table, for devices that cannot hold a full table.
//!
//! Position `p = hi * B + lo` (`B` about `sqrt(max_pos)`): cos/sin of `lo * theta` come
//! from a fine table of `B` rows, those of `hi * B * theta` from a coarse table of
//! `ceil(max_pos / B)` rows, and the angle-addition formulas combine them in f64:
//!
//! ```text
//! cos(a + b) = cos a cos b - sin a sin b      sin(a + b) = sin a cos b + cos a sin b
//! ```
//!
//! Entries are the exact angles' cos/sin in f64 (see `trig`), so the combined value is
//! within a few 1e-16 of the true one and rounds to the same f32 as the on-the-fly source
//! except within ~2^-26 ulp of a rounding tie: at most 1 ulp apart (measured: all of
//! 768 768 sampled values identical, `tests/compact.rs`). Memory grows as
//! `O(sqrt(max_pos) * rotary_dim)`; a lookup costs 4 f64 multiplies and 2 adds per pair
//! (in SIMD lanes: the loop is compiled per backend).

use crate::config::Rope;
use crate::error::RopeError;
use crate::source::{Geom, Source, RUN};
use crate::trig::cos_sin_f64;

/// cos/sin for positions `0..max_pos` from two small f64 tables (see the module docs).
/// Rotate with the methods of [`Rotate`](crate::Rotate).
///
/// `S` is the storage: `&[f64]` from [`Rope::build_compact_table`], or `Vec<f64>` from
/// [`Rope::compact_table`]; [`CompactTable::size_bytes`] reports the footprint.
#[derive(Clone, Debug)]
pub struct CompactTable<S> {
    geom: Geom,
    max_pos: usize,
    block: usize,
    data: S,
}

/// The block size `B` (fine rows) for `max_pos` positions: `ceil(sqrt(max_pos))`, at
/// least 1.
fn block_for(max_pos: usize) -> usize {
    let mut b = (libm::sqrt(max_pos as f64) as usize).max(1);
    while b.saturating_mul(b) < max_pos {
        b += 1;
    }
    b
}

impl Rope {
    /// Length in f64 of a compact table for positions `0..max_pos`:
    /// `(B + ceil(max_pos / B)) * rotary_dim` with `B = ceil(sqrt(max_pos))`.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// // 131072 positions: 741 KiB instead of 64 MiB for the full table.
    /// assert_eq!(rope.compact_table_len(131_072)? * 8, (363 + 362) * 128 * 8);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::SizeOverflow`] if the length does not fit in `usize`.
    pub fn compact_table_len(&self, max_pos: usize) -> Result<usize, RopeError> {
        let block = block_for(max_pos);
        block
            .checked_add(max_pos.div_ceil(block))
            .and_then(|rows| rows.checked_mul(self.rotary_dim))
            .ok_or(RopeError::SizeOverflow)
    }

    /// Build a compact table for positions `0..max_pos` into caller-provided memory
    /// (`no_std`, no allocation; a firmware author sizes a static buffer with
    /// [`Rope::compact_table_len`]).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::Interleaved)?;
    /// let mut storage = vec![0.0f64; rope.compact_table_len(32_768)?];
    /// let table = rope.build_compact_table(32_768, &mut storage)?;
    /// let mut x = vec![0.5f32; 4 * 64];
    /// table.rotate(&mut x, 4, Positions::Start(32_767))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::WrongLength`] if `storage.len() != self.compact_table_len(max_pos)`;
    /// [`RopeError::SizeOverflow`].
    pub fn build_compact_table<'a>(
        &self,
        max_pos: usize,
        storage: &'a mut [f64],
    ) -> Result<CompactTable<&'a [f64]>, RopeError> {
        let expected = self.compact_table_len(max_pos)?;
        crate::error::check_len("compact table storage", expected, storage.len())?;
        let block = self.fill_compact(max_pos, storage);
        Ok(CompactTable {
            geom: self.geom(),
            max_pos,
            block,
            data: storage,
        })
    }

    /// A compact table over storage [`Rope::build_compact_table`] filled earlier (kept
    /// by a C caller, say), without recomputing it: the same bits as the table that
    /// filled it. The storage must come from this description (or one with the same
    /// frequencies) and `max_pos`; only its length can be checked.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::Interleaved)?;
    /// let mut storage = vec![0.0f64; rope.compact_table_len(4096)?];
    /// rope.build_compact_table(4096, &mut storage)?;
    /// let table = rope.compact_table_from_storage(4096, &storage)?;
    /// let mut x = vec![0.5f32; 64];
    /// table.rotate(&mut x, 1, Positions::Start(4000))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::WrongLength`] if `storage.len() != self.compact_table_len(max_pos)`;
    /// [`RopeError::SizeOverflow`].
    pub fn compact_table_from_storage<'a>(
        &self,
        max_pos: usize,
        storage: &'a [f64],
    ) -> Result<CompactTable<&'a [f64]>, RopeError> {
        let expected = self.compact_table_len(max_pos)?;
        crate::error::check_len("compact table storage", expected, storage.len())?;
        Ok(CompactTable {
            geom: self.geom(),
            max_pos,
            block: block_for(max_pos),
            data: storage,
        })
    }

    /// Build an owned compact table for positions `0..max_pos` (feature `alloc`).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let table = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?.compact_table(131_072)?;
    /// assert!(table.size_bytes() < 1 << 20);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::SizeOverflow`] if the size overflows; [`RopeError::AllocFailed`] if the
    /// allocator cannot give that much memory.
    #[cfg(feature = "alloc")]
    pub fn compact_table(
        &self,
        max_pos: usize,
    ) -> Result<CompactTable<alloc::vec::Vec<f64>>, RopeError> {
        let mut data = crate::table::try_zeroed(self.compact_table_len(max_pos)?)?;
        let block = self.fill_compact(max_pos, &mut data);
        Ok(CompactTable {
            geom: self.geom(),
            max_pos,
            block,
            data,
        })
    }

    /// Fill fine rows `lo = 0..B` then coarse rows `hi = 0..ceil(max_pos/B)`, each
    /// `pairs` cosines then `pairs` sines (unscaled); returns `B`.
    fn fill_compact(&self, max_pos: usize, storage: &mut [f64]) -> usize {
        let (block, pairs) = (block_for(max_pos), self.pairs());
        for (r, row) in storage.chunks_exact_mut(2 * pairs).enumerate() {
            let position = if r < block { r } else { (r - block) * block };
            let (cos, sin) = row.split_at_mut(pairs);
            for i in 0..pairs {
                (cos[i], sin[i]) = cos_sin_f64(position as u64, self.turns(i));
            }
        }
        block
    }
}

impl<S: AsRef<[f64]>> CompactTable<S> {
    /// Positions covered: `0..max_pos`.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let table = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?.compact_table(32_768)?;
    /// assert_eq!(table.max_pos(), 32_768);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn max_pos(&self) -> usize {
        self.max_pos
    }

    /// The table's memory in bytes.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
    /// let compact = rope.compact_table(131_072)?;
    /// assert!(compact.size_bytes() < rope.table_len(131_072)? * 4 / 40);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn size_bytes(&self) -> usize {
        core::mem::size_of_val(self.data.as_ref())
    }

    fn row(&self, r: usize) -> (&[f64], &[f64]) {
        let pairs = self.geom.rotary_dim / 2;
        self.data.as_ref()[r * 2 * pairs..(r + 1) * 2 * pairs].split_at(pairs)
    }
}

impl<S: AsRef<[f64]>> Source for CompactTable<S> {
    fn erased(&self) -> &dyn crate::source::Runs {
        self
    }

    fn geom(&self) -> Geom {
        self.geom
    }

    fn check_position(&self, position: u64) -> Result<(), RopeError> {
        if position < self.max_pos as u64 {
            Ok(())
        } else {
            Err(RopeError::PositionOutOfTable {
                position,
                max_pos: self.max_pos,
            })
        }
    }

    #[inline]
    fn for_each_run<F: FnMut(usize, &[f32], &[f32])>(&self, position: u64, mut f: F) {
        let p = position as usize; // checked against max_pos before
        let pairs = self.geom.rotary_dim / 2;
        let (fc, fs) = self.row(p % self.block);
        let (cc, cs) = self.row(self.block + p / self.block);
        let (mut cos, mut sin) = ([0.0f32; RUN], [0.0f32; RUN]);
        let mut first = 0;
        while first < pairs {
            let n = RUN.min(pairs - first);
            let r = first..first + n;
            let (coarse, fine) = ([&cc[r.clone()], &cs[r.clone()]], [&fc[r.clone()], &fs[r]]);
            self.geom
                .isa
                .angle_sum(coarse, fine, self.geom.scale, &mut cos[..n], &mut sin[..n]);
            f(first, &cos[..n], &sin[..n]);
            first += n;
        }
    }
}
