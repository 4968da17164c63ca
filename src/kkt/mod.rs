//! KKT certificates for the max-margin problem (the paper's Problem (2); the
//! mathematics is in docs/kkt.md):
//!
//! min ½‖θ‖² s.t. y_i N_θ(x_i) ≥ 1 for all i.
//!
//! For a separating network, θ̂ = θ/√q_min has smallest margin 1 and margins
//! q̂_i = q_i/q_min. The certificate is a vector of multipliers λ ≥ 0 on a *support*
//! (the on-margin samples q̂_i ≤ 1 + slack, or all samples), together with admissible
//! subgradients h_i ∈ ∂°_θ(y_i N(x_i)), such that
//!
//! ε = ‖θ̂ − Σ_i λ_i h_i‖  and  δ = Σ_i λ_i (q̂_i − 1)
//!
//! are small: θ̂ is then an (ε, δ)-approximate KKT point (Dutta et al. 2013; Lyu & Li
//! 2019). A ReLU whose pre-activation satisfies |u_ij| ≤ τ·‖(w_j, b_j)‖·‖(x_i, 1)‖ is an
//! *ambiguous pair*: its derivative s_ij may be any value in [0, 1]. With τ > 0 the
//! certificate is therefore (ε, δ)-KKT for this τ-relaxed subdifferential, which is
//! the Clarke subdifferential only at τ = 0. With μ_ij = λ_i s_ij (0 ≤ μ_ij ≤ λ_i) the
//! residual is linear in (λ, μ), so the best certificate solves a convex problem:
//!
//! * [`Norm::L2`]: a non-negative least-squares problem written through the Gram
//!   matrix of the gradient columns (an empirical NTK, m×m), so that no object of size
//!   k·d·m is formed: block-pivoting NNLS (`nnls`), and with ambiguous pairs block
//!   pivoting on the coupled problem (`coupled`), warm-started along the τ-ladder;
//!   clarabel (`qp`) only for comparison and as a fallback on small problems (`l2`).
//! * [`Norm::Linf`], [`Norm::L1`]: linear programs whose parameter rows enter a few at
//!   a time as columns of their dual, solved by a dense warm-started simplex
//!   (`simplex`), with the full residual recomputed by a structured product (`lpgen`);
//!   the explicit LP with good_lp + microlp (`lp`) remains as a reference. A memory estimate refuses, before allocating, a solve above the
//!   budget (`memory`).
//!
//! Whatever the solver returns, (λ, μ) is first projected onto the admissible set and
//! the residual is then computed explicitly in parameter space, so that the reported ε
//! is a true bound for the reported λ; [`verify`] recomputes it once more, independently,
//! from per-sample gradients ([`crate::net::Net::sample_gradient`]).
//!
//! Files: `settings` (norms, support, settings), `error`, `certify` (the driver),
//! `theta` (θ̂ without a copy), `problem` (one problem at one τ), `bitset`, `l2`/`nnls`/`coupled`/`qp` and `lpgen`/`simplex`/`lp`
//! (solvers), `memory` (estimates), `report` (the certificate), `verify` (the
//! independent check), `hash` (content hashes).

mod bitset;
mod certify;
mod coupled;
mod error;
mod hash;
mod l2;
mod lp;
mod lpgen;
mod memory;
mod nnls;
mod nnls_gram;
mod problem;
pub(crate) mod qp;
mod report;
mod schur;
mod settings;
mod simplex;
mod theta;
mod verify;

pub use certify::certify;
pub use error::KktError;
pub use hash::{data_content_hash, net_content_hash};
pub use report::{
    InputInfo, KktReport, SolveStatus, SolverInfo, SolverMethod, SubgradientChoice, TauPoint, REPORT_FORMAT,
};
pub(crate) use settings::support_limit;
pub use settings::{KktSettings, L2Solver, LpMethod, Norm, Support};
pub use verify::{verify, Verification, VerifyFailure, VERIFY_ABS_TOL, VERIFY_REL_TOL};
