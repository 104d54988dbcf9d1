//! Which position coordinate each pair turns by: one axis for text, transformers' M-RoPE
//! and 2-D axial RoPE, and ggml's four-section multi-RoPE modes.

use crate::error::RopeError;

/// Which position coordinate each pair turns by, for multimodal and image models.
///
/// With more than one axis, pass positions as [`Positions::Axes`](crate::Positions::Axes)
/// (one coordinate per axis per token); a plain position list or start gives every axis
/// the same coordinate (text tokens in Qwen2-VL).
///
/// transformers and ggml differ for interleaved M-RoPE: in transformers'
/// [`Axes::MRopeInterleaved`] (Qwen3-VL) the pairs past the three sections turn by the
/// temporal coordinate; in ggml's [`Axes::GgmlIMRope`] (`GGML_ROPE_TYPE_IMROPE`) they turn
/// by the fourth. Build [`Rope::ggml_multi`](crate::Rope::ggml_multi) for a GGUF model and
/// the `MRope*` variants for a transformers one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Axes {
    /// One position per token (every text-only model).
    Single,
    /// M-RoPE (Qwen2-VL, Qwen2.5-VL): `mrope_section = [t, h, w]` pairs, in that order,
    /// turn by the temporal, height and width coordinates; the sections sum to
    /// `rotary_dim / 2`. Three axes.
    MRope([u32; 3]),
    /// Interleaved M-RoPE (Qwen3-VL, `mrope_section` such as `[24, 20, 20]`): pair `j`
    /// takes the height coordinate when `j % 3 == 1` and `j < 3 * h`, the width
    /// coordinate when `j % 3 == 2` and `j < 3 * w`, else the temporal one. Three axes.
    MRopeInterleaved([u32; 3]),
    /// 2-D axial RoPE for image patches (the Qwen2-VL vision encoder): the first half of
    /// the pairs turn by the patch row, the second half by the column, both halves with
    /// the schedule computed over `rotary_dim / 2` channels (`base^(-4j / rotary_dim)`
    /// for pair `j` of a half). Two axes; needs `rotary_dim / 2` even.
    Axial2d,
    /// ggml's M-RoPE (`GGML_ROPE_TYPE_MROPE`, `rope.dimension_sections`): with
    /// `s = pair % (s0 + s1 + s2 + s3)` (ggml wraps sections that sum to fewer pairs), the
    /// pair turns by coordinate 0 when `s < s0`, 1 when `s < s0 + s1`, 2 when
    /// `s < s0 + s1 + s2`, else 3. Four axes.
    GgmlMRope([u32; 4]),
    /// ggml's interleaved M-RoPE (`GGML_ROPE_TYPE_IMROPE`, Qwen3-VL in llama.cpp): with `s`
    /// as above, coordinate 1 when `s % 3 == 1` and `s < 3 * s1`, 2 when `s % 3 == 2` and
    /// `s < 3 * s2`, 0 when `s % 3 == 0` and `s < 3 * s0`, else 3. Four axes.
    GgmlIMRope([u32; 4]),
    /// ggml's vision RoPE (`GGML_ROPE_TYPE_VISION`): sections as in
    /// [`Axes::GgmlMRope`], each section's frequencies starting again from the first
    /// (built by [`Rope::ggml_multi`](crate::Rope::ggml_multi), which computes them).
    /// Four axes.
    GgmlVision([u32; 4]),
}

impl Axes {
    /// Coordinates per token: 1, 2 (axial), 3 (M-RoPE) or 4 (ggml's multi-RoPE).
    ///
    /// ```
    /// use rope_simd::Axes;
    /// assert_eq!(Axes::MRope([16, 24, 24]).count(), 3);
    /// assert_eq!(Axes::GgmlIMRope([24, 20, 20, 0]).count(), 4);
    /// ```
    pub fn count(&self) -> usize {
        match self {
            Axes::Single => 1,
            Axes::Axial2d => 2,
            Axes::MRope(_) | Axes::MRopeInterleaved(_) => 3,
            Axes::GgmlMRope(_) | Axes::GgmlIMRope(_) | Axes::GgmlVision(_) => 4,
        }
    }

    /// ggml's sections and a pair's place in them: `(sections, pair % their sum)`, in u64
    /// so that no sum of sections overflows.
    fn ggml_sector(s: [u32; 4], pair: usize) -> ([u64; 4], u64) {
        let s = s.map(u64::from);
        let sum: u64 = s.iter().sum();
        (s, pair as u64 % sum.max(1))
    }

    /// The axis of pair `pair` of `pairs`.
    #[inline]
    pub(crate) fn axis_of(&self, pair: usize, pairs: usize) -> usize {
        let p = pair as u64;
        match *self {
            Axes::Single => 0,
            Axes::Axial2d => usize::from(pair >= pairs / 2),
            Axes::MRope([t, h, _]) => {
                let (t, h) = (u64::from(t), u64::from(h));
                if p < t {
                    0
                } else if p < t + h {
                    1
                } else {
                    2
                }
            }
            Axes::MRopeInterleaved([_, h, w]) => {
                let (h, w) = (u64::from(h), u64::from(w));
                match p % 3 {
                    1 if p < 3 * h => 1,
                    2 if p < 3 * w => 2,
                    _ => 0,
                }
            }
            Axes::GgmlMRope(s) | Axes::GgmlVision(s) => {
                let (s, sector) = Self::ggml_sector(s, pair);
                let mut end = 0;
                for (axis, len) in s.iter().enumerate().take(3) {
                    end += len;
                    if sector < end {
                        return axis;
                    }
                }
                3
            }
            Axes::GgmlIMRope(s) => {
                let (s, sector) = Self::ggml_sector(s, pair);
                match sector % 3 {
                    1 if sector < 3 * s[1] => 1,
                    2 if sector < 3 * s[2] => 2,
                    0 if sector < 3 * s[0] => 0,
                    _ => 3,
                }
            }
        }
    }

    /// For ggml's vision RoPE, the index of pair `pair` within its section (its
    /// frequency's exponent); `pair` itself for every other kind.
    pub(crate) fn frequency_index(&self, pair: usize) -> usize {
        match *self {
            Axes::GgmlVision(s) => {
                let (s, sector) = Self::ggml_sector(s, pair);
                let mut start = 0;
                for len in s.iter().take(3) {
                    if sector < start + len {
                        break;
                    }
                    start += len;
                }
                // At most `pair`, so it fits.
                (sector - start) as usize
            }
            _ => pair,
        }
    }

    pub(crate) fn check(&self, pairs: usize) -> Result<(), RopeError> {
        match *self {
            Axes::Single => Ok(()),
            Axes::Axial2d => {
                if pairs.is_multiple_of(2) {
                    Ok(())
                } else {
                    Err(RopeError::BadSections {
                        sum: pairs,
                        expected: pairs + 1,
                    })
                }
            }
            Axes::MRope(s) | Axes::MRopeInterleaved(s) => {
                let sum = s.iter().map(|&v| u64::from(v)).sum::<u64>();
                let sum = usize::try_from(sum).unwrap_or(usize::MAX);
                if sum == pairs {
                    Ok(())
                } else {
                    Err(RopeError::BadSections {
                        sum,
                        expected: pairs,
                    })
                }
            }
            // ggml takes any sections with at least one pair, and wraps them.
            Axes::GgmlMRope(s) | Axes::GgmlIMRope(s) | Axes::GgmlVision(s) => {
                let sum = s.iter().map(|&v| u64::from(v)).sum::<u64>();
                let sum = usize::try_from(sum).unwrap_or(usize::MAX);
                if sum > 0 {
                    Ok(())
                } else {
                    Err(RopeError::BadSections {
                        sum,
                        expected: pairs,
                    })
                }
            }
        }
    }
}
