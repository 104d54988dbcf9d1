//! A reader that turns fuzzer bytes into values; past the end it yields zeros, so every
//! input decodes to some call.

pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// A float parameter: mostly ordinary values, sometimes hostile or raw bits.
    pub fn param(&mut self, ordinary: &[f64]) -> f64 {
        const HOSTILE: [f64; 8] = [f64::NAN, f64::INFINITY, -1.0, 0.0, 1.0, 1e300, 1e-300, -0.0];
        let k = self.u8();
        match k % 4 {
            0 | 1 => ordinary[usize::from(k / 4) % ordinary.len()],
            2 => HOSTILE[usize::from(k / 4) % HOSTILE.len()],
            _ => f64::from_bits(self.u64()),
        }
    }
    /// A position: small, near the interesting limits, or raw.
    pub fn position(&mut self) -> u64 {
        let k = self.u8();
        let raw = self.u64();
        match k % 6 {
            0 => raw % 64,
            1 => raw % (1 << 20),
            2 => u64::from(raw as u32),
            3 => (1u64 << 53) - (raw % 8),
            4 => u64::MAX - (raw % 8),
            _ => raw,
        }
    }
}
