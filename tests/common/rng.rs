//! The tests' pseudo-random numbers (xorshift), without `std` or `alloc`, so the bare-metal
//! x86_64 program (`firmware/x86_64`) draws the same buffers as the test suite.

/// Deterministic pseudo-random f32 in [-range, range] (xorshift), for buffers.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn f32(&mut self, range: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
        (2.0 * u - 1.0) * range
    }
    #[allow(dead_code)] // not every test crate draws integers
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Fill `out` with values in [-range, range], as `vec` does.
    pub fn fill<E: rope_simd::Element>(&mut self, out: &mut [E], range: f32) {
        out.iter_mut()
            .for_each(|v| *v = E::from_f32(self.f32(range)));
    }
}
