//! Placeholder; crate docs follow.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod backend;
mod config;
mod element;
mod error;
pub mod freqs;
mod kernel;
mod rotate;
mod table;
mod trig;

pub use backend::Backend;
pub use config::{PairLayout, Rope, RopeBuilder, MAX_POSITION, MAX_ROTARY_DIM};
pub use element::Element;
pub use error::RopeError;
pub use half::{bf16, f16};
pub use rotate::{Direction, Order, Positions, Rotate, Shape};
pub use table::CosSinTable;
