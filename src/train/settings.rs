//! Settings of a training run: the loss, the arithmetic precision, the kernel, the
//! learning-rate schedule's parameters, and every budget and tolerance of
//! [`TrainSettings`], checked once by `validate` before a run starts. Also the parser
//! of loss targets below f64's range ([`parse_log10`]).
//!
//! The schedules themselves (how a step size evolves) live in `schedule.rs`; this file
//! only holds their parameters.

use serde::Serialize;

use super::TrainError;

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
/// Serialised as `"f64"`/`"f32"` under the report's `settings.dtype`.
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
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

/// Settings of [`train`](super::train). Every field is documented with its default.
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
    /// Precision of the arithmetic (default [`Precision::F64`]).
    pub dtype: Precision,
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
    /// Stop with [`StopReason::NoProgress`](super::StopReason::NoProgress) when the best ln-loss improves by less than
    /// `min_progress` over this many accepted iterations (default 20 000).
    pub stall_window: u64,
    /// Required improvement of the best natural-log loss per window (default 1e-9).
    pub min_progress: f64,
    /// Stop with [`StopReason::Stalled`](super::StopReason::Stalled) after this many consecutive rejected steps
    /// (fast schedule; default 100, i.e. α shrunk by 2^100).
    pub max_rejections: u32,
    /// Gram kernel: recompute the pre-activations exactly every this many steps
    /// (default 64).
    pub refresh: usize,
    /// Iteration number of the initial network (default 0); the paper schedule's
    /// learning rate continues from it (for `--resume`). `start_iteration + max_iters`
    /// must fit in a `u64`.
    pub start_iteration: u64,
    /// Stop once the L2 KKT certificate reaches a relative residual (default `None`:
    /// no certificate is computed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateTarget>,
    /// Refuse to start when the estimated memory of the run ([`memory_estimate`](super::memory_estimate))
    /// exceeds this many bytes (default `None`: no check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<u64>,
}

/// A stopping rule on the KKT certificate (docs/kkt.md): every so many accepted steps the
/// current network is certified with `kkt::certify` (L2 norm, on-margin support with the
/// paper's 10 % slack, no τ-profile), and the run stops with
/// [`StopReason::TargetEpsRel`](super::StopReason::TargetEpsRel) once ε_rel ≤ `eps_rel`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CertificateTarget {
    /// Target relative residual ε_rel (e.g. 0.05).
    pub eps_rel: f64,
    /// Ambiguity tolerance τ of the certificate (e.g. 1e-3).
    pub tau: f64,
    /// Certify every this many accepted steps; `None` (the default) chooses the interval
    /// from the measured costs so that certificates take about `overhead` of the run's
    /// time (the stop iteration then depends on timing; the iterates do not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// Target share of the run's time spent certifying when `every` is `None`
    /// (default 0.1).
    pub overhead: f64,
}

impl CertificateTarget {
    /// A target of `eps_rel` at τ = `tau`, interval chosen by cost (10 % overhead).
    pub fn new(eps_rel: f64, tau: f64) -> CertificateTarget {
        CertificateTarget { eps_rel, tau, every: None, overhead: 0.1 }
    }
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
            dtype: Precision::F64,
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
            certificate: None,
            max_memory: None,
        }
    }
}

impl TrainSettings {
    pub(crate) fn validate(&self) -> Result<(), TrainError> {
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
        if self.start_iteration.checked_add(self.max_iters).is_none() {
            return bad("start_iteration", self.start_iteration.to_string(), "start_iteration + max_iters must be at most 2^64 − 1");
        }
        if let Some(c) = &self.certificate {
            if !(c.eps_rel.is_finite() && c.eps_rel >= 0.0) {
                return bad("certificate.eps_rel", c.eps_rel.to_string(), "must be finite and ≥ 0");
            }
            if !(c.tau.is_finite() && c.tau >= 0.0) {
                return bad("certificate.tau", c.tau.to_string(), "must be finite and ≥ 0");
            }
            if c.every == Some(0) {
                return bad("certificate.every", "0".into(), "must be at least 1");
            }
            if !(c.overhead > 0.0 && c.overhead < 1.0) {
                return bad("certificate.overhead", c.overhead.to_string(), "must lie in (0, 1)");
            }
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
