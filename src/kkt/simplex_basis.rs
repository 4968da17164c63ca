//! The basis inverse of [`Simplex`] (docs/kkt.md, "LP norms"): B⁻¹ kept explicitly
//! (a faer matrix, so that its products use the machine's vector units), its products
//! with a vector, its rank-one update at a pivot, and the periodic refactorisation by
//! LU with partial pivoting, after which the basic values are recomputed with one step
//! of iterative refinement. The refactorisation works in the inverse's own storage: B
//! is assembled there, factorised in place, and inverted in place by blocks
//! ([`invert_lu_in_place`], LAPACK's getri order), so that one m×m matrix is alive.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting as lu;
use faer::linalg::matmul::triangular::{self as tri, BlockStructure};
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_inverse::invert_upper_triangular;
use faer::linalg::triangular_solve;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Columns per block of [`invert_lu_in_place`].
const INV_BLOCK: usize = 64;

/// Overwrites the LU factors `a` (P B = L U, L unit lower, as faer's `lu_in_place`
/// leaves them; `fwd` the row permutation, (P B)_i = B_(fwd_i)) with B⁻¹ = U⁻¹ L⁻¹ P:
/// U⁻¹ by blocks of columns from the left, then X = U⁻¹L⁻¹ from X L = U⁻¹ by blocks
/// from the right, then the columns of X permuted. Scratch: m × [`INV_BLOCK`].
pub(super) fn invert_lu_in_place(mut a: MatMut<'_, f64>, fwd: &[usize]) {
    let n = a.nrows();
    let par = Par::Seq;
    let mut work = Mat::<f64>::zeros(n, INV_BLOCK.min(n));
    let mut diag = Mat::<f64>::zeros(INV_BLOCK.min(n), INV_BLOCK.min(n));
    // U⁻¹ over U's upper triangle: for the block of columns j..j+jb,
    // A[..j, block] = −(U⁻¹)[..j, ..j] · U[..j, block] · U_jj⁻¹, then U_jj⁻¹.
    for j in (0..n).step_by(INV_BLOCK) {
        let jb = INV_BLOCK.min(n - j);
        let (left, right) = a.rb_mut().split_at_col_mut(j);
        let (mut top, mut bottom) = right.subcols_mut(0, jb).split_at_row_mut(j);
        let mut t = work.as_mut().submatrix_mut(0, 0, j, jb);
        t.copy_from(top.rb());
        let inv_tl = left.rb().submatrix(0, 0, j, j);
        tri::matmul(top.rb_mut(), BlockStructure::Rectangular, Accum::Replace, inv_tl, BlockStructure::TriangularUpper, t.rb(), BlockStructure::Rectangular, -1.0, par);
        let ujj = bottom.rb_mut().submatrix_mut(0, 0, jb, jb);
        // X U_jj = top  ⇔  U_jjᵀ Xᵀ = topᵀ.
        triangular_solve::solve_lower_triangular_in_place(ujj.rb().transpose(), top.rb_mut().transpose_mut(), par);
        let mut d = diag.as_mut().submatrix_mut(0, 0, jb, jb);
        d.copy_from(ujj.rb());
        invert_upper_triangular(ujj, d.rb(), par);
    }
    // X L = U⁻¹, by blocks from the right: with L's block column moved to the scratch
    // (and zeroed in A), X_j = (U⁻¹_j − X[.., j+jb..] L[j+jb.., j]) L_jj⁻¹.
    let starts: Vec<usize> = (0..n).step_by(INV_BLOCK).collect();
    for &j in starts.iter().rev() {
        let jb = INV_BLOCK.min(n - j);
        let mut l = work.as_mut().submatrix_mut(0, 0, n, jb);
        l.fill(0.0);
        for c in 0..jb {
            for i in j + c + 1..n {
                l[(i, c)] = a[(i, j + c)];
                a[(i, j + c)] = 0.0;
            }
        }
        let (_, right) = a.rb_mut().split_at_col_mut(j);
        let (mut xj, rest) = right.split_at_col_mut(jb);
        matmul(xj.rb_mut(), Accum::Add, rest.rb(), l.rb().submatrix(j + jb, 0, n - j - jb, jb), -1.0, par);
        // X_j L_jj = C  ⇔  L_jjᵀ X_jᵀ = Cᵀ (L_jj unit lower).
        triangular_solve::solve_unit_upper_triangular_in_place(l.rb().submatrix(j, 0, jb, jb).transpose(), xj.transpose_mut(), par);
    }
    // B⁻¹ = X P: column fwd_i of B⁻¹ is column i of X; the cycles of the permutation,
    // each moved through one column of scratch.
    let mut done = vec![false; n];
    let mut col = vec![0.0; n];
    for start in 0..n {
        if done[start] {
            continue;
        }
        // Walk i → fwd_i: column i goes to fwd_i, whose column goes on to fwd_(fwd_i) …
        for (r, c) in col.iter_mut().enumerate() {
            *c = a[(r, start)];
        }
        let mut i = start;
        loop {
            done[i] = true;
            let dst = fwd[i];
            for (r, c) in col.iter_mut().enumerate() {
                std::mem::swap(c, &mut a[(r, dst)]);
            }
            if dst == start {
                break;
            }
            i = dst;
        }
    }
}
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
        // B is assembled over the old inverse, factorised and inverted there: one m×m
        // matrix, no allocation of it after the first refactorisation.
        let mut b = std::mem::replace(&mut self.binv, Mat::zeros(0, 0));
        if b.nrows() != m || b.ncols() != m {
            b = Mat::zeros(m, m);
        }
        let mut col = vec![0.0; m];
        for (k, &j) in self.basis.iter().enumerate() {
            self.col_into(j, &mut col);
            for (i, &v) in col.iter().enumerate() {
                b[(i, k)] = v;
            }
        }
        // LU with partial pivoting in place (P B = L U), then B⁻¹ = U⁻¹ L⁻¹ P in place.
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
        invert_lu_in_place(b.as_mut(), p.arrays().0);
        if b.col_iter().any(|c| c.iter().any(|v| !v.is_finite())) {
            return false;
        }
        self.binv = b;
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

#[cfg(test)]
mod tests {
    use super::*;
    use faer::linalg::solvers::DenseSolveCore;

    /// The in-place inverse of the LU factors agrees with faer's own LU inverse and
    /// satisfies B X = I, for sizes below, at and across the block width, with row
    /// pivoting forced by a small diagonal.
    #[test]
    fn in_place_inverse_matches_faer() {
        let mut rng = crate::data::Rng::seed_from_u64(5);
        for n in [1, 2, 7, INV_BLOCK - 1, INV_BLOCK, INV_BLOCK + 1, 2 * INV_BLOCK + 17] {
            let b = Mat::from_fn(n, n, |i, j| if i == j { 1e-3 * rng.normal() } else { rng.normal() });
            let mut lu_mat = b.clone();
            let (mut perm, mut perm_inv) = (vec![0usize; n], vec![0usize; n]);
            let par = Par::Seq;
            let mut mem = MemBuffer::new(lu::factor::lu_in_place_scratch::<usize, f64>(n, n, par, Default::default()));
            let (_, p) =
                lu::factor::lu_in_place(lu_mat.as_mut(), &mut perm, &mut perm_inv, par, MemStack::new(&mut mem), Default::default());
            invert_lu_in_place(lu_mat.as_mut(), p.arrays().0);
            let want = b.partial_piv_lu().inverse();
            let scale = want.norm_max();
            let diff = (&lu_mat - &want).norm_max();
            assert!(diff <= 1e-10 * scale, "n = {n}: inverse differs by {diff:e} (max entry {scale:e})");
            let eye = &b * &lu_mat;
            let off = (&eye - Mat::<f64>::identity(n, n)).norm_max();
            assert!(off <= 1e-9, "n = {n}: B X − I = {off:e}");
        }
    }
}
