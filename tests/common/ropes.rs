//! The `Rope` the sweeps build (base 500 000, any shape and backend), without `std`, so
//! that the bare-metal x86_64 program (`firmware/x86_64`) builds the same ones.
use rope_simd::{Backend, PairLayout, Rope};

pub fn rope(head_dim: usize, rotary_dim: usize, layout: PairLayout, backend: Backend) -> Rope {
    Rope::builder(head_dim)
        .rotary_dim(rotary_dim)
        .layout(layout)
        .base(500_000.0)
        .backend(backend)
        .build()
        .unwrap()
}
