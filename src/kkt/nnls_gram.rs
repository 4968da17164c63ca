//! The Gram matrix of the NNLS and its free block's Cholesky factor in one n × n array
//! (docs/kkt.md, "LP norms": memory): G lives in the lower triangle (diagonal
//! included), and the factor L of a free block G_FF (F = f_0 < f_1 < …) in the strict
//! upper triangle, row r of L (its entries s < r) at rows 0..r of column f_r, which are
//! above the diagonal because r ≤ f_r; L's diagonal is a separate vector. So the L2
//! start holds one n × n matrix instead of K and a copy of its free block.
//!
//! The factorisation is the up-looking (row by row) Cholesky,
//! L_rs = (G_{f_r f_s} − Σ_{t<s} L_rt L_st) / L_ss and
//! L_rr² = G_{f_r f_r} + ridge − Σ_{t<r} L_rt², every sum a contiguous dot product.
//! It fails, as faer's does, where a pivot L_rr² is not positive and finite.

use nalgebra::DMatrix;

use super::nnls::{FreeSolve, GramStore};
use super::simplex::dot;

/// G in the lower triangle of `g`, the factor of the current free block above it.
pub(crate) struct LowerGram<'a> {
    g: &'a mut DMatrix<f64>,
    /// Diagonal of the current factor.
    diag: Vec<f64>,
}

impl<'a> LowerGram<'a> {
    /// Takes G from the lower triangle of `g` (n × n); the strict upper triangle is
    /// overwritten by the solves (entries are then read as `g[(max, min)]`).
    pub(crate) fn new(g: &'a mut DMatrix<f64>) -> LowerGram<'a> {
        assert_eq!(g.nrows(), g.ncols(), "the Gram matrix is square");
        LowerGram { g, diag: Vec::new() }
    }

    /// Factorises G_FF + ridge·I in place; false where a pivot is not positive and finite.
    fn factor(&mut self, fset: &[usize], ridge: f64) -> bool {
        let n = self.g.nrows();
        let data = self.g.as_mut_slice();
        self.diag.clear();
        for (r, &fr) in fset.iter().enumerate() {
            // Columns f_s (s < r) lie before column f_r: read them from `lo`, write row r
            // of L into `hi` (the start of column f_r).
            let (lo, hi) = data.split_at_mut(fr * n);
            let gff = hi[fr];
            let row = &mut hi[..r];
            for (s, &fs) in fset[..r].iter().enumerate() {
                let ls = &lo[fs * n..fs * n + s];
                row[s] = (lo[fs * n + fr] - dot(&row[..s], ls)) / self.diag[s];
            }
            let d2 = gff + ridge - dot(row, row);
            if !(d2 > 0.0 && d2.is_finite()) {
                return false;
            }
            self.diag.push(d2.sqrt());
        }
        true
    }

    /// Solves L Lᵀ x = b with the current factor.
    fn solve_factored(&self, fset: &[usize], b: &mut [f64]) {
        let n = self.g.nrows();
        let data = self.g.as_slice();
        let row = |r: usize| &data[fset[r] * n..fset[r] * n + r];
        for r in 0..fset.len() {
            b[r] = (b[r] - dot(row(r), &b[..r])) / self.diag[r];
        }
        for r in (0..fset.len()).rev() {
            b[r] /= self.diag[r];
            let xr = b[r];
            for (bs, &l) in b[..r].iter_mut().zip(row(r)) {
                *bs -= l * xr;
            }
        }
    }
}

impl GramStore for LowerGram<'_> {
    fn entry(&self, p: usize, q: usize) -> f64 {
        self.g[(p.max(q), p.min(q))]
    }

    fn solve_free(&mut self, fset: &[usize], c: &[f64], diag_max: f64) -> (Vec<f64>, FreeSolve) {
        if fset.is_empty() {
            return (Vec::new(), FreeSolve::Exact);
        }
        let mut ridge = 0.0;
        for _ in 0..8 {
            if self.factor(fset, ridge) {
                let mut out: Vec<f64> = fset.iter().map(|&p| c[p]).collect();
                self.solve_factored(fset, &mut out);
                if out.iter().all(|t| t.is_finite()) {
                    return (out, if ridge > 0.0 { FreeSolve::Ridge } else { FreeSolve::Exact });
                }
            }
            ridge = if ridge == 0.0 { 1e-14 * diag_max } else { ridge * 100.0 };
        }
        (vec![0.0; fset.len()], FreeSolve::Zero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Rng;
    use crate::kkt::nnls::{self, tests::ByEntry, NnlsOutcome};

    /// G = B Bᵀ for an n × r matrix B (rank-deficient when r < n), and a linear term.
    fn gram(rng: &mut Rng, n: usize, r: usize) -> (DMatrix<f64>, Vec<f64>) {
        let b = DMatrix::from_fn(n, r, |_, _| rng.normal());
        let c = (0..n).map(|_| rng.normal()).collect();
        (&b * b.transpose(), c)
    }

    /// A free-block solve equals faer's on the same block (random subsets, full and
    /// rank-deficient G, with the ridge path), and the lower triangle is left intact.
    #[test]
    fn free_solves_match_faer() {
        let mut rng = Rng::seed_from_u64(5);
        for (n, r) in [(1, 1), (9, 9), (40, 40), (40, 12), (70, 70)] {
            let (g0, c) = gram(&mut rng, n, r);
            let mut g = g0.clone();
            let mut store = LowerGram::new(&mut g);
            let mut reference = ByEntry(|p: usize, q: usize| g0[(p, q)]);
            let diag_max = (0..n).map(|p| g0[(p, p)]).fold(0.0, f64::max);
            for _ in 0..6 {
                let fset: Vec<usize> = (0..n).filter(|_| rng.uniform() < 0.6).collect();
                let (got, how) = store.solve_free(&fset, &c, diag_max);
                let (want, how_ref) = reference.solve_free(&fset, &c, diag_max);
                assert_eq!(how, how_ref, "n {n} r {r} free {}", fset.len());
                if fset.len() > r {
                    // A singular block: the answers of two factorisations (ridged or not)
                    // are not comparable; the same verdict is.
                    continue;
                }
                assert_eq!(how, FreeSolve::Exact);
                let scale = want.iter().fold(1.0f64, |a, t| a.max(t.abs()));
                for (a, b) in got.iter().zip(&want) {
                    assert!((a - b).abs() <= 1e-9 * scale, "n {n} r {r}: {a} vs {b}");
                }
                {
                    // The solution solves G_FF z = c_F (independent of either factor).
                    for (i, &p) in fset.iter().enumerate() {
                        let lhs: f64 = fset.iter().zip(&got).map(|(&q, z)| g0[(p, q)] * z).sum();
                        assert!((lhs - c[p]).abs() <= 1e-9 * (1.0 + c[p].abs()) * scale, "row {i}");
                    }
                }
            }
            for q in 0..n {
                for p in q..n {
                    assert_eq!(g[(p, q)], g0[(p, q)], "lower triangle changed at ({p}, {q})");
                }
            }
        }
    }

    /// The NNLS with G and its factors in one array reaches the same point and outcome
    /// as with faer's factorisation of each block copied out (block pivoting and
    /// Lawson–Hanson), and that point satisfies the NNLS's KKT conditions.
    #[test]
    fn nnls_matches_the_copying_solver() {
        let mut rng = Rng::seed_from_u64(8);
        for (n, r) in [(5, 5), (30, 30), (60, 60), (60, 25)] {
            let (g0, c) = gram(&mut rng, n, r);
            let mut g = g0.clone();
            let mut reference = ByEntry(|p: usize, q: usize| g0[(p, q)]);
            let want = nnls::solve(n, &mut reference, &c, 500);
            let got = nnls::solve(n, &mut LowerGram::new(&mut g), &c, 500);
            assert_eq!(got.outcome, want.outcome, "n {n} r {r}");
            let lh_want = nnls::solve_lawson_hanson(n, &mut reference, &c, 3 * n + 100);
            let lh_got = nnls::solve_lawson_hanson(n, &mut LowerGram::new(&mut g), &c, 3 * n + 100);
            assert_eq!(lh_got.outcome, lh_want.outcome, "n {n} r {r}");
            for (res, refr) in [(&got, &want), (&lh_got, &lh_want)] {
                let scale = refr.z.iter().fold(1.0f64, |a, t| a.max(t.abs()));
                if r == n {
                    // Full rank: the minimiser is unique.
                    for (a, b) in res.z.iter().zip(&refr.z) {
                        assert!((a - b).abs() <= 1e-8 * scale, "n {n}: {a} vs {b}");
                    }
                }
                if res.outcome == NnlsOutcome::Converged {
                    // z ≥ 0, gradient G z − c ≥ 0 and zero on the support, to rounding.
                    let cmax = c.iter().fold(0.0f64, |a, t| a.max(t.abs()));
                    for p in 0..n {
                        let grad: f64 = (0..n).map(|q| g0[(p, q)] * res.z[q]).sum::<f64>() - c[p];
                        assert!(res.z[p] >= 0.0);
                        assert!(grad >= -1e-8 * cmax * scale, "n {n} grad {grad}");
                        if res.z[p] > 0.0 {
                            assert!(grad.abs() <= 1e-8 * cmax * scale, "n {n} grad {grad}");
                        }
                    }
                }
            }
        }
    }
}
