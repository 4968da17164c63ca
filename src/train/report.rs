//! What a run hands back: why it stopped ([`StopReason`], an outcome, never an error),
//! the progress seen by the caller's callback ([`Progress`]), the report with the field
//! names of docs/reports.md ([`TrainReport`]), and the outcome bundling the returned
//! network with its report ([`TrainOutcome`]).

use serde::{Deserialize, Serialize};

use super::checkpoint::TrainerState;
use super::settings::TrainSettings;
use crate::net::Net;

/// Format tag of [`TrainReport`].
pub const REPORT_FORMAT: &str = "relucert/train@1";

/// Why training stopped. All are outcomes with a network; only some mean success.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopReason {
    /// The loss reached the target ([`TrainSettings::target_log10_loss`]).
    TargetLoss,
    /// The L2 KKT certificate reached the target relative residual
    /// ([`TrainSettings::target_eps_rel`]; see docs/kkt.md).
    TargetEpsRel {
        /// The certified ε_rel at the stop.
        eps_rel: f64,
    },
    /// `max_iters` proposals were made.
    MaxIterations,
    /// The time budget ran out.
    TimeLimit,
    /// The best loss improved by less than `min_progress` over `stall_window` iterations.
    NoProgress {
        /// Iteration at which this was detected.
        iteration: u64,
    },
    /// The fast schedule rejected `max_rejections` steps in a row.
    Stalled {
        /// Iteration at which this was detected.
        iteration: u64,
    },
    /// The gradient is exactly zero (e.g. every ReLU inactive on every sample).
    Stationary {
        /// Iteration at which this was detected.
        iteration: u64,
    },
    /// A step produced NaN or an overflow (paper schedule; the fast one backs off).
    NonFinite {
        /// Iteration of the step.
        iteration: u64,
        /// Its learning rate (may be reported as +∞ when it overflows f64).
        learning_rate: f64,
    },
    /// Samples i and j are the same point with opposite labels: every network has
    /// loss ≥ 1 on them, so the target < 1 cannot be reached.
    Inseparable {
        /// First sample (0-based).
        i: usize,
        /// Second sample.
        j: usize,
    },
}

impl StopReason {
    /// The kind of stop, without its details (the report's `stop_reason`).
    pub fn kind(&self) -> StopCode {
        match self {
            StopReason::TargetLoss => StopCode::TargetLoss,
            StopReason::TargetEpsRel { .. } => StopCode::TargetEpsRel,
            StopReason::MaxIterations => StopCode::MaxIterations,
            StopReason::TimeLimit => StopCode::TimeLimit,
            StopReason::NoProgress { .. } => StopCode::NoProgress,
            StopReason::Stalled { .. } => StopCode::Stalled,
            StopReason::Stationary { .. } => StopCode::Stationary,
            StopReason::NonFinite { .. } => StopCode::NonFinite,
            StopReason::Inseparable { .. } => StopCode::Inseparable,
        }
    }

    /// Short machine-readable code (the report's `stop_reason`), e.g. `target_loss`.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// Whether training failed (no progress possible), as opposed to reaching a target
    /// or running out of budget.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            StopReason::NoProgress { .. }
                | StopReason::Stalled { .. }
                | StopReason::Stationary { .. }
                | StopReason::NonFinite { .. }
                | StopReason::Inseparable { .. }
        )
    }
}

/// The kind of a [`StopReason`], as written in reports and checkpoints. Reading also
/// accepts `converged`, the name that files written before the rename use for
/// [`StopCode::TargetLoss`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCode {
    /// The loss reached the target.
    #[serde(alias = "converged")]
    TargetLoss,
    /// The certificate reached the target ε_rel.
    TargetEpsRel,
    /// The proposal budget ran out.
    MaxIterations,
    /// The time budget ran out.
    TimeLimit,
    /// No progress over the stall window.
    NoProgress,
    /// Too many rejections in a row.
    Stalled,
    /// Zero gradient.
    Stationary,
    /// NaN or overflow.
    NonFinite,
    /// A point repeated with both labels.
    Inseparable,
}

impl StopCode {
    /// The code as written in JSON.
    pub fn code(self) -> &'static str {
        match self {
            StopCode::TargetLoss => "target_loss",
            StopCode::TargetEpsRel => "target_eps_rel",
            StopCode::MaxIterations => "max_iterations",
            StopCode::TimeLimit => "time_limit",
            StopCode::NoProgress => "no_progress",
            StopCode::Stalled => "stalled",
            StopCode::Stationary => "stationary",
            StopCode::NonFinite => "non_finite",
            StopCode::Inseparable => "inseparable",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            StopReason::TargetLoss => write!(f, "loss reached the target"),
            StopReason::TargetEpsRel { eps_rel } => write!(f, "KKT certificate reached the target: eps_rel = {eps_rel:e}"),
            StopReason::MaxIterations => write!(f, "iteration budget exhausted"),
            StopReason::TimeLimit => write!(f, "time limit reached"),
            StopReason::NoProgress { iteration } => {
                write!(f, "no progress: the loss stopped decreasing (detected at iteration {iteration}); the data may not be separable by this network")
            }
            StopReason::Stalled { iteration } => {
                write!(f, "stalled at iteration {iteration}: every step raised the loss, even after shrinking the step size")
            }
            StopReason::Stationary { iteration } => {
                write!(f, "stationary point at iteration {iteration}: the gradient is exactly zero (all ReLUs inactive?)")
            }
            StopReason::NonFinite { iteration, learning_rate } => {
                write!(f, "non-finite values (NaN or overflow) at iteration {iteration} with learning rate {learning_rate:e}")
            }
            StopReason::Inseparable { i, j } => write!(
                f,
                "data cannot be separated: samples {i} and {j} are the same point with opposite labels (loss stays ≥ 1)"
            ),
        }
    }
}

impl Serialize for StopReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Progress of a run, handed to the caller's callback.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// Accepted iterations so far (counting from `start_iteration`).
    pub iteration: u64,
    /// log10 of the loss.
    pub log10_loss: f64,
    /// Smallest margin.
    pub q_min: f64,
    /// log10 of the learning rate η of the last step (η = s/L; the fast schedule's η
    /// overflows f64 at tiny losses, hence the log).
    pub log10_learning_rate: f64,
    /// Rejected steps so far.
    pub rejected_steps: u64,
    /// Samples in the last backward product (after screening).
    pub active_samples: usize,
    /// Seconds since the start.
    pub elapsed_seconds: f64,
    /// The current network, at checkpoint iterations only.
    pub checkpoint: Option<&'a Net>,
    /// The trainer's state, at checkpoint iterations only (store it beside the network
    /// to resume exactly, see [`TrainerState`]).
    pub state: Option<&'a TrainerState>,
}

/// Report of a run (the fields of docs/reports.md first).
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// [`REPORT_FORMAT`].
    pub format: &'static str,
    /// Accepted iterations of the returned network (counting from `start_iteration`).
    pub iterations: u64,
    /// log10 of the loss of the returned network.
    pub log10_loss: f64,
    /// Its smallest margin.
    pub q_min: f64,
    /// `q_min / ‖θ‖²` (scale-invariant; larger is closer to max-margin).
    pub normalized_margin: f64,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    /// Median seconds of one step (proposal).
    pub step_seconds_median: f64,
    /// Why it stopped (written as its code, see [`StopReason::code`]).
    pub stop_reason: StopReason,
    /// The stop reason in words.
    pub stop_message: String,
    /// Proposed steps, including rejected ones (after `start_iteration`).
    pub proposals: u64,
    /// Rejected steps (fast schedule).
    pub rejected_steps: u64,
    /// Iterations at the end of the run (the returned network is the best one, which
    /// may be earlier for the paper schedule).
    pub last_iteration: u64,
    /// log10 loss at the end of the run.
    pub last_log10_loss: f64,
    /// Training accuracy of the returned network.
    pub accuracy: f64,
    /// ‖θ‖² of the returned network.
    pub param_norm_sq: f64,
    /// Settings used.
    pub settings: TrainSettings,
    /// Kernel used (`direct` or `gram`).
    pub kernel_used: &'static str,
    /// Samples m.
    pub m: usize,
    /// Input dimension.
    pub d: usize,
    /// Width.
    pub width: usize,
    /// Whether the network has biases.
    pub bias: bool,
    /// The last certified ε_rel (L2, at `settings.kkt_tau`) when a certificate target
    /// was set ([`TrainSettings::target_eps_rel`]); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_eps_rel: Option<f64>,
    /// Certificates computed during the run (0 without a certificate target).
    #[serde(skip_serializing_if = "is_zero")]
    pub certifications: u64,
    /// Seconds spent computing certificates (included in `wall_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certify_seconds: Option<f64>,
}

fn is_zero(t: &u64) -> bool {
    *t == 0
}

impl TrainReport {
    /// A short human table.
    pub fn summary(&self) -> String {
        format!(
            "stop reason          {} ({})\n\
             iterations           {}\n\
             log10 loss           {:.4}\n\
             q_min                {:.6e}\n\
             normalized margin    {:.6e}\n\
             accuracy             {:.4}\n\
             wall seconds         {:.3}\n\
             median step seconds  {:.3e}\n\
             rejected steps       {}\n",
            self.stop_reason.code(),
            self.stop_message,
            self.iterations,
            self.log10_loss,
            self.q_min,
            self.normalized_margin,
            self.accuracy,
            self.wall_seconds,
            self.step_seconds_median,
            self.rejected_steps
        ) + &self.last_eps_rel.map_or(String::new(), |e| format!("last eps_rel          {e:.4e} ({} certificates)\n", self.certifications))
    }
}

/// Result of [`train`](super::train).
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The best network (lowest loss) seen.
    pub net: Net,
    /// The network at the end of the run (equal to `net` unless the loss went up).
    pub last: Net,
    /// Why training stopped.
    pub stop: StopReason,
    /// The report.
    pub report: TrainReport,
    /// The trainer's state at the end of the run (of `last`), to resume from.
    pub state: TrainerState,
}

