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
use super::bitset::BitSet;
use super::theta::Theta;
use crate::net::Activation;

/// `out += M Mᵀ`, without forming Mᵀ.
fn add_outer(out: &mut DMatrix<f64>, m: &DMatrix<f64>) {
    let (r, c) = m.shape();
    let view = MatRef::from_column_major_slice(m.as_slice(), r, c);
    matmul(MatMut::from_column_major_slice_mut(out.as_mut_slice(), r, r), Accum::Add, view, view.transpose(), 1.0, Par::Seq);
}

/// Neurons per block wherever σ or the pattern's coefficients are formed a block of
/// neurons at a time ([`Problem::apply`], [`Problem::sig_block`]'s callers), and samples
/// per tile of the x-Gram while K is built.
pub(crate) const BLOCK: usize = 64;

/// The blocks `(j0, width)` of [`BLOCK`] neurons covering `0..k`.
pub(crate) fn blocks(k: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..k).step_by(BLOCK).map(move |j0| (j0, BLOCK.min(k - j0)))
}

/// One KKT problem at a fixed τ.
pub(crate) struct Problem<'a> {
    /// Support samples (indices into the dataset), ascending.
    pub support: Vec<usize>,
    /// Labels of the support samples.
    pub y: Vec<f64>,
    /// Support inputs, ns×d: the dataset's own matrix when the support is every sample
    /// (no copy), else the selected rows.
    pub xs: Cow<'a, DMatrix<f64>>,
    /// θ̂, from which σ is recomputed a block of neurons at a time.
    hat: Theta<'a>,
    /// Output weights of θ̂.
    pub v: Vec<f64>,
    /// Whether the net has a bias.
    pub bias: bool,
    /// Pattern "on" (u > τ·scale), ns×k row-major.
    pub on: BitSet,
    /// Pre-activations on θ̂, ns×k; empty (0×0) when there are no ambiguous pairs,
    /// since only the coupled solver reads it (where a pair is on, u = σ(u)). σ(u) is
    /// not stored: [`Self::sig_block`] reads it from u when u is kept, and otherwise
    /// recomputes it from θ̂ and the inputs by blocks of neurons (docs/kkt.md, "LP
    /// norms": memory).
    pub u: DMatrix<f64>,
    /// Ambiguous pairs (a, j) over the support.
    pub amb: Vec<(usize, usize)>,
    /// The pairs of each neuron (indices into `amb`); empty when there are none.
    amb_by_neuron: Vec<Vec<usize>>,
    /// `x_a·x_b + [bias]`, ns×ns; empty (0×0) when there are no ambiguous pairs (then
    /// only K needs it, and K is built).
    pub xg: DMatrix<f64>,
    /// Gram block of the λ columns, ns×ns, in the lower triangle (diagonal included);
    /// the NNLS keeps its free block's factor in the strict upper one
    /// ([`super::nnls_gram`]).
    pub kmat: DMatrix<f64>,
    /// Width.
    pub k: usize,
}

impl<'a> Problem<'a> {
    /// Builds the problem for the normalised network `hat` on `data`, support `support`.
    #[cfg(test)]
    pub fn new(hat: Theta<'a>, data: &'a Dataset, support: &[usize], tau: f64) -> Problem<'a> {
        Self::build(hat, data, support, tau, |_| Ok(())).expect("no check")
    }

    /// Builds the problem, calling `check` with the number of ambiguous pairs once the
    /// pattern is known and before K and (with pairs) the pre-activations and x-Gram
    /// are allocated: the memory estimate with the pairs counted refuses there.
    pub fn build(
        hat: Theta<'a>,
        data: &'a Dataset,
        support: &[usize],
        tau: f64,
        check: impl FnOnce(usize) -> Result<(), super::KktError>,
    ) -> Result<Problem<'a>, super::KktError> {
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
        let on = BitSet::from_fn(ns * k, |i| pattern[i] == Activation::On);
        let amb: Vec<(usize, usize)> = (0..ns)
            .flat_map(|a| (0..k).map(move |j| (a, j)))
            .filter(|&(a, j)| pattern[a * k + j] == Activation::Ambiguous)
            .collect();
        drop(pattern);
        check(amb.len())?;
        // The pattern's pre-activations are freed: hand them back before K is built.
        super::memory::return_freed();
        // Without ambiguous pairs only K needs u (through σ) and the x-Gram: neither is
        // kept, and both are formed by blocks (docs/kkt.md, "LP norms": memory).
        let lean = amb.is_empty();
        let mut amb_by_neuron = if lean { Vec::new() } else { vec![Vec::new(); k] };
        for (t, &(_, j)) in amb.iter().enumerate() {
            amb_by_neuron[j].push(t);
        }
        let u = if lean { DMatrix::zeros(0, 0) } else { hat.preactivation_block(&xs, 0..k) };
        let bias = hat.has_bias();
        let v = hat.v();
        let mut p = Problem {
            support: support.to_vec(),
            y,
            xs,
            hat,
            v,
            bias,
            on,
            u,
            amb,
            amb_by_neuron,
            xg: DMatrix::zeros(0, 0),
            kmat: DMatrix::zeros(0, 0),
            k,
        };
        p.build_k(!lean);
        Ok(p)
    }

    /// K_ab = y_a y_b [ (O Oᵀ)_ab · xg_ab + (Σ Σᵀ)_ab ] with O_aj = on_aj · v_j and
    /// xg = X̃ X̃ᵀ, built in place: O and Σ a block of neurons at a time, xg a tile of
    /// samples at a time unless `keep_xg` (then whole, and kept for the coupled solver).
    fn build_k(&mut self, keep_xg: bool) {
        let (ns, k) = (self.ns(), self.k);
        let mut kmat = DMatrix::zeros(ns, ns);
        for (j0, bw) in blocks(k) {
            let o = DMatrix::from_fn(ns, bw, |a, l| if self.is_on(a, j0 + l) { self.v[j0 + l] } else { 0.0 });
            add_outer(&mut kmat, &o);
        }
        let tile = if keep_xg { ns.max(1) } else { BLOCK };
        for a0 in (0..ns).step_by(tile) {
            let rows = tile.min(ns - a0);
            let mut xg = DMatrix::from_element(rows, ns, if self.bias { 1.0 } else { 0.0 });
            let xs = MatRef::from_column_major_slice(self.xs.as_slice(), ns, self.xs.ncols());
            let out = MatMut::from_column_major_slice_mut(xg.as_mut_slice(), rows, ns);
            matmul(out, Accum::Add, xs.subrows(a0, rows), xs.transpose(), 1.0, Par::Seq);
            for b in 0..ns {
                for r in 0..rows {
                    kmat[(a0 + r, b)] *= xg[(r, b)];
                }
            }
            if keep_xg {
                self.xg = xg;
            }
        }
        for (j0, bw) in blocks(k) {
            add_outer(&mut kmat, &self.sig_block(j0, bw));
        }
        for b in 0..ns {
            for a in 0..ns {
                kmat[(a, b)] *= self.y[a] * self.y[b];
            }
        }
        self.kmat = kmat;
    }

    /// σ(u_aj) for the neurons `j0..j0 + bw` (ns×bw): from the stored pre-activations
    /// when the problem keeps them, else recomputed from θ̂ and the support's inputs
    /// (one ns×d by d×bw product).
    pub fn sig_block(&self, j0: usize, bw: usize) -> DMatrix<f64> {
        let mut s = if self.u.ncols() == self.k && self.u.nrows() == self.ns() {
            self.u.columns(j0, bw).into_owned()
        } else {
            self.hat.preactivation_block(&self.xs, j0..j0 + bw)
        };
        s.apply(|t| *t = t.max(0.0));
        s
    }

    /// σ(u_aj) from the stored pre-activations: only for a problem with ambiguous pairs
    /// (which keeps u), before [`Self::release_l2_data`] (the coupled solver's use).
    pub fn sig_at(&self, a: usize, j: usize) -> f64 {
        self.u[(a, j)].max(0.0)
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
        self.on.contains(a * self.k + j)
    }

    /// Linear term `c = Aᵀ θ̂` (computed exactly, not from the Euler identity, so that
    /// near-kinks do not bias it).
    pub fn linear_term(&self) -> Vec<f64> {
        let ns = self.ns();
        let mut c = vec![0.0; ns];
        for (j0, bw) in blocks(self.k) {
            let sig = self.sig_block(j0, bw);
            for (a, s) in c.iter_mut().enumerate() {
                for l in 0..bw {
                    // Where the pair is on, u > τ·scale ≥ 0, so u = σ(u) (u may be dropped).
                    let on = if self.is_on(a, j0 + l) { sig[(a, l)] } else { 0.0 };
                    *s += self.v[j0 + l] * (on + sig[(a, l)]);
                }
            }
        }
        c.iter_mut().zip(&self.y).for_each(|(s, y)| *s *= y);
        c.reserve(self.amb.len());
        for &(a, j) in &self.amb {
            c.push(self.y[a] * self.v[j] * self.u[(a, j)]);
        }
        c
    }

    /// Gram entry `⟨col_p, col_q⟩`.
    pub fn gram(&self, p: usize, q: usize) -> f64 {
        let ns = self.ns();
        match (p < ns, q < ns) {
            (true, true) => self.kmat[(p.max(q), p.min(q))],
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
    /// [`crate::net::Net::flatten`]. Costs one k×ns by ns×d product; no object of size k·d·m.
    pub fn residual(&self, hat: &Theta, z: &[f64]) -> DVector<f64> {
        let mut r = self.apply(z);
        hat.for_each_param(|i, t| r[i] = t - r[i]);
        r
    }

    /// Calls `f(i, r_i)` for every entry of the residual θ̂ − A z (see [`Self::residual`])
    /// in some order, a block of neurons at a time, without forming the P-vector.
    pub fn for_each_residual(&self, hat: &Theta, z: &[f64], mut f: impl FnMut(usize, f64)) {
        self.apply_by_blocks(z, |blk| {
            for (i, a) in blk.entries() {
                f(i, hat.param(i) - a);
            }
        });
    }

    /// A z = Σ λ_a h_a(s) + Σ μ_t g_t for any z (signs unrestricted), in the layout of
    /// [`crate::net::Net::flatten`]: one k×ns by ns×d product.
    pub fn apply(&self, z: &[f64]) -> DVector<f64> {
        let mut r = DVector::zeros(self.hat.param_count());
        self.apply_by_blocks(z, |blk| blk.entries().for_each(|(i, a)| r[i] = a));
        r
    }

    /// The ambiguous pairs of neuron `j` (indices into [`Self::amb`]).
    pub fn pairs_of_neuron(&self, j: usize) -> &[usize] {
        self.amb_by_neuron.get(j).map_or(&[], Vec::as_slice)
    }

    /// A z a block of [`BLOCK`] neurons at a time, handed to `f` (see [`Self::apply`]);
    /// σ is recomputed per block, so that no ns×k matrix is formed.
    pub fn apply_by_blocks(&self, z: &[f64], mut f: impl FnMut(&Block)) {
        let (ns, k, d) = (self.ns(), self.k, self.xs.ncols());
        let xs = MatRef::from_column_major_slice(self.xs.as_slice(), ns, d);
        // C_aj = y_a (λ_a on_aj + μ_aj) for the block, then the weight block
        // r[j·d + c] = v_j (Cᵀ X)_jc, the d×bw column-major matrix Xᵀ C.
        let mut cm = Vec::new();
        let mut blk = Block { layout: (k, d, self.bias), j0: 0, w: Vec::new(), b: Vec::new(), v: Vec::new() };
        for (j0, bw) in blocks(k) {
            cm.clear();
            cm.resize(ns * bw, 0.0);
            blk.j0 = j0;
            blk.b.clear();
            blk.v.clear();
            for (l, col) in cm.chunks_exact_mut(ns.max(1)).enumerate().take(bw) {
                let j = j0 + l;
                for (a, c) in col.iter_mut().enumerate() {
                    if self.is_on(a, j) {
                        *c = self.y[a] * z[a];
                    }
                }
                for &t in self.pairs_of_neuron(j) {
                    let a = self.amb[t].0;
                    col[a] += self.y[a] * z[ns + t];
                }
                if self.bias {
                    blk.b.push(self.v[j] * col.iter().sum::<f64>());
                }
            }
            blk.w.clear();
            blk.w.resize(bw * d, 0.0);
            let c = MatRef::from_column_major_slice(&cm, ns, bw);
            matmul(MatMut::from_column_major_slice_mut(&mut blk.w, d, bw), Accum::Replace, xs.transpose(), c, 1.0, Par::Seq);
            if d > 0 {
                for (col, &vj) in blk.w.chunks_exact_mut(d).zip(&self.v[j0..j0 + bw]) {
                    col.iter_mut().for_each(|x| *x *= vj);
                }
            }
            let sig = self.sig_block(j0, bw);
            for l in 0..bw {
                blk.v.push((0..ns).map(|a| z[a] * self.y[a] * sig[(a, l)]).sum());
            }
            f(&blk);
        }
    }
}

/// The entries of A z (or of a residual) for the neurons `j0..j0 + bw` of one block of
/// [`Problem::apply_by_blocks`].
pub(crate) struct Block {
    /// (k, d, bias) of the network, for the parameter indices.
    layout: (usize, usize, bool),
    /// First neuron.
    j0: usize,
    /// Weight entries, neuron by neuron (bw·d, at parameter j0·d onwards).
    w: Vec<f64>,
    /// Bias entries (bw, or none without bias).
    b: Vec<f64>,
    /// Output-weight entries (bw).
    v: Vec<f64>,
}

impl Block {
    /// (parameter index in the layout of [`crate::net::Net::flatten`], entry) for every entry.
    pub fn entries(&self) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (k, d, bias) = self.layout;
        let j0 = self.j0;
        let voff = k * d + if bias { k } else { 0 };
        let w = self.w.iter().enumerate().map(move |(i, &a)| (j0 * d + i, a));
        let b = self.b.iter().enumerate().map(move |(l, &a)| (k * d + j0 + l, a));
        let v = self.v.iter().enumerate().map(move |(l, &a)| (voff + j0 + l, a));
        w.chain(b).chain(v)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::data::Rng;
    use crate::kkt::lpgen::Rows;
    use crate::net::Net;

    /// m random inputs in dimension d, labels alternating in blocks of `period`.
    pub(in crate::kkt) fn random_data(rng: &mut Rng, m: usize, d: usize, period: usize) -> Dataset {
        let x = DMatrix::from_fn(m, d, |_, _| rng.normal());
        let y = DVector::from_fn(m, |i, _| if i % period == 0 { 1.0 } else { -1.0 });
        Dataset::new(x, y).expect("valid data")
    }

    /// A random (k, d) network with or without bias, standard normal entries.
    pub(in crate::kkt) fn random_net(rng: &mut Rng, k: usize, d: usize, bias: bool) -> Net {
        let w = DMatrix::from_fn(k, d, |_, _| rng.normal());
        let b = bias.then(|| DVector::from_fn(k, |_, _| rng.normal()));
        let v = DVector::from_fn(k, |_, _| rng.normal());
        Net::new(w, b, v).expect("valid net")
    }

    /// `apply` (blocks of neurons, wider than one block here) agrees with the rows of A
    /// formed one by one (`Rows::row`), with and without bias, on a support of every
    /// sample (borrowed inputs) and a proper subset (copied), with ambiguous pairs.
    #[test]
    fn apply_matches_rows() {
        let (m, k, d) = (7, BLOCK + 9, 3);
        let mut rng = Rng::seed_from_u64(12);
        let data = random_data(&mut rng, m, d, 2);
        for bias in [false, true] {
            let net = random_net(&mut rng, k, d, bias);
            for support in [(0..m).collect::<Vec<_>>(), vec![1, 4, 6]] {
                let p = Problem::new(Theta::new(&net, 1.0), &data, &support, 0.2);
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

    /// Without ambiguous pairs σ is recomputed by blocks of neurons and K built by
    /// blocks and x-Gram tiles; both agree with the per-sample gradients of
    /// `Net::sample_gradient` (an independent computation, one sample at a time): A z =
    /// Σ λ_a h_a, K_ab = ⟨h_a, h_b⟩ and c_a = ⟨h_a, θ̂⟩, with widths and supports across
    /// several blocks and tiles, with and without bias, all samples and a subset.
    #[test]
    fn blocks_match_sample_gradients() {
        let (m, k, d) = (BLOCK + 21, 2 * BLOCK + 5, 4);
        let mut rng = Rng::seed_from_u64(31);
        let data = random_data(&mut rng, m, d, 3);
        for bias in [false, true] {
            let net = random_net(&mut rng, k, d, bias);
            for support in [(0..m).collect::<Vec<_>>(), (0..m).filter(|i| i % 4 != 1).collect()] {
                let p = Problem::new(Theta::new(&net, 1.0), &data, &support, 0.0);
                assert!(p.amb.is_empty(), "the test wants no ambiguous pairs (u = 0 exactly)");
                let h: Vec<DVector<f64>> = support
                    .iter()
                    .enumerate()
                    .map(|(a, &i)| {
                        let s: Vec<f64> = (0..k).map(|j| f64::from(u8::from(p.is_on(a, j)))).collect();
                        net.sample_gradient(&data.row(i), data.y()[i], &s)
                    })
                    .collect();
                let close = |got: f64, want: f64, what: &str| {
                    assert!((got - want).abs() <= 1e-12 * (1.0 + want.abs()), "{what}: {got} vs {want}");
                };
                let z: Vec<f64> = (0..p.nvars()).map(|_| rng.uniform()).collect();
                let want = h.iter().zip(&z).fold(DVector::zeros(net.param_count()), |acc, (ha, &za)| acc + ha * za);
                for (i, (&got, &want)) in p.apply(&z).iter().zip(want.iter()).enumerate() {
                    close(got, want, &format!("(A z)_{i}"));
                }
                let theta = net.flatten();
                for (a, &c) in p.linear_term().iter().enumerate() {
                    close(c, h[a].dot(&theta), &format!("c_{a}"));
                    for (b, hb) in h.iter().enumerate() {
                        close(p.gram(a, b), h[a].dot(hb), &format!("K_{a}{b}"));
                    }
                }
            }
        }
    }
}
