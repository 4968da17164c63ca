//! Column access for [`Simplex`] (docs/kkt.md, "LP norms"): columns live as stored
//! vectors, one per column or one per mirrored pair (the L∞ dual columns y⁺_p and y⁻_p
//! of a parameter row differ only in the sign of every entry but the t equation), and
//! columns with one nonzero (the bound columns, the artificials) are not stored at all;
//! every dot product with a stored column goes through one vectorisable kernel. The
//! loops over all columns (the pivot row, the reduced costs) compute one product of
//! the stored vectors with a vector and derive the mirrors' and units' entries.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::{Col, Simplex, CHUNK};

/// `Σ a_i b_i` with eight partial sums, so that the compiler can vectorise it (a
/// single running sum is one dependent add per entry); the order is fixed, so the
/// result is deterministic.
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
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
    /// Stored vector s.
    fn vector(&self, s: usize) -> &[f64] {
        let i = s % CHUNK;
        &self.a[s / CHUNK][i * self.m..(i + 1) * self.m]
    }

    /// The mirror's dot product from its stored vector's d: −d + 2 a_r v_r.
    fn mirrored(&self, s: usize, d: f64, v: &[f64]) -> f64 {
        let r = self.mirror_row;
        -d + 2.0 * self.vector(s)[r] * v[r]
    }

    /// a_jᵀ v.
    pub(super) fn col_dot(&self, j: usize, v: &[f64]) -> f64 {
        match self.kind[j] {
            Col::Stored(s) => dot(self.vector(s), v),
            Col::Mirror(s) => self.mirrored(s, dot(self.vector(s), v), v),
            Col::Unit(i, u) => u * v[i],
        }
    }

    /// Writes column j into `out`.
    pub(super) fn col_into(&self, j: usize, out: &mut [f64]) {
        match self.kind[j] {
            Col::Stored(s) => out.copy_from_slice(self.vector(s)),
            Col::Mirror(s) => {
                let r = self.mirror_row;
                for (i, (o, &c)) in out.iter_mut().zip(self.vector(s)).enumerate() {
                    *o = if i == r { c } else { -c };
                }
            }
            Col::Unit(i, u) => {
                out.fill(0.0);
                out[i] = u;
            }
        }
    }

    /// `out += f · a_j`.
    pub(super) fn col_axpy(&self, j: usize, f: f64, out: &mut [f64]) {
        match self.kind[j] {
            Col::Stored(s) => out.iter_mut().zip(self.vector(s)).for_each(|(o, &c)| *o += f * c),
            Col::Mirror(s) => {
                let r = self.mirror_row;
                for (i, (o, &c)) in out.iter_mut().zip(self.vector(s)).enumerate() {
                    *o += if i == r { f * c } else { -f * c };
                }
            }
            Col::Unit(i, u) => out[i] += f * u,
        }
    }

    /// `self.dots[j] = a_jᵀ v` for every column with `need(j)` (others untouched): one
    /// product of the stored vectors with v (faer's, vectorised), the mirrors' and the
    /// unit columns' derived.
    pub(super) fn dots_into(&mut self, v: &[f64], need: impl Fn(&Simplex, usize) -> bool) {
        let m = self.m;
        let mut stored = std::mem::take(&mut self.stored_dots);
        stored.resize(self.nstored, 0.0);
        for (chunk, out) in self.a.iter().zip(stored.chunks_mut(CHUNK)) {
            let len = out.len();
            matmul(
                MatMut::from_column_major_slice_mut(out, len, 1),
                Accum::Replace,
                MatRef::from_column_major_slice(chunk, m, len).transpose(),
                MatRef::from_column_major_slice(v, m, 1),
                1.0,
                Par::Seq,
            );
        }
        let mut dots = std::mem::take(&mut self.dots);
        dots.resize(self.ncols(), 0.0);
        for (j, out) in dots.iter_mut().enumerate() {
            if need(self, j) {
                *out = match self.kind[j] {
                    Col::Stored(s) => stored[s],
                    Col::Mirror(s) => self.mirrored(s, stored[s], v),
                    Col::Unit(i, u) => u * v[i],
                };
            }
        }
        self.dots = dots;
        self.stored_dots = stored;
    }
}
