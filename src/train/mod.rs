//! Gradient-descent training of depth-2 ReLU networks to extreme losses.
//!
//! Objective (the paper's eq. (1); docs/model.md): `L(θ) = Σ_i ℓ(y_i N_θ(x_i))`, summed
//! over samples, with the exponential loss `ℓ(q) = e^{−q}` or the logistic loss
//! `ℓ(q) = ln(1 + e^{−q})`.
//!
//! # Log space
//! The loss is carried as `ln L = LSE_i ln ℓ(q_i)` (log-sum-exp; a stable softplus form
//! for the logistic loss), so targets far below 1e-300 work and nothing under- or
//! overflows. The gradient is formed as `∇L / L = Σ_i r_i (−y_i ∇N(x_i))` with the
//! normalised weights `r_i = −ℓ'(q_i)/L ∈ (0, 1]`; a step is `θ ← θ − s·∇L/L`, with
//! `s = η_t·L` for a plain learning rate η_t (computed as `exp(ln η_t + ln L)`).
//!
//! # Schedules
//! * [`Schedule::Paper`] — the paper's protocol (its section 6): η_t =
//!   start·factor^⌊t/period⌋ (1e-5, 1.1, 100), steps always taken.
//! * [`Schedule::Fast`] (default) — the loss-normalised step size of Lyu & Li (2019,
//!   "loss-based learning rate scheduling", their section 6/appendix): η_t = α_t / L(θ_t),
//!   i.e. `θ ← θ − α_t ∇L/L`, with α multiplied by `grow` after every accepted step and a
//!   safeguard against overshooting: a step that raises the loss is rejected and α is
//!   multiplied by `shrink`. Why the same direction: with exponentially-tailed losses,
//!   late-phase gradient descent is a time-reparametrised normalised flow; dividing the
//!   step by L only rescales time (the loss itself is a monotone function of the
//!   smoothed margin), so the iterates follow the same margin-increasing trajectory and
//!   Lyu & Li's analysis (smoothed normalised margin non-decreasing, limit points are
//!   KKT points of the max-margin problem) covers loss-based step sizes η ≤ c/L; the
//!   rejection rule keeps every step a descent step, which is what that analysis uses.
//!   The first step equals the paper's first step. BENCHMARKS.md compares the final
//!   normalised margin `q_min/‖θ‖²` of both schedules.
//!
//! # Screening (skipping samples late in training)
//! A sample whose normalised weight `r_i` is below `ε/(2n)` (ε the machine epsilon of
//! the training precision, n the batch size) is left out of the backward product: all
//! such samples together carry less than one rounding unit of the total weight 1, so
//! their contribution is below what the gradient can represent. The active set is
//! re-screened at every step from the margins of the full forward pass, so a sample
//! whose weight grows back is included at once. Tested against the dense step.
//!
//! # Kernels
//! Forward `X Wᵀ`, ReLU, loss, and backward as matrix products through faer's parallel
//! `matmul`, allocation-free per step. With [`Kernel::Gram`] the first-layer update,
//! which always lies in the row space of `X`, is applied to the pre-activations through
//! the Gram matrix `K = X Xᵀ` — one product per step instead of two (see `engine.rs`).
//!
//! # Stopping
//! A stop is an outcome ([`StopReason`]), never an error: loss target reached, KKT
//! certificate target reached ([`CertificateTarget`], docs/kkt.md), iteration or time
//! budget, no progress, stalled (too many rejections), stationary point, non-finite
//! values (with iteration and learning rate), or data that cannot be separated (a point
//! repeated with both labels). The best network so far is returned.
//!
//! # Checkpoints
//! [`TrainerState`] is everything the loop carries besides the network; with it
//! [`train_from`] continues a run exactly (see `checkpoint.rs` and docs/formats.md).
//!
//! # Files
//! `settings.rs` (what a run may be asked), `schedule.rs` (the step-size state
//! machine), `driver.rs` (the loop), `engine.rs` (the kernel), `loss.rs` (log-space
//! losses), `report.rs` (stop reasons, progress, report), `checkpoint.rs` (state and
//! resume), `memory.rs` (the estimate checked before allocating), `init.rs`,
//! `reference.rs` (plain loss and gradient), `duplicates.rs`, `stepper.rs`, `batches.rs`
//! (minibatch order), `certifier.rs` (the certificate stopping rule), `passes.rs` (the
//! kernel's element-wise passes).

mod batches;
mod certifier;
mod checkpoint;
mod driver;
mod duplicates;
mod engine;
mod real;
mod init;
mod loss;
mod memory;
mod passes;
mod reference;
mod report;
mod schedule;
mod settings;
mod stepper;

use thiserror::Error;

use crate::net::NetError;

pub use checkpoint::{
    checkpoint_path, companion, read_checkpoint, report_path, resume_point, write_checkpoint, Checkpoint, ResumePoint,
    TrainerState, CHECKPOINT_FORMAT, CHECKPOINT_FORMAT_V1,
};
pub use driver::{train, train_from};
pub use duplicates::find_conflicting_duplicate;
pub use init::init_net;
pub use memory::{check_memory, memory_estimate};
pub use reference::{loss_and_grad, LossGrad};
pub use report::{Progress, StopCode, StopReason, TrainOutcome, TrainReport, REPORT_FORMAT};
pub use schedule::ScheduleState;
pub use settings::{parse_log10, CertificateTarget, Kernel, Loss, Precision, Schedule, TrainSettings};
pub use stepper::Stepper;

/// Errors for misuse: bad settings, shapes, widths. Outcomes of training are
/// [`StopReason`]s, not errors.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TrainError {
    /// The network and data disagree (dimension), or a network could not be built.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A width of 0 (or a zero input dimension) was requested.
    #[error("cannot build a network of width k = {width} on input dimension d = {d}: both must be at least 1")]
    EmptyNet {
        /// Requested width.
        width: usize,
        /// Requested input dimension.
        d: usize,
    },
    /// A setting out of its range.
    #[error("invalid training setting {name} = {value}: {reason}")]
    Setting {
        /// Setting name.
        name: &'static str,
        /// Its value, printed.
        value: String,
        /// What is required.
        reason: &'static str,
    },
    /// A loss target that is not a positive number such as `1e-30` or `1e-400`.
    #[error("cannot read loss target {text:?}: expected a positive number such as 1e-30 (any exponent, e.g. 1e-400)")]
    Target {
        /// The text given.
        text: String,
    },
    /// The sizes overflow, or the run's memory estimate exceeds the budget
    /// ([`TrainSettings::max_memory`], else the process-wide `io::MemoryBudget`).
    #[error(transparent)]
    Budget(#[from] crate::io::BudgetError),
    /// An allocation was refused by the system.
    #[error("could not allocate {bytes} bytes for the network")]
    Allocation {
        /// Bytes asked for.
        bytes: u64,
    },
}

