//! Gradient-descent training of depth-2 ReLU networks to extreme losses (issue 3).
//!
//! Objective (paper eq. (1)): `L(θ) = Σ_i ℓ(y_i N_θ(x_i))`, summed over samples, with the
//! exponential loss `ℓ(q) = e^{−q}` or the logistic loss `ℓ(q) = ln(1 + e^{−q})`.
//!
//! # Log space
//! The loss is carried as `ln L = LSE_i ln ℓ(q_i)` (log-sum-exp; a stable softplus form
//! for the logistic loss), so targets far below 1e-300 work and nothing under- or
//! overflows. The gradient is formed as `∇L / L = Σ_i r_i (−y_i ∇N(x_i))` with the
//! normalised weights `r_i = −ℓ'(q_i)/L ∈ (0, 1]`; a step is `θ ← θ − s·∇L/L`, with
//! `s = η_t·L` for a plain learning rate η_t (computed as `exp(ln η_t + ln L)`).
//!
//! # Schedules
//! * [`Schedule::Paper`] — the paper's protocol (section 6): η_t = start·factor^⌊t/period⌋
//!   (1e-5, 1.1, 100), steps always taken.
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
//!   The first step equals the paper's first step. We measure (BENCHMARKS.md) the final
//!   normalised margin `q_min/‖θ‖²` of both schedules to show the fast one ends at least
//!   as close to max-margin.
//!
//! # Screening (skipping samples late in training)
//! A sample whose normalised weight `r_i` is below `ε/(2n)` (ε the machine epsilon of
//! the training dtype, n the batch size) is left out of the backward product: all such
//! samples together carry less than one rounding unit of the total weight 1, so their
//! contribution is below what the gradient can represent. The active set is re-screened
//! at every step from the margins of the full forward pass, so a sample whose weight
//! grows back is included at once. Tested against the dense step.
//!
//! # Kernels
//! Forward `X Wᵀ`, ReLU, loss, and backward as matrix products through faer's parallel
//! `matmul`, allocation-free per step. With [`Kernel::Gram`] the first-layer update,
//! which always lies in the row space of `X`, is applied to the pre-activations through
//! the Gram matrix `K = X Xᵀ` — one product per step instead of two (see `engine`).
//!
//! # Stopping
//! A stop is an outcome ([`StopReason`]), never an error: target reached, iteration or
//! time budget, no progress, stalled (too many rejections), stationary point,
//! non-finite values (with iteration and learning rate), or data that cannot be
//! separated (a point repeated with both labels). The best network so far is returned.

mod engine;
mod loss;

use std::time::Instant;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;
use thiserror::Error;

use crate::data::{Dataset, Rng};
use crate::net::{Net, NetError};
use engine::{Engine, Mode, Real};
use loss::{ln_terms, log_sum_exp};

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
}

/// Loss function ℓ of the margin q.
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// `ℓ(q) = e^{−q}` (the paper's experiments).
    #[default]
    Exp,
    /// `ℓ(q) = ln(1 + e^{−q})`.
    Logistic,
}

/// Precision of the training arithmetic (the network is always exported as f64).
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// Double precision (default).
    #[default]
    F64,
    /// Single precision, as PyTorch's default.
    F32,
}

/// How the pre-activations are updated (results agree to rounding).
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    /// Gram when its per-step cost is lower (roughly m ≤ 2d) and K fits (m ≤ 20 000).
    #[default]
    Auto,
    /// Forward `X Wᵀ` and backward `Gᵀ X`: two products per step.
    Direct,
    /// Pre-activations updated through `K = X Xᵀ`: one product per step.
    Gram,
}

/// Learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Schedule {
    /// The paper's: η_t = start·factor^⌊t/period⌋, every step taken.
    Paper {
        /// Initial learning rate (paper: 1e-5).
        start: f64,
        /// Multiplicative increase (paper: 1.1).
        factor: f64,
        /// Iterations between increases (paper: 100).
        period: u64,
    },
    /// Loss-normalised steps η_t = α_t/L(θ_t) with backtracking (see the module docs).
    /// With minibatches the step uses the batch gradient and the full loss L, and it is
    /// rejected when it raises the batch's loss.
    Fast {
        /// Learning rate of the first step (α_0 = start·L(θ_0)); default 1e-5, the paper's.
        start: f64,
        /// α multiplier after an accepted step (default 1.05).
        grow: f64,
        /// α multiplier after a rejected step, one that raised the loss (default 0.5).
        shrink: f64,
        /// Upper bound on α (default 1). For a 2-homogeneous net `‖∇L/L‖ ≈ 2q/‖θ‖`, so α
        /// bounds the relative step `‖Δθ‖/‖θ‖ ≈ 2α·q/‖θ‖²`: a cap keeps the iterates
        /// close to the gradient-flow path that the max-margin theory follows.
        max_step: f64,
    },
}

impl Schedule {
    /// The paper's schedule: 1e-5, ×1.1 every 100 iterations.
    pub const PAPER: Schedule = Schedule::Paper { start: 1e-5, factor: 1.1, period: 100 };
    /// The default fast schedule.
    pub const FAST: Schedule = Schedule::Fast { start: 1e-5, grow: 1.05, shrink: 0.5, max_step: 1.0 };

    /// The paper schedule's learning rate at iteration t (0-based); `None` for `Fast`.
    pub fn paper_lr(&self, t: u64) -> Option<f64> {
        match *self {
            Schedule::Paper { start, factor, period } => Some(start * factor.powf((t / period.max(1)) as f64)),
            Schedule::Fast { .. } => None,
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::FAST
    }
}

/// Settings of [`train`]. Every field is documented with its default.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainSettings {
    /// Loss (default [`Loss::Exp`]).
    pub loss: Loss,
    /// Schedule (default [`Schedule::FAST`]).
    pub schedule: Schedule,
    /// Stop when log10 L ≤ this (default −30, the paper's 1e-30). A log so that targets
    /// below f64's range (e.g. −400) work; see [`parse_log10`].
    pub target_log10_loss: f64,
    /// Largest number of proposed steps, accepted or rejected (default 10 000 000).
    pub max_iters: u64,
    /// Wall-clock budget in seconds (default `None`: unlimited).
    pub time_limit: Option<f64>,
    /// Minibatch size (default `None`: full batch). A batch ≥ m is full batch (as the
    /// paper's 5 000 for smaller data sets). Batches are drawn without replacement from
    /// a permutation reshuffled each epoch with [`TrainSettings::seed`].
    pub batch: Option<usize>,
    /// Seed of the minibatch shuffling (default 0).
    pub seed: u64,
    /// Precision of the arithmetic (default [`Dtype::F64`]).
    pub dtype: Dtype,
    /// Kernel (default [`Kernel::Auto`]).
    pub kernel: Kernel,
    /// Skip samples with unrepresentably small gradient weight (default true; see the
    /// module docs).
    pub screening: bool,
    /// Threads for the matrix products and element-wise passes (default 2; 0 = all of
    /// rayon's, 1 = sequential).
    pub threads: usize,
    /// Call the progress callback every this many accepted iterations (default 100).
    pub progress_every: u64,
    /// Offer a checkpoint network to the callback every this many accepted iterations
    /// (default `None`).
    pub checkpoint_every: Option<u64>,
    /// Stop with [`StopReason::NoProgress`] when the best ln-loss improves by less than
    /// `min_progress` over this many accepted iterations (default 20 000).
    pub stall_window: u64,
    /// Required improvement of the best natural-log loss per window (default 1e-9).
    pub min_progress: f64,
    /// Stop with [`StopReason::Stalled`] after this many consecutive rejected steps
    /// (fast schedule; default 100, i.e. α shrunk by 2^100).
    pub max_rejections: u32,
    /// Gram kernel: recompute the pre-activations exactly every this many steps
    /// (default 64).
    pub refresh: usize,
    /// Iteration number of the initial network (default 0); the paper schedule's
    /// learning rate continues from it (for `--resume`).
    pub start_iteration: u64,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            loss: Loss::Exp,
            schedule: Schedule::FAST,
            target_log10_loss: -30.0,
            max_iters: 10_000_000,
            time_limit: None,
            batch: None,
            seed: 0,
            dtype: Dtype::F64,
            kernel: Kernel::Auto,
            screening: true,
            threads: 2,
            progress_every: 100,
            checkpoint_every: None,
            stall_window: 20_000,
            min_progress: 1e-9,
            max_rejections: 100,
            refresh: 64,
            start_iteration: 0,
        }
    }
}

impl TrainSettings {
    fn validate(&self) -> Result<(), TrainError> {
        let bad = |name, value: String, reason| Err(TrainError::Setting { name, value, reason });
        if self.target_log10_loss.is_nan() {
            return bad("target_log10_loss", "NaN".into(), "must be a number");
        }
        match self.schedule {
            Schedule::Paper { start, factor, period } => {
                if !(start.is_finite() && start > 0.0) {
                    return bad("schedule.start", start.to_string(), "must be positive and finite");
                }
                if !(factor.is_finite() && factor > 0.0) {
                    return bad("schedule.factor", factor.to_string(), "must be positive and finite");
                }
                if period == 0 {
                    return bad("schedule.period", "0".into(), "must be at least 1");
                }
            }
            Schedule::Fast { start, grow, shrink, max_step } => {
                if max_step.is_nan() || max_step <= 0.0 {
                    return bad("schedule.max_step", max_step.to_string(), "must be positive");
                }
                if !(start.is_finite() && start > 0.0) {
                    return bad("schedule.start", start.to_string(), "must be positive and finite");
                }
                if !(grow.is_finite() && grow >= 1.0) {
                    return bad("schedule.grow", grow.to_string(), "must be finite and at least 1");
                }
                if !(shrink > 0.0 && shrink < 1.0) {
                    return bad("schedule.shrink", shrink.to_string(), "must lie in (0, 1)");
                }
            }
        }
        if self.batch == Some(0) {
            return bad("batch", "0".into(), "must be at least 1");
        }
        if let Some(t) = self.time_limit {
            if t.is_nan() || t < 0.0 {
                return bad("time_limit", t.to_string(), "must be ≥ 0 seconds");
            }
        }
        if self.progress_every == 0 {
            return bad("progress_every", "0".into(), "must be at least 1");
        }
        if self.checkpoint_every == Some(0) {
            return bad("checkpoint_every", "0".into(), "must be at least 1");
        }
        if self.stall_window == 0 {
            return bad("stall_window", "0".into(), "must be at least 1");
        }
        if self.min_progress.is_nan() || self.min_progress < 0.0 {
            return bad("min_progress", self.min_progress.to_string(), "must be ≥ 0");
        }
        Ok(())
    }
}

/// Parses a loss target such as `1e-30` or `1e-400` into its log10 without going
/// through f64 (whose range ends near 1e-308).
pub fn parse_log10(text: &str) -> Result<f64, TrainError> {
    let err = || TrainError::Target { text: text.to_string() };
    let t = text.trim();
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(p) => (&t[..p], t[p + 1..].parse::<i64>().map_err(|_| err())?),
        None => (t, 0),
    };
    let mant: f64 = mant.parse().map_err(|_| err())?;
    if !(mant.is_finite() && mant > 0.0) {
        return Err(err());
    }
    Ok(mant.log10() + exp as f64)
}

/// Why training stopped. All are outcomes with a network; only some mean success.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopReason {
    /// The loss reached the target.
    Converged,
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
    /// Short machine-readable code (the report's `stop_reason`).
    pub fn code(&self) -> &'static str {
        match self {
            StopReason::Converged => "converged",
            StopReason::MaxIterations => "max_iterations",
            StopReason::TimeLimit => "time_limit",
            StopReason::NoProgress { .. } => "no_progress",
            StopReason::Stalled { .. } => "stalled",
            StopReason::Stationary { .. } => "stationary",
            StopReason::NonFinite { .. } => "non_finite",
            StopReason::Inseparable { .. } => "inseparable",
        }
    }

    /// Whether training failed (no progress possible), as opposed to converged or ran
    /// out of budget.
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

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            StopReason::Converged => write!(f, "loss reached the target"),
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
}

/// Report of a run (DESIGN §7 field names first).
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// `"relucert/train@1"`.
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
    /// Why it stopped (a code, see [`StopReason::code`]).
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
    /// Samples m, dimension d, width k, bias.
    pub m: usize,
    /// Input dimension.
    pub d: usize,
    /// Width.
    pub width: usize,
    /// Whether the network has biases.
    pub bias: bool,
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
        )
    }
}

/// Result of [`train`].
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
}

/// Loss and gradient at one network (plain f64 nalgebra implementation, independent of
/// the training kernel).
#[derive(Debug, Clone)]
pub struct LossGrad {
    /// Natural log of the loss.
    pub ln_loss: f64,
    /// `∇L / L` in the layout of [`Net::flatten`] (always representable).
    pub grad_over_loss: DVector<f64>,
    /// Margins `q_i`.
    pub margins: DVector<f64>,
}

impl LossGrad {
    /// log10 of the loss.
    pub fn log10_loss(&self) -> f64 {
        self.ln_loss / std::f64::consts::LN_10
    }

    /// The loss (0 when below f64's range).
    pub fn loss(&self) -> f64 {
        self.ln_loss.exp()
    }

    /// `∇L` itself (underflows to 0 when the loss is below f64's range).
    pub fn grad(&self) -> DVector<f64> {
        &self.grad_over_loss * self.ln_loss.exp()
    }
}

/// Loss `Σ ℓ(y_i N(x_i))` (as its log) and its gradient, with the ReLU derivative 1
/// for u > 0 and 0 for u ≤ 0 (PyTorch's convention).
pub fn loss_and_grad(net: &Net, data: &Dataset, loss: Loss) -> Result<LossGrad, TrainError> {
    net.check_data(data)?;
    let x = data.x();
    let y = data.y();
    let u = net.preactivations(x);
    let h = u.map(|t| t.max(0.0));
    let q = (&h * net.v()).component_mul(y);
    let ln_loss = log_sum_exp(q.iter().map(|&t| ln_terms(loss, t).0));
    let a = DVector::from_fn(data.m(), |i, _| -y[i] * (ln_terms(loss, q[i]).1 - ln_loss).exp());
    let (m, k) = (data.m(), net.width());
    let g = DMatrix::from_fn(m, k, |i, j| if u[(i, j)] > 0.0 { a[i] * net.v()[j] } else { 0.0 });
    let dw = g.transpose() * x;
    let dv = h.transpose() * &a;
    let mut out = Vec::with_capacity(net.param_count());
    for j in 0..k {
        out.extend(dw.row(j).iter());
    }
    if net.has_bias() {
        out.extend((0..k).map(|j| g.column(j).sum()));
    }
    out.extend(dv.iter());
    Ok(LossGrad { ln_loss, grad_over_loss: DVector::from_vec(out), margins: q })
}

/// PyTorch's default `nn.Linear` initialisation, multiplied by `scale`:
/// `w_jc, b_j ~ U(−1/√d, 1/√d)`, `v_j ~ U(−1/√k, 1/√k)` (Kaiming-uniform with a = √5),
/// drawn from [`Rng`] seeded with `seed` in the order w (row-major), b, v.
pub fn init_net(d: usize, k: usize, bias: bool, seed: u64, scale: f64) -> Result<Net, TrainError> {
    if d == 0 || k == 0 {
        return Err(TrainError::EmptyNet { width: k, d });
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(TrainError::Setting { name: "init_scale", value: scale.to_string(), reason: "must be positive and finite" });
    }
    let mut rng = Rng::seed_from_u64(seed);
    let b1 = 1.0 / (d as f64).sqrt();
    let b2 = 1.0 / (k as f64).sqrt();
    let w: Vec<f64> = (0..k * d).map(|_| scale * rng.uniform_in(-b1, b1)).collect();
    let b: Option<Vec<f64>> = bias.then(|| (0..k).map(|_| scale * rng.uniform_in(-b1, b1)).collect());
    let v: Vec<f64> = (0..k).map(|_| scale * rng.uniform_in(-b2, b2)).collect();
    Ok(Net::from_rows(d, &w, b.as_deref(), &v)?)
}

/// Two samples that are the same point with opposite labels, if any.
pub fn find_conflicting_duplicate(data: &Dataset) -> Option<(usize, usize)> {
    let m = data.m();
    let mut idx: Vec<usize> = (0..m).collect();
    let x = data.x();
    let row = |i: usize| x.row(i).iter().map(|t| t.to_bits()).collect::<Vec<u64>>();
    let rows: Vec<Vec<u64>> = (0..m).map(row).collect();
    idx.sort_by(|&a, &b| rows[a].cmp(&rows[b]));
    for w in idx.windows(2) {
        let (a, b) = (w[0], w[1]);
        if rows[a] == rows[b] && data.y()[a] != data.y()[b] {
            return Some((a.min(b), a.max(b)));
        }
    }
    // Equal rows may not be adjacent when three or more copies exist with mixed labels.
    let mut start = 0;
    while start < m {
        let mut end = start + 1;
        while end < m && rows[idx[end]] == rows[idx[start]] {
            end += 1;
        }
        let group = &idx[start..end];
        if let Some(&p) = group.iter().find(|&&i| data.y()[i] > 0.0) {
            if let Some(&n) = group.iter().find(|&&i| data.y()[i] < 0.0) {
                return Some((p.min(n), p.max(n)));
            }
        }
        start = end;
    }
    None
}

/// Largest m for which the Gram kernel may be chosen automatically (K is m×m).
const GRAM_MAX_M: usize = 20_000;

fn choose_mode(kernel: Kernel, m: usize, d: usize, n: usize, refresh: usize) -> Mode {
    match kernel {
        Kernel::Direct => Mode::Direct,
        Kernel::Gram => Mode::Gram,
        Kernel::Auto => {
            // Per-step work divided by k: direct m·d + n·d; gram m·n + 2·m·d/refresh.
            let direct = (m * d + n * d) as f64;
            let gram = (m * n) as f64 + 2.0 * (m * d) as f64 / refresh.max(1) as f64;
            if m <= GRAM_MAX_M && gram < 0.9 * direct {
                Mode::Gram
            } else {
                Mode::Direct
            }
        }
    }
}

/// Trains `init` on `data` until a [`StopReason`]; `progress` is called every
/// `progress_every` accepted iterations (and with a network at checkpoints).
///
/// Errors only for misuse: settings out of range, or a network whose input dimension
/// differs from the data's.
pub fn train(
    data: &Dataset,
    init: Net,
    settings: &TrainSettings,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<TrainOutcome, TrainError> {
    settings.validate()?;
    init.check_data(data)?;
    match settings.dtype {
        Dtype::F64 => run::<f64>(data, init, settings, progress),
        Dtype::F32 => run::<f32>(data, init, settings, progress),
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn export<T: Real>(eng: &mut Engine<T>) -> Result<Net, TrainError> {
    let (w, b, v) = eng.export();
    Ok(Net::from_rows(eng.d, &w, b.as_deref(), &v)?)
}

fn run<T: Real>(
    data: &Dataset,
    init: Net,
    st: &TrainSettings,
    progress: &mut dyn FnMut(&Progress<'_>),
) -> Result<TrainOutcome, TrainError> {
    let started = Instant::now();
    let (m, d, k) = (data.m(), data.d(), init.width());
    let ln10 = std::f64::consts::LN_10;
    let ln_target = st.target_log10_loss * ln10;
    let batch_size = st.batch.filter(|&b| b < m);
    let n = batch_size.unwrap_or(m);
    let mode = choose_mode(st.kernel, m, d, n, st.refresh);
    let x_rows: Vec<f64> = (0..m).flat_map(|i| data.x().row(i).iter().copied().collect::<Vec<_>>()).collect();
    let w_rows: Vec<f64> = (0..k).flat_map(|j| init.w().row(j).iter().copied().collect::<Vec<_>>()).collect();
    let b: Option<Vec<f64>> = init.b().map(|b| b.iter().copied().collect());
    let v: Vec<f64> = init.v().iter().copied().collect();
    let threads = if st.threads == 0 { rayon::current_num_threads() } else { st.threads };
    let y: Vec<f64> = data.y().iter().copied().collect();
    let mut eng = Engine::<T>::new(&x_rows, &y, d, &w_rows, b.as_deref(), &v, st.loss, mode, st.refresh, threads);

    let mut rng = Rng::seed_from_u64(st.seed);
    let mut perm: Vec<usize> = (0..m).collect();
    let mut pos = m; // forces a shuffle before the first minibatch
    let mut batch: Vec<usize> = Vec::new();

    let mut iter = st.start_iteration;
    let mut proposals = 0u64;
    let mut rejected = 0u64;
    let mut consecutive = 0u32;
    let mut alpha: Option<f64> = None;
    let mut ln_l = eng.ln_loss(&eng.q, None);
    let mut best_ln = ln_l;
    let mut best: Option<(Net, u64)> = None; // None: the current state is the best
    let mut window_start = (iter, best_ln);
    let mut times: Vec<f64> = Vec::new();
    let mut need_grad = true;
    let mut ln_lb = ln_l;
    let mut log10_lr = f64::NAN;
    let mut last_reported = u64::MAX;

    let stop = 'outer: {
        if ln_target < 0.0 {
            if let Some((i, j)) = find_conflicting_duplicate(data) {
                break 'outer StopReason::Inseparable { i, j };
            }
        }
        if ln_l.is_nan() || eng.q.iter().any(|t| !t.is_finite()) {
            break 'outer StopReason::NonFinite { iteration: iter, learning_rate: 0.0 };
        }
        loop {
            if ln_l <= ln_target {
                break 'outer StopReason::Converged;
            }
            if proposals >= st.max_iters {
                break 'outer StopReason::MaxIterations;
            }
            if let Some(limit) = st.time_limit {
                if started.elapsed().as_secs_f64() >= limit {
                    break 'outer StopReason::TimeLimit;
                }
            }
            if iter >= window_start.0 + st.stall_window {
                if window_start.1 - best_ln < st.min_progress {
                    break 'outer StopReason::NoProgress { iteration: iter };
                }
                window_start = (iter, best_ln);
            }
            let t0 = Instant::now();
            if need_grad {
                let bref = match batch_size {
                    None => None,
                    Some(bs) => {
                        if pos + bs > m {
                            rng.shuffle(&mut perm);
                            pos = 0;
                        }
                        batch.clear();
                        batch.extend_from_slice(&perm[pos..pos + bs]);
                        batch.sort_unstable();
                        pos += bs;
                        Some(&batch[..])
                    }
                };
                ln_lb = match bref {
                    None => ln_l,
                    Some(bi) => eng.ln_loss(&eng.q, Some(bi)),
                };
                eng.gradient(bref, ln_lb, st.screening);
                if eng.gradient_is_zero() {
                    break 'outer StopReason::Stationary { iteration: iter };
                }
                need_grad = false;
            }
            let (step, ln_lr) = match st.schedule {
                Schedule::Paper { start, factor, period } => {
                    let ln_lr = start.ln() + ((iter / period) as f64) * factor.ln();
                    ((ln_lr + ln_lb).exp(), ln_lr)
                }
                Schedule::Fast { start, max_step, .. } => {
                    // η = α/L with the full loss L; the batch gradient is normalised by
                    // L_B, so the multiplier of ∇L_B/L_B is α·L_B/L (1 for full batch).
                    let a = *alpha.get_or_insert_with(|| (start.ln() + ln_l).exp().min(max_step));
                    ((a.ln() + ln_lb - ln_l).exp(), a.ln() - ln_l)
                }
            };
            log10_lr = ln_lr / ln10;
            let finite = eng.propose(step);
            let ln_new = if finite { eng.ln_loss(&eng.q2, None) } else { f64::NAN };
            proposals += 1;
            let accept = match st.schedule {
                Schedule::Paper { .. } => {
                    if !finite || ln_new.is_nan() {
                        break 'outer StopReason::NonFinite { iteration: iter, learning_rate: ln_lr.exp() };
                    }
                    true
                }
                Schedule::Fast { grow, shrink, max_step, .. } => {
                    let a = alpha.get_or_insert(max_step);
                    // Full batch: the loss must not rise. Minibatch: the batch's loss
                    // must not rise (a stochastic line search; a batch gradient need not
                    // be a descent direction of the full loss).
                    let ok = match batch_size {
                        None => ln_new <= ln_l,
                        Some(_) => eng.ln_loss(&eng.q2, Some(&batch)) <= ln_lb,
                    };
                    if finite && ok {
                        *a = (*a * grow).min(max_step);
                        consecutive = 0;
                        true
                    } else {
                        *a *= shrink;
                        consecutive += 1;
                        rejected += 1;
                        false
                    }
                }
            };
            if accept {
                if ln_new > ln_l && best.is_none() {
                    best = Some((export(&mut eng)?, iter));
                }
                eng.accept(step);
                iter += 1;
                need_grad = true;
                ln_l = eng.ln_loss(&eng.q, None);
                if ln_l.is_nan() {
                    break 'outer StopReason::NonFinite { iteration: iter, learning_rate: ln_lr.exp() };
                }
                if ln_l <= best_ln {
                    best_ln = ln_l;
                    best = None;
                }
            }
            times.push(t0.elapsed().as_secs_f64());
            if consecutive >= st.max_rejections {
                break 'outer StopReason::Stalled { iteration: iter };
            }
            if accept {
                let done = iter - st.start_iteration;
                let ckpt = st.checkpoint_every.is_some_and(|c| done % c == 0);
                if ckpt || done % st.progress_every == 0 {
                    last_reported = iter;
                    let net = if ckpt { Some(export(&mut eng)?) } else { None };
                    let q_min = eng.q.iter().copied().fold(f64::INFINITY, f64::min);
                    progress(&Progress {
                        iteration: iter,
                        log10_loss: ln_l / ln10,
                        q_min,
                        log10_learning_rate: log10_lr,
                        rejected_steps: rejected,
                        active_samples: eng.active.len(),
                        elapsed_seconds: started.elapsed().as_secs_f64(),
                        checkpoint: net.as_ref(),
                    });
                }
            }
        }
    };

    let last = export(&mut eng)?;
    let last_iteration = iter;
    let last_ln = ln_l;
    let (net, iterations) = match best {
        Some((net, it)) => (net, it),
        None => (last.clone(), iter),
    };
    let lg = loss_and_grad(&net, data, st.loss)?;
    let q_min = lg.margins.iter().copied().fold(f64::INFINITY, f64::min);
    let norm2 = net.param_norm_sq();
    let accuracy = net.accuracy(data)?;
    let q_final = eng.q.iter().copied().fold(f64::INFINITY, f64::min);
    if last_reported != iter {
        progress(&Progress {
            iteration: iter,
            log10_loss: last_ln / ln10,
            q_min: q_final,
            log10_learning_rate: log10_lr,
            rejected_steps: rejected,
            active_samples: eng.active.len(),
            elapsed_seconds: started.elapsed().as_secs_f64(),
            checkpoint: None,
        });
    }
    let report = TrainReport {
        format: "relucert/train@1",
        iterations,
        log10_loss: lg.log10_loss(),
        q_min,
        normalized_margin: q_min / norm2,
        wall_seconds: started.elapsed().as_secs_f64(),
        step_seconds_median: median(&mut times),
        stop_reason: stop,
        stop_message: stop.to_string(),
        proposals,
        rejected_steps: rejected,
        last_iteration,
        last_log10_loss: last_ln / ln10,
        accuracy,
        param_norm_sq: norm2,
        settings: st.clone(),
        kernel_used: match mode {
            Mode::Direct => "direct",
            Mode::Gram => "gram",
        },
        m,
        d,
        width: k,
        bias: net.has_bias(),
    };
    Ok(TrainOutcome { net, last, stop, report })
}

enum AnyEngine {
    F64(Engine<f64>),
    F32(Engine<f32>),
}

/// One full-batch gradient step at a time, with a fixed learning rate: the hot kernel
/// without the schedule logic (for benchmarks and for callers that drive their own
/// loop). Uses the settings' loss, dtype, kernel, screening and threads.
pub struct Stepper {
    eng: AnyEngine,
    screening: bool,
}

impl Stepper {
    /// Prepares the buffers (and, for the Gram kernel, `K = X Xᵀ`).
    pub fn new(data: &Dataset, init: &Net, settings: &TrainSettings) -> Result<Stepper, TrainError> {
        settings.validate()?;
        init.check_data(data)?;
        let (m, d, k) = (data.m(), data.d(), init.width());
        let mode = choose_mode(settings.kernel, m, d, m, settings.refresh);
        let x: Vec<f64> = (0..m).flat_map(|i| data.x().row(i).iter().copied().collect::<Vec<_>>()).collect();
        let w: Vec<f64> = (0..k).flat_map(|j| init.w().row(j).iter().copied().collect::<Vec<_>>()).collect();
        let b: Option<Vec<f64>> = init.b().map(|b| b.iter().copied().collect());
        let v: Vec<f64> = init.v().iter().copied().collect();
        let y: Vec<f64> = data.y().iter().copied().collect();
        let threads = if settings.threads == 0 { rayon::current_num_threads() } else { settings.threads };
        let (loss, refresh) = (settings.loss, settings.refresh);
        let eng = match settings.dtype {
            Dtype::F64 => AnyEngine::F64(Engine::new(&x, &y, d, &w, b.as_deref(), &v, loss, mode, refresh, threads)),
            Dtype::F32 => AnyEngine::F32(Engine::new(&x, &y, d, &w, b.as_deref(), &v, loss, mode, refresh, threads)),
        };
        Ok(Stepper { eng, screening: settings.screening })
    }

    /// One step `θ ← θ − lr·∇L(θ)`: gradient, proposal, forward pass of the new point.
    /// Returns the natural log of the new loss (NaN when a margin is not finite; the
    /// step is then not taken).
    pub fn step(&mut self, lr: f64) -> f64 {
        fn go<T: Real>(e: &mut Engine<T>, lr: f64, screening: bool) -> f64 {
            let ln_l = e.ln_loss(&e.q, None);
            e.gradient(None, ln_l, screening);
            let s = (lr.ln() + ln_l).exp();
            if !e.propose(s) {
                return f64::NAN;
            }
            e.accept(s);
            e.ln_loss(&e.q, None)
        }
        match &mut self.eng {
            AnyEngine::F64(e) => go(e, lr, self.screening),
            AnyEngine::F32(e) => go(e, lr, self.screening),
        }
    }

    /// The current network.
    pub fn net(&mut self) -> Result<Net, TrainError> {
        match &mut self.eng {
            AnyEngine::F64(e) => export(e),
            AnyEngine::F32(e) => export(e),
        }
    }
}
