//! Non-negative least squares in Gram form: minimise ½ zᵀ G z − cᵀ z subject to z ≥ 0.
//!
//! Method: block principal pivoting (Kim & Park, "Fast nonnegative matrix
//! factorization: an active-set-like method and comparisons", SIAM J. Sci. Comput.
//! 33 (2011)), with Júdice–Pires' backup rule for finite termination. Each iteration
//! solves `G_FF z_F = c_F` by a Cholesky factorisation; a tiny ridge is added only
//! when the free block is numerically singular, and the outcome then says so
//! ([`NnlsOutcome::Ridge`]) instead of claiming convergence. G and the free block's
//! factor are held by a [`GramStore`]: in the certificate, one n × n array
//! ([`super::nnls_gram::LowerGram`]); in the tests, also G by entries with each free
//! block formed and factorised by faer (the reference).

/// Outcome of the NNLS iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NnlsOutcome {
    /// KKT conditions of the NNLS hold to the tolerance.
    Converged,
    /// The iteration budget ran out (the iterate is still returned).
    MaxIterations,
    /// The pivoting stopped, but the last free block was singular and regularised by a
    /// ridge: the point is near-optimal, not proved optimal.
    Ridge,
    /// The last free block could not be factorised even with a ridge; its variables
    /// were set to 0.
    ZeroFallback,
}

/// How [`GramStore::solve_free`] solved its system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FreeSolve {
    /// Factorised as given.
    Exact,
    /// Factorised only with a ridge on the diagonal.
    Ridge,
    /// Not factorised even with a ridge: the solution was set to 0.
    Zero,
}

/// The Gram matrix G of an NNLS and the solver of its free blocks.
pub(crate) trait GramStore: Sync {
    /// G_pq.
    fn entry(&self, p: usize, q: usize) -> f64;
    /// Solves `G_FF z = c_F` for the ascending free set F, with a ridge only if the
    /// Cholesky factorisation fails (at most 8 tries, from 1e-14·`diag_max` up by 100×);
    /// says which way it went.
    fn solve_free(&mut self, fset: &[usize], c: &[f64], diag_max: f64) -> (Vec<f64>, FreeSolve);
}

impl FreeSolve {
    fn outcome(self) -> NnlsOutcome {
        match self {
            FreeSolve::Exact => NnlsOutcome::Converged,
            FreeSolve::Ridge => NnlsOutcome::Ridge,
            FreeSolve::Zero => NnlsOutcome::ZeroFallback,
        }
    }
}

/// Result of [`solve`].
pub(crate) struct NnlsResult {
    pub z: Vec<f64>,
    pub outcome: NnlsOutcome,
    pub iterations: usize,
}

/// Solves the Gram NNLS of order n. `g` holds G, `c` is the linear term.
pub(crate) fn solve(n: usize, g: &mut impl GramStore, c: &[f64], max_iter: usize) -> NnlsResult {
    let scale = c.iter().fold(0.0f64, |a, t| a.max(t.abs())).max(f64::MIN_POSITIVE);
    let diag_max = (0..n).map(|p| g.entry(p, p)).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    // Dual feasibility tolerance: gradient entries above −tol count as satisfied.
    let tol = 1e-13 * scale;
    let mut free = vec![false; n];
    let mut z = vec![0.0; n];
    // y = G z − c (the gradient); at z = 0 it is −c.
    let mut y: Vec<f64> = c.iter().map(|t| -t).collect();
    let mut best_infeasible = n + 1;
    let mut backup = 3usize;
    let mut iterations = 0;
    let mut last = FreeSolve::Exact;
    loop {
        let infeasible: Vec<usize> =
            (0..n).filter(|&p| if free[p] { z[p] < 0.0 } else { y[p] < -tol }).collect();
        if infeasible.is_empty() {
            return NnlsResult { z, outcome: last.outcome(), iterations };
        }
        if iterations >= max_iter {
            return NnlsResult { z, outcome: NnlsOutcome::MaxIterations, iterations };
        }
        iterations += 1;
        if infeasible.len() < best_infeasible {
            best_infeasible = infeasible.len();
            backup = 3;
            for &p in &infeasible {
                free[p] = !free[p];
            }
        } else if backup > 0 {
            backup -= 1;
            for &p in &infeasible {
                free[p] = !free[p];
            }
        } else {
            let p = *infeasible.last().expect("non-empty");
            free[p] = !free[p];
        }
        let fset: Vec<usize> = (0..n).filter(|&p| free[p]).collect();
        let (zf, how) = g.solve_free(&fset, c, diag_max);
        last = how;
        z.iter_mut().for_each(|t| *t = 0.0);
        for (&p, &val) in fset.iter().zip(&zf) {
            z[p] = val;
        }
        // Gradient outside the free set.
        use rayon::prelude::*;
        let g = &*g;
        y.par_iter_mut().enumerate().for_each(|(p, yp)| {
            *yp = if free[p] {
                0.0
            } else {
                fset.iter().zip(&zf).map(|(&q, &zq)| g.entry(p, q) * zq).sum::<f64>() - c[p]
            };
        });
    }
}

/// Lawson–Hanson active set on the Gram form (Lawson & Hanson, *Solving Least Squares
/// Problems*, 1974, ch. 23): slower than [`solve`] (one factorisation per added
/// variable) but robust when G is singular, where block principal pivoting may cycle.
/// Used as the fallback when [`solve`] runs out of iterations.
pub(crate) fn solve_lawson_hanson(n: usize, g: &mut impl GramStore, c: &[f64], max_iter: usize) -> NnlsResult {
    use rayon::prelude::*;
    let scale = c.iter().fold(0.0f64, |a, t| a.max(t.abs())).max(f64::MIN_POSITIVE);
    let diag_max = (0..n).map(|p| g.entry(p, p)).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let tol = 1e-13 * scale;
    let mut passive = vec![false; n];
    let mut z = vec![0.0; n];
    let mut iterations = 0;
    let mut last = FreeSolve::Exact;
    loop {
        // w = c − G z (the negative gradient).
        let pset: Vec<usize> = (0..n).filter(|&p| passive[p]).collect();
        let gr = &*g;
        let w: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|p| c[p] - pset.iter().map(|&q| gr.entry(p, q) * z[q]).sum::<f64>())
            .collect();
        let best = (0..n).filter(|&p| !passive[p] && w[p] > tol).max_by(|&a, &b| w[a].total_cmp(&w[b]));
        let Some(t) = best else {
            return NnlsResult { z, outcome: last.outcome(), iterations };
        };
        if iterations >= max_iter {
            return NnlsResult { z, outcome: NnlsOutcome::MaxIterations, iterations };
        }
        passive[t] = true;
        loop {
            iterations += 1;
            let pset: Vec<usize> = (0..n).filter(|&p| passive[p]).collect();
            let (sp, how) = g.solve_free(&pset, c, diag_max);
            last = how;
            if sp.iter().all(|&v| v > 0.0) {
                for (&p, &v) in pset.iter().zip(&sp) {
                    z[p] = v;
                }
                break;
            }
            let mut alpha = 1.0f64;
            let mut leaving = None;
            for (&p, &v) in pset.iter().zip(&sp) {
                if v <= 0.0 {
                    let denom = z[p] - v;
                    let a = if denom > 0.0 { z[p] / denom } else { 0.0 };
                    if a < alpha || leaving.is_none() {
                        alpha = alpha.min(a);
                        leaving = Some(p);
                    }
                }
            }
            for (&p, &v) in pset.iter().zip(&sp) {
                z[p] += alpha * (v - z[p]);
                if z[p] <= 0.0 || Some(p) == leaving {
                    z[p] = 0.0;
                    passive[p] = false;
                }
            }
            if !passive.iter().any(|&b| b) || iterations >= max_iter {
                break;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
    use faer::linalg::cholesky::llt;
    use faer::Mat;

    /// G by entries, each free block formed and factorised by faer: the reference.
    pub(crate) struct ByEntry<F>(pub F);

    impl<F: Fn(usize, usize) -> f64 + Sync> GramStore for ByEntry<F> {
        fn entry(&self, p: usize, q: usize) -> f64 {
            (self.0)(p, q)
        }

        fn solve_free(&mut self, fset: &[usize], c: &[f64], diag_max: f64) -> (Vec<f64>, FreeSolve) {
            let gram = &self.0;
            let nf = fset.len();
            if nf == 0 {
                return (Vec::new(), FreeSolve::Exact);
            }
            let rhs = Mat::<f64>::from_fn(nf, 1, |r, _| c[fset[r]]);
            let par = faer::get_global_parallelism();
            let mut mem = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(nf, par, Default::default()));
            let mut ridge = 0.0;
            for _ in 0..8 {
                let mut g = Mat::<f64>::from_fn(nf, nf, |r, s| gram(fset[r], fset[s]) + if r == s { ridge } else { 0.0 });
                let stack = MemStack::new(&mut mem);
                if llt::factor::cholesky_in_place(g.as_mut(), Default::default(), par, stack, Default::default()).is_ok() {
                    let mut sol = rhs.clone();
                    let empty = &mut MemBuffer::new(StackReq::EMPTY);
                    llt::solve::solve_in_place(g.as_ref(), sol.as_mut(), par, MemStack::new(empty));
                    let out: Vec<f64> = (0..nf).map(|r| sol[(r, 0)]).collect();
                    if out.iter().all(|t| t.is_finite()) {
                        return (out, if ridge > 0.0 { FreeSolve::Ridge } else { FreeSolve::Exact });
                    }
                }
                ridge = if ridge == 0.0 { 1e-14 * diag_max } else { ridge * 100.0 };
            }
            (vec![0.0; nf], FreeSolve::Zero)
        }
    }

    /// Two identical columns: the free block [[1, 1], [1, 1]] is singular, so block
    /// pivoting needs a ridge, and must say so rather than claim convergence.
    #[test]
    fn ridge_is_not_reported_as_converged() {
        let g = [[1.0, 1.0], [1.0, 1.0]];
        let r = solve(2, &mut ByEntry(|a: usize, b: usize| g[a][b]), &[1.0, 1.0], 100);
        assert_eq!(r.outcome, NnlsOutcome::Ridge);
        // Lawson–Hanson keeps its passive set independent and converges exactly.
        let lh = solve_lawson_hanson(2, &mut ByEntry(|a: usize, b: usize| g[a][b]), &[1.0, 1.0], 100);
        assert_eq!(lh.outcome, NnlsOutcome::Converged);
        assert!((lh.z[0] + lh.z[1] - 1.0).abs() < 1e-12);
    }

    /// A non-finite Gram entry defeats every ridge: the zero fallback says so.
    #[test]
    fn zero_fallback_is_reported() {
        let r = solve(1, &mut ByEntry(|_: usize, _: usize| f64::NAN), &[1.0], 10);
        assert_eq!(r.outcome, NnlsOutcome::ZeroFallback);
    }
}
