//! Settings of the exact-radius search ([`RadiusSettings`]) and the choice of QP
//! backend ([`QpBackend`]), with their defaults and their validation.
//!
//! The meaning of each tolerance is in docs/radius.md.

use std::time::Duration;

use serde::Serialize;

use super::RadiusError;

/// Which QP method solves the per-node projections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QpBackend {
    /// Dual active-set (Goldfarb–Idnani) with cutting planes — the default; fastest by
    /// measurement (BENCHMARKS.md).
    DualActiveSet,
    /// Clarabel's interior-point method, re-solved after each cut (a fallback).
    Clarabel,
}

/// Settings of [`super::exact_radius`].
#[derive(Debug, Clone, PartialEq)]
pub struct RadiusSettings {
    /// Stop after this many node QPs (regions) and return a bracket. Default: none.
    pub max_regions: Option<usize>,
    /// Stop after this wall time and return a bracket. Default: none.
    pub time_limit: Option<Duration>,
    /// A node is closed when its lower bound reaches `upper·(1 − rel_tol)`.
    /// Default 1e-9.
    pub rel_tol: f64,
    /// A finished search is called exact when `upper − lower ≤ exact_tol·upper`.
    /// Default 1e-6.
    pub exact_tol: f64,
    /// QP feasibility tolerance, as a distance relative to `1 + ‖x‖`. Default 1e-12.
    pub qp_tol: f64,
    /// Iteration cap per QP (dual active set). Default 100 000.
    pub qp_max_iterations: usize,
    /// Cutting planes allowed per node. Default 10 000.
    pub max_cuts: usize,
    /// Relative stretches `s` tried, in order, to confirm a boundary point
    /// `x + (1 + s)δ` with the forward pass (`y·N ≤ 0` exactly, no tolerance).
    /// Default `[0, 1e-12, 1e-10, 1e-8]`.
    pub witness_stretch: Vec<f64>,
    /// Stop once `upper − lower ≤ gap·upper` (relative gap) and answer with a bracket
    /// whose reason is `gap` (exact when the gap is also within `exact_tol`).
    /// Default: none.
    pub gap: Option<f64>,
    /// Record the proof of the lower bound ([`super::SampleProof`]): every leaf of the
    /// tree with its fixed neurons, ball and multipliers. Default false.
    pub record_proof: bool,
    /// Every this many node QPs, also solve the leaf obtained by rounding the node's
    /// relaxed point (each unassigned neuron in its state there) — a cheap dive that
    /// finds incumbents early, so that more neurons get fixed. 0 turns it off.
    /// Default 8.
    pub heuristic_every: usize,
    /// QP backend. Default [`QpBackend::DualActiveSet`].
    pub backend: QpBackend,
    /// Tighten each relaxed neuron's range by the node's branching signs (the ball cut
    /// by half-spaces, docs/radius.md); false uses the ball's ranges alone. Default true.
    pub tighten_ranges: bool,
    /// Before branching, look for the largest ball around x that one quadratic minorant
    /// of the margin proves free of flipped points (docs/radius.md, "The ball bound");
    /// its radius is a lower bound besides the tree's. Skipped when `d > 400` (one
    /// eigen-decomposition of a d × d matrix per iteration; the limit is
    /// `ball_search::MAX_DIM`). Default true.
    pub ball_bound: bool,
    /// Stop with a bracket (reason `memory`) once the tree's open nodes and recorded
    /// proof leaves are estimated to hold this many bytes (docs/radius.md). Default:
    /// `None`, which means half of the process's memory budget at the start of the
    /// search ([`crate::io::MemoryBudget::global`]: the machine's available memory, or
    /// `--max-memory`).
    pub max_store_bytes: Option<u64>,
    /// Threads that evaluate a batch of nodes: 1 sequential, 0 rayon's default, n a
    /// pool of n. The answer and bracket do not depend on it (docs/radius.md).
    /// Default 1.
    pub threads: usize,
}

impl Default for RadiusSettings {
    fn default() -> Self {
        RadiusSettings {
            max_regions: None,
            time_limit: None,
            rel_tol: 1e-9,
            exact_tol: 1e-6,
            qp_tol: 1e-12,
            qp_max_iterations: 100_000,
            max_cuts: 10_000,
            witness_stretch: vec![0.0, 1e-12, 1e-10, 1e-8],
            gap: None,
            record_proof: false,
            heuristic_every: 8,
            backend: QpBackend::DualActiveSet,
            tighten_ranges: true,
            ball_bound: true,
            max_store_bytes: None,
            threads: 1,
        }
    }
}

impl RadiusSettings {
    /// Refuses negative or non-finite tolerances.
    pub(crate) fn check(&self) -> Result<(), RadiusError> {
        let pos = |name, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(RadiusError::BadSetting { name, value, reason: "must be finite and ≥ 0" })
            }
        };
        pos("rel_tol", self.rel_tol)?;
        pos("exact_tol", self.exact_tol)?;
        pos("qp_tol", self.qp_tol)?;
        if let Some(g) = self.gap {
            pos("gap", g)?;
        }
        if self.max_store_bytes == Some(0) {
            return Err(RadiusError::BadSetting { name: "max_store_bytes", value: 0.0, reason: "must be positive" });
        }
        for &s in &self.witness_stretch {
            pos("witness_stretch", s)?;
        }
        Ok(())
    }
}
