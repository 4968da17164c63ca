//! [`KktError`]: the refusals of [`super::certify`] and [`super::verify`] (misuse and
//! inputs that cannot be analysed). A solver that stops early is not an error: the
//! report's status says so.

use thiserror::Error;

use crate::net::NetError;

/// Errors of [`super::certify`] and [`super::verify`]: misuse and inputs that cannot be
/// analysed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KktError {
    /// The network and data disagree, or the network does not separate the data.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A setting is out of range.
    #[error("invalid KKT setting {field} = {value}: {reason}")]
    Settings {
        /// Field name.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
    /// No sample is allowed a multiplier.
    #[error("the support is empty (no sample has q̂ ≤ 1 + slack = {limit}); nothing to certify")]
    EmptySupport {
        /// 1 + slack.
        limit: f64,
    },
    /// The solve would need more memory than the budget.
    #[error("the {what} would need about {needed} bytes of memory, above the budget of {budget} bytes (--max-memory)")]
    Memory {
        /// What was to be solved.
        what: String,
        /// Estimated bytes.
        needed: u64,
        /// The budget.
        budget: u64,
    },
    /// Too many ambiguous pairs for one solve.
    #[error("{pairs} ambiguous pairs at tau = {tau:e} exceed the limit {limit}; choose a smaller tau")]
    TooManyAmbiguous {
        /// Count.
        pairs: usize,
        /// τ.
        tau: f64,
        /// Limit.
        limit: usize,
    },
    /// A solver failed outright.
    #[error("{solver} failed: {reason}")]
    Solver {
        /// Which solver.
        solver: &'static str,
        /// Its message.
        reason: String,
    },
    /// The certificate file has an unknown format.
    #[error("unknown certificate format {found:?} (this version reads {expected:?})")]
    UnknownFormat {
        /// Found.
        found: String,
        /// Expected.
        expected: &'static str,
    },
    /// The certificate was issued for another network or dataset.
    #[error("the certificate is for another {what}: its content hash is {expected} but the given {what} hashes to {got}")]
    HashMismatch {
        /// "network" or "dataset".
        what: &'static str,
        /// Hash in the certificate.
        expected: String,
        /// Hash of the given input.
        got: String,
    },
    /// The certificate does not fit the inputs.
    #[error("the certificate does not fit the inputs: {field} has {got} entries, expected {expected}")]
    ReportShape {
        /// Field.
        field: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
}
