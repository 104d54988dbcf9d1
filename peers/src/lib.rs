//! Nothing here: see `benches/candle.rs`.
