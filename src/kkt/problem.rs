//! Problem data of one KKT solve: the normalised network, the support, the fixed
//! activation pattern at tolerance τ, the ambiguous pairs (the variables μ_ij), the
//! Gram entries of the gradient columns and the explicit residual θ̂ − Σ λ_i h_i.
//!
//! Variables are numbered `0..ns` for λ_a (a indexes the support) and `ns..ns+namb`
//! for μ_t, where ambiguous pair t is `(a, j)`. Column of λ_a: h_a with s = [u_aj > τ]
//! (the fixed pattern); column of μ_t: g_t, which has the blocks
//! `∂w_j = y_a v_j x_a`, `∂b_j = y_a v_j` and nothing else.

use std::borrow::Cow;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::{DMatrix, DVector};

use crate::data::Dataset;
use crate::net::{Activation, Net};

/// M Mᵀ, without forming Mᵀ.
fn outer(m: &DMatrix<f64>) -> DMatrix<f64> {
    let (r, c) = m.shape();
    let mut out = DMatrix::zeros(r, r);
    let view = MatRef::from_column_major_slice(m.as_slice(), r, c);
    matmul(MatMut::from_column_major_slice_mut(out.as_mut_slice(), r, r), Accum::Replace, view, view.transpose(), 1.0, Par::Seq);
    out
}

/// Neurons per block of [`Problem::apply`]'s coefficient matrix.
const APPLY_BLOCK: usize = 64;

/// One KKT problem at a fixed τ.
pub(crate) struct Problem<'a> {
    /// Support samples (indices into the dataset), ascending.
    pub support: Vec<usize>,
    /// Labels of the support samples.
    pub y: Vec<f64>,
    /// Support inputs, ns×d: the dataset's own matrix when the support is every sample
    /// (no copy), else the selected rows.
    pub xs: Cow<'a, DMatrix<f64>>,
    /// Output weights of θ̂.
    pub v: Vec<f64>,
    /// Whether the net has a bias.
    pub bias: bool,
    /// Pattern "on" (u > τ·scale), ns×k row-major.
    pub on: Vec<bool>,
    /// σ(u_aj) on θ̂, ns×k.
    pub sig: DMatrix<f64>,
    /// Pre-activations on θ̂, ns×k; empty (0×0) when there are no ambiguous pairs,
    /// since only the coupled solver reads it (where a pair is on, u = σ(u)).
    pub u: DMatrix<f64>,
    /// Ambiguous pairs (a, j) over the support.
    pub amb: Vec<(usize, usize)>,
    /// `x_a·x_b + [bias]`, ns×ns; empty (0×0) when there are no ambiguous pairs (then
    /// only K needs it, and K is built).
    pub xg: DMatrix<f64>,
    /// Gram block of the λ columns, ns×ns.
    pub kmat: DMatrix<f64>,
    /// Width.
    pub k: usize,
}

impl<'a> Problem<'a> {
    /// Builds the problem for the normalised network `hat` on `data`, support `support`.
    pub fn new(hat: &Net, data: &'a Dataset, support: &[usize], tau: f64) -> Problem<'a> {
        let ns = support.len();
        let k = hat.width();
        let everyone = ns == data.m() && support.iter().enumerate().all(|(i, &s)| i == s);
        let (pattern, xs, y) = if everyone {
            let pattern = hat.activation_pattern(data, tau).expect("dimensions checked by the caller");
            (pattern, Cow::Borrowed(data.x()), data.y().iter().copied().collect())
        } else {
            let sub = data.select(support);
            let pattern = hat.activation_pattern(&sub, tau).expect("dimensions checked by the caller");
            let (xs, y) = sub.into_parts();
            (pattern, Cow::Owned(xs), y.iter().copied().collect::<Vec<f64>>())
        };
        let mut u = hat.preactivations(&xs);
        let sig = u.map(|t| t.max(0.0));
        let on: Vec<bool> = pattern.iter().map(|p| *p == Activation::On).collect();
        let amb: Vec<(usize, usize)> = (0..ns)
            .flat_map(|a| (0..k).map(move |j| (a, j)))
            .filter(|&(a, j)| pattern[a * k + j] == Activation::Ambiguous)
            .collect();
        drop(pattern);
        // Without ambiguous pairs only K needs u (through σ) and the x-Gram: they go as
        // soon as K is built (docs/kkt.md, "LP norms": memory).
        let lean = amb.is_empty();
        if lean {
            u = DMatrix::zeros(0, 0);
        }
        let bias = hat.has_bias();
        let mut xg = outer(&xs);
        if bias {
            xg.add_scalar_mut(1.0);
        }
        let v: Vec<f64> = hat.v().iter().copied().collect();
        // K_ab = y_a y_b [ (O O^T)_ab · xg_ab + (Σ Σ^T)_ab ], O_aj = on_aj · v_j, built in
        // place so that at most two ns-sized temporaries are alive at once.
        let mut kmat = outer(&DMatrix::from_fn(ns, k, |a, j| if on[a * k + j] { v[j] } else { 0.0 }));
        let ss = outer(&sig);
        for b in 0..ns {
            for a in 0..ns {
                kmat[(a, b)] = y[a] * y[b] * (kmat[(a, b)] * xg[(a, b)] + ss[(a, b)]);
            }
        }
        drop(ss);
        if lean {
            xg = DMatrix::zeros(0, 0);
        }
        Problem { support: support.to_vec(), y, xs, v, bias, on, sig, u, amb, xg, kmat, k }
    }

    /// Frees what only the L2 solvers use (K, the x-Gram and the pre-activations: three
    /// ns-sized matrices), for an LP solve once its L2 start is computed; [`Self::gram`],
    /// [`Self::linear_term`] and the L2 solvers must not be called afterwards.
    pub fn release_l2_data(&mut self) {
        self.kmat = DMatrix::zeros(0, 0);
        self.xg = DMatrix::zeros(0, 0);
        self.u = DMatrix::zeros(0, 0);
    }

    /// Number of λ variables.
    pub fn ns(&self) -> usize {
        self.support.len()
    }

    /// Number of variables (λ and μ).
    pub fn nvars(&self) -> usize {
        self.ns() + self.amb.len()
    }

    fn is_on(&self, a: usize, j: usize) -> bool {
        self.on[a * self.k + j]
    }

    /// Linear term `c = Aᵀ θ̂` (computed exactly, not from the Euler identity, so that
    /// near-kinks do not bias it).
    pub fn linear_term(&self) -> Vec<f64> {
        let ns = self.ns();
        let mut c = Vec::with_capacity(self.nvars());
        for a in 0..ns {
            let mut s = 0.0;
            for j in 0..self.k {
                // Where the pair is on, u > τ·scale ≥ 0, so u = σ(u) (u may be dropped).
                let on = if self.is_on(a, j) { self.sig[(a, j)] } else { 0.0 };
                s += self.v[j] * (on + self.sig[(a, j)]);
            }
            c.push(self.y[a] * s);
        }
        for &(a, j) in &self.amb {
            c.push(self.y[a] * self.v[j] * self.u[(a, j)]);
        }
        c
    }

    /// Gram entry `⟨col_p, col_q⟩`.
    pub fn gram(&self, p: usize, q: usize) -> f64 {
        let ns = self.ns();
        match (p < ns, q < ns) {
            (true, true) => self.kmat[(p, q)],
            (true, false) => self.lambda_mu(p, self.amb[q - ns]),
            (false, true) => self.lambda_mu(q, self.amb[p - ns]),
            (false, false) => {
                let (a, j) = self.amb[p - ns];
                let (b, l) = self.amb[q - ns];
                if j == l {
                    self.y[a] * self.y[b] * self.v[j] * self.v[j] * self.xg[(a, b)]
                } else {
                    0.0
                }
            }
        }
    }

    fn lambda_mu(&self, a: usize, (b, j): (usize, usize)) -> f64 {
        if self.is_on(a, j) {
            self.y[a] * self.y[b] * self.v[j] * self.v[j] * self.xg[(a, b)]
        } else {
            0.0
        }
    }

    /// Carries an admissible z of `prev` (the same support at a smaller τ) over to this
    /// problem with the same residual: λ unchanged, a pair relaxed in both keeps its μ, a
    /// newly relaxed pair gets μ = λ where `prev` had it on and 0 where off.
    pub fn carry(&self, prev: &Problem<'_>, z: &[f64]) -> Vec<f64> {
        let ns = self.ns();
        let mut out = z[..ns].to_vec();
        let mut old = std::collections::HashMap::with_capacity(prev.amb.len());
        for (t, &pair) in prev.amb.iter().enumerate() {
            old.insert(pair, z[prev.ns() + t]);
        }
        for &(a, j) in &self.amb {
            let mu = old.get(&(a, j)).copied().unwrap_or(if prev.is_on(a, j) { z[a] } else { 0.0 });
            out.push(mu);
        }
        out
    }

    /// Makes `(λ, μ)` admissible: λ ≥ 0, 0 ≤ μ ≤ λ (NaN becomes 0).
    pub fn project(&self, z: &mut [f64]) {
        let ns = self.ns();
        for t in z.iter_mut() {
            if !(t.is_finite() && *t > 0.0) {
                *t = 0.0;
            }
        }
        for (t, &(a, _)) in self.amb.iter().enumerate() {
            z[ns + t] = z[ns + t].min(z[a]);
        }
    }

    /// The explicit residual θ̂ − Σ λ_a h_a(s) with μ as given, in the layout of
    /// [`Net::flatten`]. Costs one k×ns by ns×d product; no object of size k·d·m.
    pub fn residual(&self, hat: &Net, z: &[f64]) -> DVector<f64> {
        let mut r = self.apply(z);
        hat.for_each_param(|i, t| r[i] = t - r[i]);
        r
    }

    /// A z = Σ λ_a h_a(s) + Σ μ_t g_t for any z (signs unrestricted), in the layout of
    /// [`Net::flatten`]: one k×ns by ns×d product.
    pub fn apply(&self, z: &[f64]) -> DVector<f64> {
        let (ns, k, d) = (self.ns(), self.k, self.xs.ncols());
        let params = k * d + k + if self.bias { k } else { 0 };
        let mut r = DVector::zeros(params);
        // The amb pairs of each neuron, for the coefficient blocks below.
        let mut amb_of: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (t, &(_, j)) in self.amb.iter().enumerate() {
            amb_of[j].push(t);
        }
        let xs = MatRef::from_column_major_slice(self.xs.as_slice(), ns, d);
        // By blocks of neurons, so that no ns×k matrix is formed: C_aj = y_a (λ_a on_aj +
        // μ_aj) for the block, then the weight block r[j·d + c] = v_j (Cᵀ X)_jc, the d×k
        // column-major matrix Xᵀ C, written in place.
        let (r_w, r_rest) = r.as_mut_slice().split_at_mut(k * d);
        let mut cm = Vec::new();
        for j0 in (0..k).step_by(APPLY_BLOCK) {
            let bw = APPLY_BLOCK.min(k - j0);
            cm.clear();
            cm.resize(ns * bw, 0.0);
            for (l, col) in cm.chunks_exact_mut(ns.max(1)).enumerate().take(bw) {
                let j = j0 + l;
                for (a, c) in col.iter_mut().enumerate() {
                    if self.is_on(a, j) {
                        *c = self.y[a] * z[a];
                    }
                }
                for &t in &amb_of[j] {
                    let a = self.amb[t].0;
                    col[a] += self.y[a] * z[ns + t];
                }
                if self.bias {
                    r_rest[j] = self.v[j] * col.iter().sum::<f64>();
                }
            }
            let block = &mut r_w[j0 * d..(j0 + bw) * d];
            let c = MatRef::from_column_major_slice(&cm, ns, bw);
            matmul(MatMut::from_column_major_slice_mut(block, d, bw), Accum::Replace, xs.transpose(), c, 1.0, Par::Seq);
            if d > 0 {
                for (col, &vj) in block.chunks_exact_mut(d).zip(&self.v[j0..j0 + bw]) {
                    col.iter_mut().for_each(|x| *x *= vj);
                }
            }
        }
        let off = if self.bias { k } else { 0 };
        for j in 0..k {
            r_rest[off + j] = (0..ns).map(|a| z[a] * self.y[a] * self.sig[(a, j)]).sum();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kkt::lpgen::Rows;

    /// `apply` (blocks of neurons, wider than one block here) agrees with the rows of A
    /// formed one by one (`Rows::row`), with and without bias, on a support of every
    /// sample (borrowed inputs) and a proper subset (copied), with ambiguous pairs.
    #[test]
    fn apply_matches_rows() {
        let (m, k, d) = (7, APPLY_BLOCK + 9, 3);
        let mut rng = crate::data::Rng::seed_from_u64(12);
        let x = DMatrix::from_fn(m, d, |_, _| rng.normal());
        let y = DVector::from_fn(m, |i, _| if i % 2 == 0 { 1.0 } else { -1.0 });
        let data = Dataset::new(x, y).expect("valid data");
        for bias in [false, true] {
            let w = DMatrix::from_fn(k, d, |_, _| rng.normal());
            let b = bias.then(|| DVector::from_fn(k, |_, _| rng.normal()));
            let v = DVector::from_fn(k, |_, _| rng.normal());
            let net = Net::new(w, b, v).expect("valid net");
            for support in [(0..m).collect::<Vec<_>>(), vec![1, 4, 6]] {
                let p = Problem::new(&net, &data, &support, 0.2);
                assert!(!p.amb.is_empty(), "the test wants ambiguous pairs");
                let z: Vec<f64> = (0..p.nvars()).map(|_| rng.uniform()).collect();
                let r = p.apply(&z);
                let rows = Rows::new(&p, d);
                let mut row = Vec::new();
                for (idx, &got) in r.iter().enumerate() {
                    rows.row(idx, &mut row);
                    let want: f64 = row.iter().map(|&(var, c)| c * z[var]).sum();
                    assert!((got - want).abs() <= 1e-12 * (1.0 + want.abs()), "row {idx}: {got} vs {want}");
                }
            }
        }
    }
}
