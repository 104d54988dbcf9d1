//! Precomputed cos/sin for positions `0..max_pos`: the table source.

use crate::config::Rope;
use crate::error::RopeError;
use crate::source::{Geom, Source};

impl Rope {
    /// Length in f32 of a table for positions `0..max_pos`: `max_pos * rotary_dim`
    /// (for each position, `rotary_dim/2` cosines then `rotary_dim/2` sines).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(128, 10_000.0, PairLayout::HalfSplit)?;
    /// assert_eq!(rope.table_len(4096)? * 4, 2 << 20); // 2 MiB for 4096 positions
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::SizeOverflow`] if the length does not fit in `usize`.
    pub fn table_len(&self, max_pos: usize) -> Result<usize, RopeError> {
        max_pos
            .checked_mul(self.rotary_dim)
            .ok_or(RopeError::SizeOverflow)
    }

    /// Build a cos/sin table for positions `0..max_pos` into caller-provided memory
    /// (`no_std`, no allocation). The table gives exactly the bits of the on-the-fly path.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut storage = vec![0.0f32; rope.table_len(1024)?]; // or a static buffer
    /// let table = rope.build_table(1024, &mut storage)?;
    /// let mut x = vec![1.0f32; 3 * 4 * 64]; // 3 tokens, 4 heads
    /// table.rotate(&mut x, 4, Positions::Start(1000))?;
    /// assert!(table.rotate(&mut x, 4, Positions::Start(1022)).is_err()); // 1024 is past the end
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::WrongLength`] if `storage.len() != self.table_len(max_pos)`;
    /// [`RopeError::SizeOverflow`].
    pub fn build_table<'a>(
        &self,
        max_pos: usize,
        storage: &'a mut [f32],
    ) -> Result<CosSinTable<&'a [f32]>, RopeError> {
        self.check_storage(max_pos, storage.len())?;
        self.fill_table(storage);
        Ok(CosSinTable {
            geom: self.geom(),
            max_pos,
            data: storage,
        })
    }

    /// Use storage already filled by [`Rope::build_table`] (by this `Rope`, or one built
    /// with the same settings) as a table, without recomputing it: a static table, one
    /// mapped from a file, or one shared between threads.
    ///
    /// The contents are not checked: other values give other (wrong) rotations, never
    /// undefined behaviour.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Positions, Rope, Rotate};
    /// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
    /// let mut storage = vec![0.0f32; rope.table_len(512)?];
    /// rope.build_table(512, &mut storage)?;
    /// // ... later, elsewhere:
    /// let table = rope.table_from_storage(512, &storage)?;
    /// let mut x = vec![1.0f32; 64];
    /// table.rotate(&mut x, 1, Positions::Start(511))?;
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::WrongLength`] if `storage.len() != self.table_len(max_pos)`;
    /// [`RopeError::SizeOverflow`].
    pub fn table_from_storage<'a>(
        &self,
        max_pos: usize,
        storage: &'a [f32],
    ) -> Result<CosSinTable<&'a [f32]>, RopeError> {
        self.check_storage(max_pos, storage.len())?;
        Ok(CosSinTable {
            geom: self.geom(),
            max_pos,
            data: storage,
        })
    }

    /// Build an owned cos/sin table for positions `0..max_pos` (feature `alloc`).
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let table = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?.table(8192)?;
    /// assert_eq!(table.max_pos(), 8192);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::SizeOverflow`] if the size overflows; [`RopeError::AllocFailed`] if
    /// the allocator cannot give that much memory (the process does not abort).
    #[cfg(feature = "alloc")]
    pub fn table(&self, max_pos: usize) -> Result<CosSinTable<alloc::vec::Vec<f32>>, RopeError> {
        let mut data = try_zeroed(self.table_len(max_pos)?)?;
        self.fill_table(&mut data);
        Ok(CosSinTable {
            geom: self.geom(),
            max_pos,
            data,
        })
    }

    fn check_storage(&self, max_pos: usize, len: usize) -> Result<(), RopeError> {
        crate::error::check_len("table storage", self.table_len(max_pos)?, len)
    }

    fn fill_table(&self, storage: &mut [f32]) {
        let pairs = self.pairs();
        if pairs == 0 {
            return;
        }
        for (p, row) in storage.chunks_exact_mut(2 * pairs).enumerate() {
            let (cos, sin) = row.split_at_mut(pairs);
            self.fill(p as u64, 0, self.scale, cos, sin);
        }
    }
}

/// `len` zeros, or an error instead of the abort a failed `vec!` allocation is.
#[cfg(feature = "alloc")]
pub(crate) fn try_zeroed<T: Clone + Default>(len: usize) -> Result<alloc::vec::Vec<T>, RopeError> {
    let mut v = alloc::vec::Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| match len.checked_mul(core::mem::size_of::<T>()) {
            Some(bytes) if bytes <= isize::MAX as usize => RopeError::AllocFailed { bytes },
            _ => RopeError::SizeOverflow,
        })?;
    v.resize(len, T::default());
    Ok(v)
}

/// cos/sin for positions `0..max_pos`, precomputed from a [`Rope`]; rotate with the
/// methods of [`Rotate`](crate::Rotate), which give the same bits as the `Rope` itself.
///
/// `S` is the storage: `&[f32]` from [`Rope::build_table`], or `Vec<f32>` from
/// [`Rope::table`]. Memory: `max_pos * rotary_dim * 4` bytes.
#[derive(Clone, Debug)]
pub struct CosSinTable<S> {
    geom: Geom,
    max_pos: usize,
    data: S,
}

impl<S: AsRef<[f32]>> CosSinTable<S> {
    /// Positions covered: `0..max_pos`.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let table = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?.table(1024)?;
    /// assert_eq!(table.max_pos(), 1024);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn max_pos(&self) -> usize {
        self.max_pos
    }

    /// The cosines and sines of one position (`rotary_dim/2` each), or `None` past the end.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let rope = Rope::new(8, 10_000.0, PairLayout::Interleaved)?;
    /// let table = rope.table(16)?;
    /// let (cos, sin) = table.cos_sin(5).unwrap();
    /// assert_eq!((cos[1], sin[1]), rope.cos_sin(5, 1));
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn cos_sin(&self, position: usize) -> Option<(&[f32], &[f32])> {
        if position >= self.max_pos {
            return None;
        }
        let pairs = self.geom.rotary_dim / 2;
        let row = &self.data.as_ref()[position * 2 * pairs..(position + 1) * 2 * pairs];
        Some(row.split_at(pairs))
    }

    /// The table's memory in bytes.
    ///
    /// ```
    /// use rope_simd::{PairLayout, Rope};
    /// let table = Rope::new(128, 10_000.0, PairLayout::HalfSplit)?.table(4096)?;
    /// assert_eq!(table.size_bytes(), 4096 * 128 * 4);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    pub fn size_bytes(&self) -> usize {
        core::mem::size_of_val(self.data.as_ref())
    }
}

impl<S: AsRef<[f32]>> Source for CosSinTable<S> {
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
        if let Some((cos, sin)) = self.cos_sin(position as usize) {
            f(0, cos, sin);
        }
    }
}
