//! Frequency schedules: the inverse frequency of each rotated pair, computed in f64.

/// The default RoPE schedule (RoFormer): `theta_i = base^(-2i / rotary_dim)` for pair `i`.
///
/// Computed in f64 with `libm::pow`, so it is the same on every target.
///
/// ```
/// assert_eq!(rope_simd::freqs::default_inv_freq(10_000.0, 4, 1), 0.01);
/// ```
pub fn default_inv_freq(base: f64, rotary_dim: usize, pair: usize) -> f64 {
    libm::pow(base, -((2 * pair) as f64) / rotary_dim as f64)
}
