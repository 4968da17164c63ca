//! The basis inverse of [`Simplex`] (docs/kkt.md, "LP norms"): B⁻¹ kept explicitly
//! (a faer matrix, so that its products use the machine's vector units), its products
//! with a vector, its rank-one update at a pivot, and the periodic refactorisation by
//! LU with partial pivoting (in place, the inverse by triangular solves), after which the basic values are recomputed with one step
//! of iterative refinement.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting as lu;
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use nalgebra::DVector;

use super::Simplex;

/// `out = op · v` for a matrix view `op`.
fn apply(op: MatRef<'_, f64>, v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; op.nrows()];
    let n = out.len();
    matmul(
        MatMut::from_column_major_slice_mut(&mut out, n, 1),
        Accum::Replace,
        op,
        MatRef::from_column_major_slice(v, v.len(), 1),
        1.0,
        Par::Seq,
    );
    out
}

impl Simplex {
    /// B⁻¹ v.
    pub(super) fn solve_b(&self, v: &[f64]) -> Vec<f64> {
        apply(self.binv.as_ref(), v)
    }

    /// B⁻ᵀ v.
    pub(super) fn solve_bt(&self, v: &[f64]) -> Vec<f64> {
        apply(self.binv.transpose(), v)
    }

    /// α = B⁻¹ a_q.
    pub(super) fn ftran(&self, q: usize) -> DVector<f64> {
        let mut aq = vec![0.0; self.m];
        self.col_into(q, &mut aq);
        DVector::from_vec(self.solve_b(&aq))
    }

    /// Row r of B⁻¹ (the pivot row's multipliers ρ_r: α_rj = ρ_rᵀ a_j).
    pub(super) fn binv_row(&self, r: usize) -> Vec<f64> {
        (0..self.m).map(|c| self.binv[(r, c)]).collect()
    }

    /// B⁻¹ after the basic column of row r is replaced by one with α = B⁻¹a_q: row r
    /// divided by α_r, then eliminated from the others (one rank-one product).
    pub(super) fn update_inverse(&mut self, r: usize, alpha: &[f64]) {
        let m = self.m;
        let ar = alpha[r];
        let row: Vec<f64> = (0..m).map(|c| self.binv[(r, c)] / ar).collect();
        matmul(
            self.binv.as_mut(),
            Accum::Add,
            MatRef::from_column_major_slice(alpha, m, 1),
            MatRef::from_row_major_slice(&row, 1, m),
            -1.0,
            Par::Seq,
        );
        for (c, &v) in row.iter().enumerate() {
            self.binv[(r, c)] = v;
        }
    }

    /// Recomputes B⁻¹ by LU and the basic values from the nonbasic ones. False if the
    /// basis is numerically singular (a zero or non-finite pivot of U).
    pub(super) fn refactor(&mut self) -> bool {
        let m = self.m;
        // B is assembled in the scratch matrix and its inverse written over the old one:
        // two m×m matrices, no allocation after the first refactorisation of a solve.
        let mut b = std::mem::replace(&mut self.spare, Mat::zeros(0, 0));
        if b.nrows() != m || b.ncols() != m {
            b = Mat::zeros(m, m);
        }
        let mut inv = std::mem::replace(&mut self.binv, Mat::zeros(0, 0));
        let mut col = vec![0.0; m];
        for (k, &j) in self.basis.iter().enumerate() {
            self.col_into(j, &mut col);
            for (i, &v) in col.iter().enumerate() {
                b[(i, k)] = v;
            }
        }
        // LU with partial pivoting in place (P B = L U), then B⁻¹ = U⁻¹ L⁻¹ P by two
        // triangular solves on P itself: two m×m matrices at the peak, no factor copy.
        let par = Par::Seq;
        let (mut perm, mut perm_inv) = (vec![0usize; m], vec![0usize; m]);
        let mut mem = MemBuffer::new(lu::factor::lu_in_place_scratch::<usize, f64>(m, m, par, Default::default()));
        let (_, p) = lu::factor::lu_in_place(b.as_mut(), &mut perm, &mut perm_inv, par, MemStack::new(&mut mem), Default::default());
        if (0..m).any(|i| {
            let p = b[(i, i)];
            p == 0.0 || !p.is_finite()
        }) {
            return false;
        }
        let fwd = p.arrays().0;
        if inv.nrows() != m || inv.ncols() != m {
            inv = Mat::zeros(m, m);
        } else {
            inv.fill(0.0);
        }
        for (i, &pi) in fwd.iter().enumerate() {
            inv[(i, pi)] = 1.0;
        }
        triangular_solve::solve_unit_lower_triangular_in_place(b.as_ref(), inv.as_mut(), par);
        triangular_solve::solve_upper_triangular_in_place(b.as_ref(), inv.as_mut(), par);
        self.spare = b;
        if inv.col_iter().any(|c| c.iter().any(|v| !v.is_finite())) {
            return false;
        }
        self.binv = inv;
        let r = self.reduced_rhs();
        let mut xb = self.solve_b(r.as_slice());
        // One step of iterative refinement: res = r − B x_B, column by column.
        let mut res = r;
        for (k, &j) in self.basis.iter().enumerate() {
            self.col_axpy(j, -xb[k], res.as_mut_slice());
        }
        for (x, c) in xb.iter_mut().zip(self.solve_b(res.as_slice())) {
            *x += c;
        }
        for (i, &j) in self.basis.iter().enumerate() {
            self.x[j] = xb[i];
        }
        self.since_refactor = 0;
        self.devex_reset();
        true
    }

    /// Simplex multipliers π = B⁻ᵀ c_B of the current phase, refined once against B.
    pub fn duals(&self) -> Vec<f64> {
        let cb: Vec<f64> = self.basis.iter().map(|&j| self.phase_cost(j)).collect();
        let mut pi = self.solve_bt(&cb);
        let res: Vec<f64> = self.basis.iter().zip(&cb).map(|(&j, c)| c - self.col_dot(j, &pi)).collect();
        for (p, c) in pi.iter_mut().zip(self.solve_bt(&res)) {
            *p += c;
        }
        pi
    }

    /// π = B⁻ᵀ c_B without refinement.
    pub(super) fn duals_fast(&self) -> Vec<f64> {
        let cb: Vec<f64> = self.basis.iter().map(|&j| self.phase_cost(j)).collect();
        self.solve_bt(&cb)
    }
}
