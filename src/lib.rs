//! Fast, exact Rotary Position Embedding (RoPE) for `f32`, `f16` and `bf16` buffers, in
//! place, `no_std`, with the same bits from every backend and architecture.
//!
//! RoPE ([RoFormer, arXiv 2104.09864](https://arxiv.org/abs/2104.09864)) turns each pair
//! `(a, b)` of a query or key head by the angle `position * theta_i`, with
//! `theta_i = base^(-2i / rotary_dim)`:
//!
//! ```text
//! a' = a cos - b sin        b' = b cos + a sin
//! ```
//!
//! # Example
//!
//! ```
//! use rope_simd::{PairLayout, Positions, Rope, Rotate};
//!
//! // Llama 3: head_dim 128, theta 500000, pairs (x[i], x[i + 64]).
//! let rope = Rope::new(128, 500_000.0, PairLayout::HalfSplit)?;
//! let (mut q, mut k) = (vec![0.1f32; 4 * 32 * 128], vec![0.1f32; 4 * 8 * 128]);
//! // Four tokens at positions 4096..4100; 32 query heads, 8 KV heads.
//! rope.rotate_qk(&mut q, 32, &mut k, 8, Positions::Start(4096))?;
//! // Or with precomputed cos/sin for positions 0..8192 (same bits):
//! let table = rope.table(8192)?;
//! table.rotate_inverse(&mut q, 32, Positions::Start(4096))?; // back where we started
//! # Ok::<(), rope_simd::RopeError>(())
//! ```
//!
//! # What you describe, and how you call it
//!
//! - [`Rope`] describes one model's RoPE: `head_dim`, `rotary_dim` (partial rotary: the
//!   channels past it pass through untouched), `base` or your own inverse frequencies
//!   ([`RopeBuilder::inv_freqs`]), the [`PairLayout`], and a magnitude `scale` on cos/sin
//!   (YaRN's mscale). It is also the *on-the-fly* sin/cos source: no table, each token's
//!   cos/sin computed once per call (for all its heads, Q and K together).
//! - Frequency schedules ([`Scaling`]: linear, NTK-aware, dynamic NTK, [`Yarn`], [`Llama3`],
//!   [`LongRope`]; [`RopeBuilder::proportional_rotary`] for transformers' proportional
//!   partial rotary; [`RopeBuilder::freq_factors`]; [`Rope::ggml`] from ggml's parameters)
//!   are computed once in f64 with transformers' parameter semantics, and each one's
//!   attention factor becomes the magnitude scale. Multimodal models turn pairs by
//!   different position coordinates ([`Axes`]: M-RoPE, interleaved M-RoPE, 2-D axial),
//!   given as [`Positions::Axes`]. The README has a table from model family to builder
//!   call.
//! - A model's files build its `Rope` in one call: [`HfConfig`], a transformers
//!   `config.json` ([`HfConfig::from_json`], no serde or allocator needed), and [`GgufRope`], a GGUF
//!   file's metadata built the way llama.cpp runs the model ([`Rope::ggml_multi`] for
//!   ggml's modes and parameters directly).
//! - [`CosSinTable`] holds cos/sin for positions `0..max_pos`, built into your own
//!   `&mut [f32]` ([`Rope::build_table`], no allocation) or owned ([`Rope::table`], feature
//!   `alloc`). A position past the table is an error, never a wrap-around.
//! - Both implement [`Rotate`]: [`rotate`](Rotate::rotate) (`[tokens, heads, head_dim]`),
//!   [`rotate_inverse`](Rotate::rotate_inverse), [`rotate_qk`](Rotate::rotate_qk) (GQA head
//!   counts), [`apply`](Rotate::apply) / [`apply_qk`](Rotate::apply_qk) for any [`View`]
//!   and [`Direction`], and [`rotate_with_cos_sin`](Rotate::rotate_with_cos_sin), the
//!   low-level entry for runtimes that bring their own cos/sin (the same kernel, the same
//!   speed and bits). The `rotate*` calls turn forward; the `apply*` calls take a direction.
//! - [`View`]: where a buffer's heads are, one type for every call: `[tokens, heads,
//!   head_dim]`, `[heads, tokens, head_dim]`, the Q, K and V parts of a packed QKV buffer,
//!   any strides into a runtime's own tensor, and a window of it from a given token row
//!   ([`View::at`]: a KV-cache slot). Strides are counted in heads except in
//!   [`View::strided`], so a head count cannot be passed where elements are meant.
//! - [`Positions`]: a start (`start, start+1, ...`: prefill and decode), a per-token list
//!   (`u32` or `u64`, or signed `i32`/`i64`; any order, repeats allowed), or several
//!   coordinates per token.
//!
//! Rotations compose: turning by `p` then by `q` equals turning by `p + q` (within the
//! rounding bound below).
//!
//! # Fused paths for runtimes
//!
//! - [`Rotate::rotate_into`]: read `src` (f32, f16 or bf16), rotate, and write a window
//!   of a KV cache of another element type in one call, `src` unmodified.
//! - [`Rotate::rotate_decode`]: a decode step in one call: Q in place, K rotated into its
//!   cache and V copied into its cache ([`KvCache`]).
//! - [`Rotate::rotate_packed_qkv`]: rotate the Q and K heads of a fused QKV projection's
//!   `[tokens, (q + 2 kv) heads, head_dim]` buffer in place, V untouched; and
//!   [`Rotate::rotate_packed_qkv_into`], which also writes rotated K and V into caches.
//! - [`Rope::shift`]: **shift cached keys** by a position delta when a sliding window
//!   drops tokens, a pure rotation (the magnitude scale is not applied again):
//!
//! ```
//! use rope_simd::{PairLayout, Positions, Rope, Rotate, View};
//! let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
//! let (kept, kv_heads, dropped) = (100, 8, 28);
//! let mut keys = vec![0.5f32; kept * kv_heads * 64]; // rotated at positions 28..128
//! rope.shift(&mut keys, View::tokens_heads(kv_heads), -dropped)?;
//! // now as if rotated at positions 0..100
//! # Ok::<(), rope_simd::RopeError>(())
//! ```
//!
//! - [`Rope::rerotation`]: the per-pair angle change from one schedule to another (for
//!   example LongRoPE's short to long factors), applied to cached keys at their positions.
//!
//! # How exact
//!
//! - **Angles are exact at any position.** `position * theta` is formed and reduced in
//!   double-double arithmetic and evaluated in f64, so each f32 cos/sin is within 1 ulp of
//!   the true value (theta being the f64 frequency) for every position below 2^53. Measured
//!   (`cargo test --release --test angles -- --nocapture`): 0 ulp, every one of ~1.3 million
//!   values correctly rounded, over positions sampled up to 2^32 and near multiples of pi/2.
//!   A naive f32 `position * theta` is off by up to 2.6e-2 in cos at position 500000
//!   (same test).
//! - **Outputs:** each rotated value is within `4 * 2^-24 * scale * (|a| + |b|)` of the
//!   exact result for f32 (cos/sin rounding, two products, one sum), plus half an ulp of
//!   the element type for f16/bf16, which are widened, rotated in f32 and rounded once to
//!   nearest even. Measured over 4000 rotations of 64 pairs at positions up to 2^24
//!   (`cargo test --release --test bound -- --nocapture` prints it): at most `2.2 * 2^-24 *
//!   (|a| + |b|)` at scale 1 and `2.6 * 2^-24 * scale * (|a| + |b|)` at the scales of YaRN
//!   and ggml models. Checked against a float64 reference by quickcheck properties over
//!   every backend and dtype (`tests/properties.rs`).
//! - Position 0 with scale 1 is the identity, bit for bit (`-0.0` and NaN included).
//! - NaN and infinity propagate as IEEE arithmetic says; NaN payloads are not specified.
//!
//! # How fast
//!
//! `BENCHMARKS.md` (generated by `scripts/bench_report.py` from `cargo bench -p
//! rope-simd-benches`) has every figure, with the machine and the date: each decode and
//! prefill shape against a hand-written scalar loop and an in-place memory pass over the
//! same bytes, per backend, dtype, head_dim and layout. `docs/design.md` says which code
//! path serves which shape, and why.
//!
//! # Which sin/cos source
//!
//! All three give the same bits in practice (the compact table is within 1 ulp of the
//! others, and measured identical on every sampled value); pick by memory and speed:
//!
//! | source | memory | speed |
//! |---|---|---|
//! | [`CosSinTable`] | `max_pos * rotary_dim * 4` bytes: 64 MiB for 131072 positions | fastest |
//! | [`CompactTable`] | `(2 * sqrt(max_pos)) * rotary_dim * 8` bytes: 725 KiB for 131072 | close to the full table |
//! | [`Rope`] (on the fly) | none beyond the `Rope` (6 KiB) | computes cos/sin per token |
//!
//! `BENCHMARKS.md` gives their decode-step ratios (`fly source vs full table`, `compact
//! source vs full table`) and the table build times (`table_build/131072`).
//!
//! # The same bits everywhere
//!
//! Every [`Backend`] gives bit-identical results: the kernels use separate f32 multiplies
//! and adds in one fixed order (no fused multiply-add), cos/sin come from the same
//! portable f64 code, and the 16-bit conversions match `half` bit for bit. A fingerprint of
//! thousands of rotations is checked on x86_64, aarch64 and wasm32 (`tests/determinism.rs`).
//!
//! # Backends
//!
//! [`Backend::detect`] picks AVX-512F (with AVX512_BF16 where the CPU has it) or AVX2 (with
//! F16C) on x86_64 at run time (CPUID + XGETBV, no `std` needed, cached); on aarch64
//! [`Backend::NeonBf16`] where the CPU has FEAT_BF16, else [`Backend::Neon`]; else
//! [`Backend::Lanes`]: 8-lane `wide` vectors on the build target's SIMD (SSE2, or simd128
//! on wasm32 built with `+simd128`). Force one with [`Rope::with_backend`]; asking
//! for one the CPU lacks is an error. The choice is made once, when the `Rope` is built:
//! calls check nothing. `docs/design.md` maps the kernel layer.
//!
//! # Errors
//!
//! Every call validates all of its input (shapes, lengths, positions, overflow) before it
//! writes: on `Err` ([`RopeError`], one variant per mistake) the buffers are untouched.
//! No call panics on bad input.
//!
//! # Features
//!
//! - `std` (default): implies `alloc`; nothing else in the kernels needs it.
//! - `alloc`: owned tables ([`Rope::table`]).
//! - `rayon`: `Rotate::par_apply`, a call split over rayon's thread pool. Without it, a
//!   runtime's own pool splits a prefill with [`Rotate::apply_tokens`] (no allocation).
//! - `serde`: `Deserialize` for [`HfConfig`] (implies `alloc`, not `std`).
//!
//! With no features the crate needs neither `std` nor an allocator (it builds for
//! `thumbv7em-none-eabihf`); a [`Rope`] is about 6 KiB and holds its frequencies inline.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

/// Chained setters for a parameter struct's public fields (the structs are
/// `#[non_exhaustive]`, so callers outside the crate build them with these):
/// `field: Type` sets the value, `field: Type => Some` sets `Some(value)`.
macro_rules! setters {
    ($ty:ident $(<$lt:lifetime>)? { $($field:ident : $arg:ty $(=> $wrap:ident)?),* $(,)? }) => {
        impl$(<$lt>)? $ty$(<$lt>)? {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[must_use]
                pub fn $field(mut self, value: $arg) -> Self {
                    self.$field = $($wrap)?(value);
                    self
                }
            )*
        }
    };
}

#[cfg(feature = "std")]
extern crate std;

mod any_slice;
mod axes;
mod backend;
mod builder;
mod cache;
mod compact;
mod config;
mod decode;
mod driver;
mod element;
mod error;
mod float_text;
mod ggml;
mod gguf;
mod hf;
#[cfg(feature = "serde")]
mod hf_serde;
mod json;
mod kernel;
mod positions;
mod rotate;
mod schedule;
mod shape;
mod source;
mod table;
mod trig;

pub use axes::Axes;
pub use backend::Backend;
pub use builder::RopeBuilder;
pub use compact::CompactTable;
pub use config::{PairLayout, Rope, MAX_POSITION, MAX_ROTARY_DIM, MAX_SCALE};
pub use decode::KvCache;
pub use element::Element;
pub use error::RopeError;
pub use ggml::{Ggml, GgmlMode};
pub use gguf::{GgufRope, GgufScaling, GgufValue};
/// Views a `&mut [u16]` holding f16 or bf16 bits (how many runtimes store them) as
/// `&mut [f16]` or `&mut [bf16]`, without copying, to rotate in place:
///
/// ```
/// use rope_simd::{f16, HalfBitsSliceExt, PairLayout, Positions, Rope, Rotate};
/// let mut bits: Vec<u16> = vec![f16::from_f32(0.5).to_bits(); 64];
/// let rope = Rope::new(64, 10_000.0, PairLayout::HalfSplit)?;
/// rope.rotate(bits.reinterpret_cast_mut::<f16>(), 1, Positions::Start(7))?;
/// # Ok::<(), rope_simd::RopeError>(())
/// ```
pub use half::slice::HalfBitsSliceExt;
pub use half::{bf16, f16};
pub use hf::{FactorList, HfConfig, HfRopeParameters, LayerKind, RopeType};
pub use rotate::{Direction, Heads, Positions, Rotate, View};
pub use schedule::{
    default_inv_freq, ContextLengths, Llama3, LongRope, LongRopeChoice, Scaling, Yarn,
};
pub use table::CosSinTable;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
