//! Column access for [`Simplex`] (docs/kkt.md, "LP norms"): columns live as stored
//! vectors, one per column or one per mirrored pair (the L∞ dual columns y⁺_p and y⁻_p
//! of a parameter row differ only in the sign of every entry but the t equation), and
//! columns with one nonzero (the bound columns, the artificials) are not stored at all;
//! every dot product with a stored column goes through one vectorisable kernel. The
//! loops over all columns (the pivot row, the reduced costs) compute one product of
//! the stored vectors with a vector and derive the mirrors' and units' entries.
//! A stored vector is either dense (in chunks) or external: only its id and scale are
//! kept, and its entries and products come from an [`Oracle`] that recomputes them
//! from the problem's data (the LP generation's weight rows, docs/kkt.md "LP norms").

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::{Col, Simplex, CHUNK};

/// A source of column vectors that the simplex does not store. Every method returns
/// the column as given to [`Simplex::add_external_pair`] (unscaled); the same id must
/// always give the same numbers.
pub(crate) trait Oracle {
    /// Entry `i` of column `id`.
    fn entry(&self, id: usize, i: usize) -> f64;
    /// Column `id` into `out`.
    fn column(&self, id: usize, out: &mut [f64]);
    /// `out[t] = a_{ids[t]}ᵀ v` for every t.
    fn dots(&self, ids: &[usize], v: &[f64], out: &mut [f64]);
}

/// How a stored vector is held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Held {
    /// Dense vector number s of the chunks.
    Dense(usize),
    /// The oracle's column id, divided by the scale.
    External(usize, f64),
}

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

impl Simplex<'_> {
    /// The chunks' dense vector s.
    fn dense(&self, s: usize) -> &[f64] {
        let i = s % CHUNK;
        &self.a[s / CHUNK][i * self.m..(i + 1) * self.m]
    }

    fn oracle(&self) -> &dyn super::Oracle {
        self.oracle.expect("external vectors exist only with an oracle")
    }

    /// Calls `f` with stored vector s (an external one formed in a scratch vector).
    fn with_vector<R>(&self, s: usize, f: impl FnOnce(&[f64]) -> R) -> R {
        match self.held[s] {
            Held::Dense(i) => f(self.dense(i)),
            Held::External(id, sc) => {
                let mut v = vec![0.0; self.m];
                self.oracle().column(id, &mut v);
                v.iter_mut().for_each(|c| *c /= sc);
                f(&v)
            }
        }
    }

    /// Entry r of stored vector s.
    fn vector_entry(&self, s: usize, r: usize) -> f64 {
        match self.held[s] {
            Held::Dense(i) => self.dense(i)[r],
            Held::External(id, sc) => self.oracle().entry(id, r) / sc,
        }
    }

    /// Stored vector s dotted with v.
    fn vector_dot(&self, s: usize, v: &[f64]) -> f64 {
        match self.held[s] {
            Held::Dense(i) => dot(self.dense(i), v),
            Held::External(id, sc) => {
                let mut out = [0.0];
                self.oracle().dots(&[id], v, &mut out);
                out[0] / sc
            }
        }
    }

    /// The mirror's dot product from its stored vector's d: −d + 2 a_r v_r.
    fn mirrored(&self, s: usize, d: f64, v: &[f64]) -> f64 {
        let r = self.mirror_row;
        -d + 2.0 * self.vector_entry(s, r) * v[r]
    }

    /// a_jᵀ v.
    pub(super) fn col_dot(&self, j: usize, v: &[f64]) -> f64 {
        match self.kind[j] {
            Col::Stored(s) => self.vector_dot(s, v),
            Col::Mirror(s) => self.mirrored(s, self.vector_dot(s, v), v),
            Col::Unit(i, u) => u * v[i],
        }
    }

    /// Writes column j into `out`.
    pub(super) fn col_into(&self, j: usize, out: &mut [f64]) {
        match self.kind[j] {
            Col::Stored(s) => self.with_vector(s, |a| out.copy_from_slice(a)),
            Col::Mirror(s) => {
                let r = self.mirror_row;
                self.with_vector(s, |a| {
                    for (i, (o, &c)) in out.iter_mut().zip(a).enumerate() {
                        *o = if i == r { c } else { -c };
                    }
                });
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
            Col::Stored(s) => self.with_vector(s, |a| out.iter_mut().zip(a).for_each(|(o, &c)| *o += f * c)),
            Col::Mirror(s) => {
                let r = self.mirror_row;
                self.with_vector(s, |a| {
                    for (i, (o, &c)) in out.iter_mut().zip(a).enumerate() {
                        *o += if i == r { f * c } else { -f * c };
                    }
                });
            }
            Col::Unit(i, u) => out[i] += f * u,
        }
    }

    /// `self.dots[j] = a_jᵀ v` for every column with `need(j)` (others untouched): one
    /// product of the dense vectors with v (faer's, vectorised) and one call of the
    /// oracle for the external ones, the mirrors' and the unit columns' derived.
    pub(super) fn dots_into(&mut self, v: &[f64], need: impl Fn(&Simplex, usize) -> bool) {
        let m = self.m;
        let mut dense = std::mem::take(&mut self.stored_dots);
        dense.resize(self.ndense, 0.0);
        for (chunk, out) in self.a.iter().zip(dense.chunks_mut(CHUNK)) {
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
        let mut stored = vec![0.0; self.nstored];
        for (s, h) in self.held.iter().enumerate() {
            if let Held::Dense(i) = *h {
                stored[s] = dense[i];
            }
        }
        if let (false, Some(oracle)) = (self.ext.is_empty(), self.oracle) {
            let ids: Vec<usize> = self.ext.iter().map(|&(id, _)| id).collect();
            let mut out = vec![0.0; ids.len()];
            oracle.dots(&ids, v, &mut out);
            for (&(_, s), o) in self.ext.iter().zip(out) {
                if let Held::External(_, sc) = self.held[s] {
                    stored[s] = o / sc;
                }
            }
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
        self.stored_dots = dense;
    }
}
