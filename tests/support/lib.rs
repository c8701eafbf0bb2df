//! Test support.

pub mod moto;
pub mod stack;
