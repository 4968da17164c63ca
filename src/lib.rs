//! # relucert
//!
//! Certificates for what gradient descent does to depth-2 ReLU networks
//! `N_θ(x) = Σ_j v_j σ(w_j·x + b_j)`, following Vardi, Yehudai & Shamir, *Gradient
//! Methods Provably Converge to Non-Robust Networks* (NeurIPS 2022).
//!
//! * [`net`] — the network, margins, normalisation θ̂ = θ/√q_min, subgradients;
//! * [`data`] — datasets and seeded, portable generators;
//! * [`eval`] — a network's margins, q_min and accuracy on a dataset;
//! * [`io`] — JSON, safetensors and NumPy `.npz` files (docs/formats.md);
//! * [`construct`] — the Theorem 3.1 robust network and the exact KKT network for
//!   orthogonal data;
//! * [`train`] — gradient descent to extreme losses (paper and fast schedules);
//! * [`kkt`] — KKT certificates (multipliers λ, (ε, δ), τ-profile) and their
//!   independent verification;
//! * [`polish`] — a certified KKT point of the max-margin problem near a network;
//! * [`radius`] — exact L2 robustness radii (branch and bound with witness and proof),
//!   ray and Figure 1 radii, and the Theorem 4.1 check;
//! * [`claims`] — the paper's claims as checks on shipped fixtures;
//! * [`experiments`] — the paper's figures as resumable, shardable sweeps.
//!
//! Linear algebra: the public API uses `nalgebra` matrices (`DMatrix<f64>`,
//! `DVector<f64>`) only. The definitions behind each quantity are in the repository's
//! `docs/` folder (`docs/ARCHITECTURE.md` maps the modules).
//!
//! # Example
//!
//! Generate data on the sphere, build the Theorem 3.1 robust network, certify how far it
//! is from a KKT point, and compute an exact robustness radius:
//!
//! ```
//! use relucert::{construct, kkt, radius, Generator};
//!
//! let data = Generator::Sphere.generate(50, 10, 1)?; // d = 50, m = 10, seed 1
//! let (net, c) = construct::robust(&data, &construct::RobustSettings::default())?;
//! let cert = kkt::certify(&net, &data, &kkt::KktSettings::default())?;
//! assert!(cert.eps_rel > 0.1); // the robust network is far from a KKT point
//! let r = radius::exact_radius(&net, &data.row(0), data.y()[0], &radius::RadiusSettings::default())?;
//! // Theorem 3.1: every radius is at least (1 − c)/4·√d; `lower` is a certified bound.
//! assert!(r.lower >= construct::theorem31_radius_bound(c, data.d()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! * `cli` (default) — the `relucert` binary (its code lives in the binary, not in this
//!   library) and the `ValueEnum` derives that let its argument parser use the library's
//!   choice enums (hidden from these docs). Library users can depend on `relucert` with
//!   `default-features = false` to leave out the command-line crates.
#![deny(missing_docs)]

pub mod claims;
pub mod construct;
pub mod data;
pub mod eval;
pub mod experiments;
pub mod io;
pub mod kkt;
pub mod net;
pub mod polish;
pub mod radius;
pub mod train;

pub use data::{Dataset, Generator};
pub use net::Net;
