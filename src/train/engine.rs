//! The hot kernel: one gradient step of a depth-2 ReLU network, allocation-free.
//!
//! Buffers are row-major `Vec<T>` (`T` = f32 or f64) viewed as faer matrices; the two
//! matrix products go through faer's parallel `matmul` (measured faster than
//! nalgebra/matrixmultiply here, see BENCHMARKS.md). Loss and weights are computed in
//! f64 from the margins, in log space.
//!
//! Two interchangeable ways to carry the pre-activations `U = X Wᵀ + 1bᵀ` (m×k):
//! * **direct** — keep `W`; a step is `W ← W − s·G_Sᵀ X_S` (product k×|S|×d) and the
//!   forward pass `U = X Wᵀ` (product m×d×k);
//! * **gram** — the first-layer update always lies in the row span of `X`
//!   (`ΔW = −s·Gᵀ X`), so `ΔU = X ΔWᵀ = −s·K G` with the Gram matrix `K = X Xᵀ`
//!   computed once: one product m×|S|×k per step instead of two. `W` is brought up to
//!   date lazily (`W ← W − Cᵀ X` with `C = Σ s_t G_t`), and `U` is recomputed exactly
//!   from `W` every `refresh` steps so rounding cannot drift.
//!
//! `G` (|S|×k) holds `a_i v_j 1[u_ij > 0]` with `a_i = −y_i r_i` for the *active*
//! samples S only (see [`super::TrainSettings::screening`]); the screening rule is
//! explained in the module docs of `train`.

use std::borrow::Cow;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::loss::{ln_terms, log_sum_exp};
use super::passes::{finish_pass, finish_pass_gram, PARALLEL_ELEMENTS, ROW_CHUNK};
use super::Loss;
pub(crate) use super::real::Real;

/// How the pre-activations are carried (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Direct,
    Gram,
}

/// Direct mode keeps all m×k pre-activations up to this many bytes (64 MiB); above, it
/// recomputes them tile by tile: memory O(tile·k) instead of O(m·k), for one more
/// product over the active rows per step (measured in BENCHMARKS.md).
pub(crate) const STORE_U_MAX_BYTES: usize = 64 << 20;

/// Rows of one tile of the direct kernel's forward and backward products.
pub(crate) const TILE_ROWS: usize = 1024;

/// The inputs of the gradient's element-wise pieces.
struct Pieces<'p, T> {
    u: &'p [T],
    v: &'p [T],
    y: &'p [f64],
    r: &'p [f64],
    k: usize,
    par: bool,
    /// `u` holds the rows' pre-activations in row order (a tile), not all m rows.
    local: bool,
}

impl<T: Real> Pieces<'_, T> {
    /// `g` (rows × k) ← `a_i v_j 1[u_ij > 0]` for the samples `rows`, `a_i = −y_i r_i`.
    fn fill_g(&self, g: &mut [T], rows: &[usize]) {
        let (u, v, y, r, k, local) = (self.u, self.v, self.y, self.r, self.k, self.local);
        let build = |(ci, chunk): (usize, &mut [T])| {
            for (o, grow) in chunk.chunks_mut(k).enumerate() {
                let pos = ci * ROW_CHUNK + o;
                let i = rows[pos];
                let a = T::of(-y[i] * r[i]);
                let ui = if local { pos } else { i };
                let urow = &u[ui * k..(ui + 1) * k];
                let z = T::default();
                for ((g, &uu), &vv) in grow.iter_mut().zip(urow).zip(v) {
                    *g = if uu > z { a * vv } else { z };
                }
            }
        };
        if self.par {
            g.par_chunks_mut(k * ROW_CHUNK).enumerate().for_each(build);
        } else {
            g.chunks_mut(k * ROW_CHUNK).enumerate().for_each(build);
        }
    }

    /// `db_j += Σ_s G_sj`, `dv_j += Σ_s a_s relu(u_sj)` over `rows`, in f64, in row
    /// order (parallel over columns).
    fn add_db_dv(&self, g: &[T], rows: &[usize], db: &mut [f64], dv: &mut [f64]) {
        let (u, y, r, k, local) = (self.u, self.y, self.r, self.k, self.local);
        let cols = if self.par { k.div_ceil(2).max(1) } else { k.max(1) };
        let reduce = |(c, (db, dv)): (usize, (&mut [f64], &mut [f64]))| {
            let j0 = c * cols;
            for (sidx, &i) in rows.iter().enumerate() {
                let a = -y[i] * r[i];
                let grow = &g[sidx * k + j0..sidx * k + j0 + db.len()];
                let ui = if local { sidx } else { i };
                let urow = &u[ui * k + j0..ui * k + j0 + db.len()];
                for (((dbt, dvt), &gg), &uu) in db.iter_mut().zip(dv.iter_mut()).zip(grow).zip(urow) {
                    *dbt += gg.f();
                    let h = uu.f();
                    *dvt += a * if h > 0.0 { h } else { 0.0 };
                }
            }
        };
        if self.par {
            db.par_chunks_mut(cols).zip(dv.par_chunks_mut(cols)).enumerate().for_each(reduce);
        } else {
            reduce((0, (db, dv)));
        }
    }
}

/// The forward pass `U = X Wᵀ + b`, margins `q`: over all rows at once into an m×k `u`
/// (`store`), or tile by tile into a tile-sized `u` (margins only).
struct Forward<'f, T> {
    x: &'f [T],
    y: &'f [f64],
    m: usize,
    d: usize,
    k: usize,
    par: Par,
    elem_par: bool,
    store: bool,
}

impl<T: Real> Forward<'_, T> {
    fn run(&self, p: &Params<T>, bias: bool, u: &mut [T], q: &mut [f64]) {
        let (m, d, k) = (self.m, self.d, self.k);
        let xr = MatRef::from_column_major_slice(self.x, m, d);
        let wr = MatRef::from_row_major_slice(&p.w, k, d);
        let b = bias.then_some(&p.b[..]);
        if self.store {
            matmul(MatMut::from_row_major_slice_mut(u, m, k), Accum::Replace, xr, wr.transpose(), T::of(1.0), self.par);
            finish_pass(u, b, T::of(1.0), &p.v, self.y, q, k, self.elem_par);
            return;
        }
        for i0 in (0..m).step_by(TILE_ROWS) {
            let n = TILE_ROWS.min(m - i0);
            let ut = &mut u[..n * k];
            matmul(MatMut::from_row_major_slice_mut(ut, n, k), Accum::Replace, xr.subrows(i0, n), wr.transpose(), T::of(1.0), self.par);
            finish_pass(ut, b, T::of(1.0), &p.v, &self.y[i0..i0 + n], &mut q[i0..i0 + n], k, self.elem_par);
        }
    }
}

/// Parameters of the network in kernel precision.
#[derive(Clone)]
pub(crate) struct Params<T> {
    pub w: Vec<T>,
    pub b: Vec<T>,
    pub v: Vec<T>,
}

/// The training state and every work buffer; nothing is allocated per step once the
/// active set has reached its largest size.
pub(crate) struct Engine<'a, T: Real> {
    pub m: usize,
    pub d: usize,
    pub k: usize,
    pub bias: bool,
    pub mode: Mode,
    pub loss: Loss,
    par: Par,
    /// The data, column-major m×d (the dataset's own storage in f64).
    x: Cow<'a, [T]>,
    y: Vec<f64>,
    /// Current parameters (in gram mode, `w` lags by `Cᵀ X`).
    pub cur: Params<T>,
    prop: Params<T>,
    /// Pre-activations (m×k, row-major) and margins of the current parameters. Direct
    /// mode: after a gradient has been taken, `u` holds the last proposal's (the next
    /// gradient is only taken after an accepted proposal, when they are current again).
    u: Vec<T>,
    pub q: Vec<f64>,
    /// Direct mode: whether `u` holds all m rows; otherwise it is one tile, and the
    /// pre-activations of the active rows are recomputed for the gradient.
    store_u: bool,
    /// Gram mode: the proposal's pre-activations.
    u2: Vec<T>,
    pub q2: Vec<f64>,
    /// Normalised gradient weights r_i of the current batch (0 outside it).
    r: Vec<f64>,
    /// Active samples (batch members with a representable weight).
    pub active: Vec<usize>,
    /// Gram mode: `G_S` (|S|×k). Direct mode: one tile of it.
    g: Vec<T>,
    /// Direct mode: one tile of the active rows of X (row-major).
    xs: Vec<T>,
    /// Direct mode: the first-layer gradient `G_Sᵀ X_S` (k×d).
    dw: Vec<T>,
    db: Vec<f64>,
    dv: Vec<f64>,
    bshift: Vec<T>,
    // Gram mode.
    gram: Vec<T>,
    ks: Vec<T>,
    c: Vec<T>,
    c_dirty: bool,
    since_refresh: usize,
    refresh: usize,
}

impl<'a, T: Real> Engine<'a, T> {
    /// Builds the engine from f64 data (`x` column-major m×d, as nalgebra stores it) and
    /// parameters (`w` row-major k×d).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        x: &'a [f64],
        y: &[f64],
        d: usize,
        w: &[f64],
        b: Option<&[f64]>,
        v: &[f64],
        loss: Loss,
        mode: Mode,
        refresh: usize,
        threads: usize,
    ) -> Engine<'a, T> {
        let m = y.len();
        let k = v.len();
        let cvt = |s: &[f64]| s.iter().map(|&t| T::of(t)).collect::<Vec<T>>();
        let cur = Params { w: cvt(w), b: b.map_or_else(|| vec![T::default(); k], cvt), v: cvt(v) };
        let store_u = mode == Mode::Gram || (m * k).saturating_mul(std::mem::size_of::<T>()) <= STORE_U_MAX_BYTES;
        let par = if threads == 1 { Par::Seq } else { Par::rayon(threads) };
        let mut e = Engine {
            m,
            d,
            k,
            bias: b.is_some(),
            mode,
            loss,
            par,
            x: T::cow(x),
            y: y.to_vec(),
            prop: cur.clone(),
            cur,
            u: vec![T::default(); if store_u { m * k } else { m.min(TILE_ROWS) * k }],
            store_u,
            q: vec![0.0; m],
            u2: if mode == Mode::Gram { vec![T::default(); m * k] } else { Vec::new() },
            q2: vec![0.0; m],
            r: vec![0.0; m],
            active: Vec::with_capacity(m),
            g: Vec::new(),
            xs: Vec::new(),
            dw: if mode == Mode::Direct { vec![T::default(); k * d] } else { Vec::new() },
            db: vec![0.0; k],
            dv: vec![0.0; k],
            bshift: vec![T::default(); k],
            gram: Vec::new(),
            ks: Vec::new(),
            c: Vec::new(),
            c_dirty: false,
            since_refresh: 0,
            refresh: refresh.max(1),
        };
        if mode == Mode::Gram {
            e.gram = vec![T::default(); m * m];
            let xr = MatRef::from_column_major_slice(&e.x, m, d);
            matmul(MatMut::from_row_major_slice_mut(&mut e.gram, m, m), Accum::Replace, xr, xr.transpose(), T::of(1.0), e.par);
            e.c = vec![T::default(); m * k];
        }
        e.forward_current();
        e
    }

    /// The data as a matrix view.
    fn xmat(&self) -> MatRef<'_, T> {
        MatRef::from_column_major_slice(&self.x, self.m, self.d)
    }

    /// Whether the element-wise passes are worth splitting across threads (small
    /// passes cost less than waking the pool).
    fn elementwise_parallel(&self) -> bool {
        self.par != Par::Seq && self.m * self.k >= PARALLEL_ELEMENTS
    }

    /// `U = X Wᵀ + b`, margins, for the current parameters from scratch.
    fn forward_current(&mut self) {
        let fw = Forward { x: &self.x, y: &self.y, m: self.m, d: self.d, k: self.k, par: self.par, elem_par: self.elementwise_parallel(), store: self.store_u };
        fw.run(&self.cur, self.bias, &mut self.u, &mut self.q);
    }

    /// `ln` of the loss over `batch` (all samples when `None`) at margins `q`.
    pub fn ln_loss(&self, q: &[f64], batch: Option<&[usize]>) -> f64 {
        let loss = self.loss;
        match batch {
            None => log_sum_exp(q.iter().map(move |&t| ln_terms(loss, t).0)),
            Some(idx) => log_sum_exp(idx.iter().map(move |&i| ln_terms(loss, q[i]).0)),
        }
    }

    /// Computes the normalised gradient pieces (`G_S`, `db`, `dv`) at the current
    /// parameters for `batch` (all samples when `None`; sorted indices, so that the
    /// products read rows in order), whose loss is `ln_lb`.
    /// With `screening`, samples whose weight is below `EPS/(2n)` are left out.
    pub fn gradient(&mut self, batch: Option<&[usize]>, ln_lb: f64, screening: bool) {
        let (m, k, d) = (self.m, self.k, self.d);
        let n = batch.map_or(m, |b| b.len());
        let thr = if screening { T::EPS / (2.0 * n as f64) } else { 0.0 };
        self.active.clear();
        let loss = self.loss;
        let push = |i: usize, r: &mut Vec<f64>, active: &mut Vec<usize>, q: &[f64]| {
            let ri = (ln_terms(loss, q[i]).1 - ln_lb).exp();
            r[i] = ri;
            if ri > thr || (!screening) {
                active.push(i);
            }
        };
        match batch {
            None => (0..m).for_each(|i| push(i, &mut self.r, &mut self.active, &self.q)),
            Some(idx) => idx.iter().for_each(|&i| push(i, &mut self.r, &mut self.active, &self.q)),
        }
        let s = self.active.len();
        self.db.iter_mut().for_each(|t| *t = 0.0);
        self.dv.iter_mut().for_each(|t| *t = 0.0);
        let par = self.elementwise_parallel();
        match self.mode {
            Mode::Gram => {
                self.g.resize(s * k, T::default());
                let pieces = Pieces { u: &self.u, v: &self.cur.v, y: &self.y, r: &self.r, k, par, local: false };
                pieces.fill_g(&mut self.g, &self.active);
                pieces.add_db_dv(&self.g, &self.active, &mut self.db, &mut self.dv);
                if s < m {
                    self.ks.resize(s * m, T::default());
                    for (sidx, &i) in self.active.iter().enumerate() {
                        self.ks[sidx * m..(sidx + 1) * m].copy_from_slice(&self.gram[i * m..(i + 1) * m]);
                    }
                }
            }
            Mode::Direct => {
                // dW = G_Sᵀ X_S, one tile of active rows at a time (no |S|×k buffer).
                self.dw.iter_mut().for_each(|t| *t = T::default());
                let xr = MatRef::from_column_major_slice(&self.x, m, d);
                for t0 in (0..s).step_by(TILE_ROWS) {
                    let rows = &self.active[t0..(t0 + TILE_ROWS).min(s)];
                    let n = rows.len();
                    let (first, last) = (rows[0], rows[n - 1]);
                    // Consecutive samples: read X in place; otherwise gather the rows.
                    let contiguous = last - first == n - 1;
                    if !contiguous {
                        self.xs.resize(n * d, T::default());
                        for (o, &i) in rows.iter().enumerate() {
                            for (c, t) in self.xs[o * d..(o + 1) * d].iter_mut().enumerate() {
                                *t = self.x[c * m + i];
                            }
                        }
                    }
                    let xt = if contiguous { xr.subrows(first, n) } else { MatRef::from_row_major_slice(&self.xs, n, d) };
                    if !self.store_u {
                        // The tile's pre-activations, recomputed (no m×k buffer).
                        let wr = MatRef::from_row_major_slice(&self.cur.w, k, d);
                        matmul(MatMut::from_row_major_slice_mut(&mut self.u[..n * k], n, k), Accum::Replace, xt, wr.transpose(), T::of(1.0), self.par);
                        if self.bias {
                            for urow in self.u[..n * k].chunks_mut(k) {
                                for (t, &bj) in urow.iter_mut().zip(&self.cur.b) {
                                    *t += bj;
                                }
                            }
                        }
                    }
                    self.g.resize(n * k, T::default());
                    let pieces = Pieces { u: &self.u, v: &self.cur.v, y: &self.y, r: &self.r, k, par, local: !self.store_u };
                    pieces.fill_g(&mut self.g, rows);
                    pieces.add_db_dv(&self.g, rows, &mut self.db, &mut self.dv);
                    let gr = MatRef::from_row_major_slice(&self.g, n, k);
                    let dwm = MatMut::from_row_major_slice_mut(&mut self.dw, k, d);
                    matmul(dwm, Accum::Add, gr.transpose(), xt, T::of(1.0), self.par);
                }
            }
        }
        if !self.bias {
            self.db.iter_mut().for_each(|t| *t = 0.0);
        }
    }

    /// Whether the last computed gradient is exactly zero.
    pub fn gradient_is_zero(&self) -> bool {
        let first_layer = match self.mode {
            Mode::Direct => &self.dw,
            Mode::Gram => &self.g,
        };
        self.dv.iter().all(|&t| t == 0.0) && self.db.iter().all(|&t| t == 0.0) && first_layer.iter().all(|&t| t == T::default())
    }

    /// Computes the proposal `θ − s·ĝ` into the proposal buffers (`u2`, `q2`).
    /// Returns false when a proposed margin is not finite.
    pub fn propose(&mut self, step: f64) -> bool {
        let (m, d, k) = (self.m, self.d, self.k);
        let s = self.active.len();
        for j in 0..k {
            self.prop.b[j] = T::of(self.cur.b[j].f() - step * self.db[j]);
            self.prop.v[j] = T::of(self.cur.v[j].f() - step * self.dv[j]);
        }
        let neg = T::of(-step);
        match self.mode {
            Mode::Direct => {
                for ((p, &c), &g) in self.prop.w.iter_mut().zip(&self.cur.w).zip(&self.dw) {
                    *p = c + neg * g;
                }
                let fw = Forward { x: &self.x, y: &self.y, m, d, k, par: self.par, elem_par: self.elementwise_parallel(), store: self.store_u };
                fw.run(&self.prop, self.bias, &mut self.u, &mut self.q2);
            }
            Mode::Gram => {
                let gr = MatRef::from_row_major_slice(&self.g, s, k);
                if s > 0 {
                    let kr = if s == m {
                        MatRef::from_row_major_slice(&self.gram, m, m)
                    } else {
                        MatRef::from_row_major_slice(&self.ks, s, m).transpose()
                    };
                    matmul(MatMut::from_row_major_slice_mut(&mut self.u2, m, k), Accum::Replace, kr, gr, neg, self.par);
                } else {
                    self.u2.iter_mut().for_each(|t| *t = T::default());
                }
                // u2 += u − s·db (the bias change; db is 0 without bias).
                for j in 0..k {
                    self.bshift[j] = T::of(-step * self.db[j]);
                }
                let par = self.elementwise_parallel();
                finish_pass_gram(&mut self.u2, &self.u, &self.bshift, &self.prop.v, &self.y, &mut self.q2, k, par);
            }
        }
        self.q2.iter().all(|t| t.is_finite())
    }

    /// Makes the proposal current. In gram mode `C += s·G_S`, and `U` is refreshed from
    /// `W` every `refresh` accepted steps.
    pub fn accept(&mut self, step: f64) {
        let k = self.k;
        std::mem::swap(&mut self.q, &mut self.q2);
        match self.mode {
            // `u` already holds the proposal's pre-activations.
            Mode::Direct => std::mem::swap(&mut self.cur, &mut self.prop),
            Mode::Gram => {
                std::mem::swap(&mut self.u, &mut self.u2);
                std::mem::swap(&mut self.cur.b, &mut self.prop.b);
                std::mem::swap(&mut self.cur.v, &mut self.prop.v);
                let st = T::of(step);
                for (sidx, &i) in self.active.iter().enumerate() {
                    let crow = &mut self.c[i * k..(i + 1) * k];
                    let grow = &self.g[sidx * k..(sidx + 1) * k];
                    for j in 0..k {
                        crow[j] += st * grow[j];
                    }
                }
                self.c_dirty = true;
                self.since_refresh += 1;
                if self.since_refresh >= self.refresh {
                    self.refresh_exact();
                }
            }
        }
    }

    /// Gram mode: folds `C` into `W` and recomputes `U` and the margins exactly.
    pub fn refresh_exact(&mut self) {
        if self.mode != Mode::Gram {
            return;
        }
        self.fold_c();
        self.forward_current();
        self.since_refresh = 0;
    }

    fn fold_c(&mut self) {
        if !self.c_dirty {
            return;
        }
        let (m, d, k) = (self.m, self.d, self.k);
        let cr = MatRef::from_row_major_slice(&self.c, m, k);
        let xr = MatRef::from_column_major_slice(&self.x, m, d);
        matmul(MatMut::from_row_major_slice_mut(&mut self.cur.w, k, d), Accum::Add, cr.transpose(), xr, T::of(-1.0), self.par);
        self.c.iter_mut().for_each(|t| *t = T::default());
        self.c_dirty = false;
    }

    /// The current parameters as f64 `(w, b, v)` (folding `C` into `W` first).
    pub fn export(&mut self) -> (Vec<f64>, Option<Vec<f64>>, Vec<f64>) {
        self.fold_c();
        let f = |s: &[T]| s.iter().map(|t| t.f()).collect::<Vec<f64>>();
        (f(&self.cur.w), self.bias.then(|| f(&self.cur.b)), f(&self.cur.v))
    }

    /// The current parameters as f64 `(w, b, v)` without changing the engine (in gram
    /// mode `W − Cᵀ X` is formed in a copy), so that looking at the network (e.g. to
    /// certify it) leaves the iterates bit for bit as they would have been.
    pub fn snapshot(&self) -> (Vec<f64>, Option<Vec<f64>>, Vec<f64>) {
        let mut w = self.cur.w.clone();
        if self.c_dirty {
            let (m, d, k) = (self.m, self.d, self.k);
            let cr = MatRef::from_row_major_slice(&self.c, m, k);
            let xr = self.xmat();
            matmul(MatMut::from_row_major_slice_mut(&mut w, k, d), Accum::Add, cr.transpose(), xr, T::of(-1.0), self.par);
        }
        let f = |s: &[T]| s.iter().map(|t| t.f()).collect::<Vec<f64>>();
        (f(&w), self.bias.then(|| f(&self.cur.b)), f(&self.cur.v))
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
