//! Column access for [`Simplex`] (docs/kkt.md, "LP norms"): columns live as stored
//! vectors, one per column or one per mirrored pair (the L∞ dual columns y⁺_p and y⁻_p
//! of a parameter row differ only in the sign of every entry but the t equation), and
//! every dot product with a column goes through one vectorisable kernel. The loops
//! over all columns (the pivot row, the reduced costs) compute one dot product per
//! stored vector and derive the mirror's from it.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::Simplex;

/// `Σ a_i b_i` with eight partial sums, so that the compiler can vectorise it (a
/// single running sum is one dependent add per entry); the order is fixed, so the
/// result is deterministic.
#[inline]
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    for (l, (x, y)) in ar.iter().zip(br).enumerate() {
        acc[l] += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

impl Simplex {
    /// The stored vector of column j (the column itself unless j is a mirror).
    pub(super) fn stored(&self, j: usize) -> &[f64] {
        let s = self.src[j];
        &self.a[s * self.m..(s + 1) * self.m]
    }

    /// The mirror's dot product from its stored vector's: −d + 2 a_r v_r.
    fn mirrored(&self, j: usize, d: f64, v: &[f64]) -> f64 {
        let r = self.mirror_row;
        -d + 2.0 * self.stored(j)[r] * v[r]
    }

    /// a_jᵀ v.
    pub(super) fn col_dot(&self, j: usize, v: &[f64]) -> f64 {
        let d = dot(self.stored(j), v);
        if self.mirror[j] {
            self.mirrored(j, d, v)
        } else {
            d
        }
    }

    /// Writes column j into `out`.
    pub(super) fn col_into(&self, j: usize, out: &mut [f64]) {
        out.copy_from_slice(self.stored(j));
        if self.mirror[j] {
            let r = self.mirror_row;
            for (i, o) in out.iter_mut().enumerate() {
                if i != r {
                    *o = -*o;
                }
            }
        }
    }

    /// `out += f · a_j`.
    pub(super) fn col_axpy(&self, j: usize, f: f64, out: &mut [f64]) {
        let (r, neg) = (self.mirror_row, self.mirror[j]);
        for (i, (o, &c)) in out.iter_mut().zip(self.stored(j)).enumerate() {
            *o += if neg && i != r { -f * c } else { f * c };
        }
    }

    /// `self.dots[j] = a_jᵀ v` for every column with `need(j)` (others untouched): one
    /// product of the stored vectors with v (faer's, vectorised), the mirrors' derived.
    pub(super) fn dots_into(&mut self, v: &[f64], need: impl Fn(&Simplex, usize) -> bool) {
        let m = self.m;
        let nstored = self.a.len().checked_div(m).unwrap_or(0);
        let mut stored = std::mem::take(&mut self.stored_dots);
        stored.resize(nstored, 0.0);
        matmul(
            MatMut::from_column_major_slice_mut(&mut stored, nstored, 1),
            Accum::Replace,
            MatRef::from_column_major_slice(&self.a, m, nstored).transpose(),
            MatRef::from_column_major_slice(v, m, 1),
            1.0,
            Par::Seq,
        );
        let mut dots = std::mem::take(&mut self.dots);
        dots.resize(self.ncols(), 0.0);
        for (j, out) in dots.iter_mut().enumerate() {
            if need(self, j) {
                let d = stored[self.src[j]];
                *out = if self.mirror[j] { self.mirrored(j, d, v) } else { d };
            }
        }
        self.dots = dots;
        self.stored_dots = stored;
    }
}
