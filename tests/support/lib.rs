//! Test support.

pub mod moto;
pub mod pipeline;
pub mod stack;
