//! # relucert
//!
//! Certificates for what gradient descent does to depth-2 ReLU networks
//! `N_θ(x) = Σ_j v_j σ(w_j·x + b_j)`, following Vardi, Yehudai & Shamir, *Gradient
//! Methods Provably Converge to Non-Robust Networks* (NeurIPS 2022).
//!
//! * [`net`] — the network, margins, normalisation θ̂ = θ/√q_min, subgradients;
//! * [`data`] — datasets and seeded, portable generators;
//! * [`io`] — JSON, safetensors and NumPy `.npz` files (DESIGN §5);
//! * [`construct`] — the Theorem 3.1 robust network and the exact KKT network for
//!   orthogonal data;
//! * [`train`] — gradient descent to extreme losses (paper and fast schedules);
//! * [`kkt`] — KKT certificates (multipliers λ, (ε, δ), τ-profile) and their
//!   independent verification;
//! * [`polish`] — a certified KKT point of the max-margin problem near a network;
//! * [`radius`] — exact L2 robustness radii (branch and bound with witness and proof),
//!   ray and Figure 1 radii, and the Theorem 4.1 check;
//! * [`claims`] — the paper's claims as checks on shipped fixtures;
//! * [`experiments`] — the paper's figures as resumable, shardable sweeps;
//! * [`cli`] — the `relucert` command line.
//!
//! Linear algebra: the public API uses `nalgebra` matrices (`DMatrix<f64>`,
//! `DVector<f64>`) only.
#![deny(missing_docs)]

pub mod claims;
pub mod cli;
pub mod construct;
pub mod data;
pub mod experiments;
pub mod io;
pub mod kkt;
pub mod net;
pub mod polish;
pub mod radius;
pub mod train;

pub use data::{Dataset, Generator};
pub use net::Net;
