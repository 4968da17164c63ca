//! The L2 problem with its ambiguity constraints, as a convex QP for clarabel:
//! minimise ½ zᵀ G z − cᵀ z subject to z ≥ 0 and μ_t ≤ λ_a for each ambiguous pair
//! t = (a, j). G is dense (the Gram matrix of the gradient columns), passed as its upper
//! triangle in CSC form. The SQP step of `polish` solves the same QP with tighter
//! tolerances ([`QpTolerances`]).

use clarabel::algebra::CscMatrix;
use clarabel::solver::{DefaultSettings, DefaultSolver, IPSolver, NonnegativeConeT, SolverStatus};

/// Result of [`solve`].
pub(crate) struct QpResult {
    pub z: Vec<f64>,
    pub status: SolverStatus,
    pub iterations: u32,
}

/// Clarabel's stopping tolerances and time limit for one solve.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QpTolerances {
    /// Absolute and relative duality gap.
    pub gap: f64,
    /// Primal and dual feasibility.
    pub feas: f64,
    /// Seconds (infinite for none).
    pub time_limit: f64,
}

impl QpTolerances {
    /// The certificate's: tighter than 1e-10 often ends in InsufficientProgress on
    /// singular Gram matrices.
    pub fn certificate(time_limit: f64) -> QpTolerances {
        QpTolerances { gap: 1e-10, feas: 1e-10, time_limit }
    }
}

/// Solves the QP with clarabel. `amb_owner[t]` is the λ index a of μ_t (variable ns + t).
pub(crate) fn solve(
    ns: usize,
    amb_owner: &[usize],
    gram: impl Fn(usize, usize) -> f64,
    c: &[f64],
    tol: QpTolerances,
) -> Result<QpResult, String> {
    let n = ns + amb_owner.len();
    // Upper triangle of G, column by column.
    let mut colptr = Vec::with_capacity(n + 1);
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    colptr.push(0);
    for q in 0..n {
        for p in 0..=q {
            let g = gram(p, q);
            if g != 0.0 || p == q {
                rowval.push(p);
                nzval.push(g);
            }
        }
        colptr.push(rowval.len());
    }
    let pm = CscMatrix::new(n, n, colptr, rowval, nzval);
    let q: Vec<f64> = c.iter().map(|t| -t).collect();
    // Constraints s = b − A z ∈ R₊: rows 0..n are −z_p (so z ≥ 0); row n + t is
    // μ_t − λ_a (so λ_a − μ_t ≥ 0).
    let rows = n + amb_owner.len();
    let mut cols: Vec<Vec<(usize, f64)>> = (0..n).map(|p| vec![(p, -1.0)]).collect();
    for (t, &a) in amb_owner.iter().enumerate() {
        cols[a].push((n + t, -1.0));
        cols[ns + t].push((n + t, 1.0));
    }
    let mut colptr = vec![0];
    let mut rowval = Vec::new();
    let mut nzval = Vec::new();
    for col in &mut cols {
        col.sort_by_key(|e| e.0);
        for &(r, val) in col.iter() {
            rowval.push(r);
            nzval.push(val);
        }
        colptr.push(rowval.len());
    }
    let am = CscMatrix::new(rows, n, colptr, rowval, nzval);
    let b = vec![0.0; rows];
    let cones = [NonnegativeConeT(rows)];
    let settings = DefaultSettings::<f64> {
        verbose: false,
        time_limit: tol.time_limit,
        tol_gap_abs: tol.gap,
        tol_gap_rel: tol.gap,
        tol_feas: tol.feas,
        max_iter: 400,
        ..DefaultSettings::default()
    };
    let mut solver = DefaultSolver::new(&pm, &q, &am, &b, &cones, settings).map_err(|e| format!("{e:?}"))?;
    solver.solve();
    Ok(QpResult { z: solver.solution.x.clone(), status: solver.solution.status, iterations: solver.solution.iterations })
}
