//! Helpers shared by the integration tests: running the `relucert` binary ([`cli`],
//! re-exported here; only with the `cli` feature, which builds the binary) and the
//! random test instances several files draw ([`instances`]), and numerical references
//! ([`numeric`]).
#![allow(dead_code)] // each test file uses a different subset

#[cfg(feature = "cli")]
pub mod cli;
pub mod instances;
pub mod numeric;

#[cfg(feature = "cli")]
#[allow(unused_imports)] // files without the binary's tests use none of them
pub use cli::*;
