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

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::loss::{ln_terms, log_sum_exp};
use super::passes::{finish_pass, finish_pass_gram, PARALLEL_ELEMENTS, ROW_CHUNK};
use super::Loss;

/// Floating-point type of the kernel.
pub(crate) trait Real:
    faer::traits::ComplexField
    + Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + 'static
{
    /// Machine epsilon (distance from 1 to the next float).
    const EPS: f64;
    /// Conversion from f64 (rounding).
    fn of(x: f64) -> Self;
    /// Conversion to f64 (exact).
    fn f(self) -> f64;
}

impl Real for f64 {
    const EPS: f64 = f64::EPSILON;
    #[inline]
    fn of(x: f64) -> Self {
        x
    }
    #[inline]
    fn f(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const EPS: f64 = f32::EPSILON as f64;
    #[inline]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn f(self) -> f64 {
        self as f64
    }
}

/// How the pre-activations are carried (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Direct,
    Gram,
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
pub(crate) struct Engine<T: Real> {
    pub m: usize,
    pub d: usize,
    pub k: usize,
    pub bias: bool,
    pub mode: Mode,
    pub loss: Loss,
    par: Par,
    x: Vec<T>,
    y: Vec<f64>,
    /// Current parameters (in gram mode, `w` lags by `Cᵀ X`).
    pub cur: Params<T>,
    prop: Params<T>,
    /// Pre-activations and margins of the current parameters.
    u: Vec<T>,
    pub q: Vec<f64>,
    u2: Vec<T>,
    pub q2: Vec<f64>,
    /// Normalised gradient weights r_i of the current batch (0 outside it).
    r: Vec<f64>,
    /// Active samples (batch members with a representable weight).
    pub active: Vec<usize>,
    g: Vec<T>,
    xs: Vec<T>,
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

impl<T: Real> Engine<T> {
    /// Builds the engine from f64 data (row-major x, m×d) and parameters.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        x: &[f64],
        y: &[f64],
        d: usize,
        w: &[f64],
        b: Option<&[f64]>,
        v: &[f64],
        loss: Loss,
        mode: Mode,
        refresh: usize,
        threads: usize,
    ) -> Engine<T> {
        let m = y.len();
        let k = v.len();
        let cvt = |s: &[f64]| s.iter().map(|&t| T::of(t)).collect::<Vec<T>>();
        let cur = Params { w: cvt(w), b: b.map_or_else(|| vec![T::default(); k], cvt), v: cvt(v) };
        let par = if threads == 1 { Par::Seq } else { Par::rayon(threads) };
        let mut e = Engine {
            m,
            d,
            k,
            bias: b.is_some(),
            mode,
            loss,
            par,
            x: cvt(x),
            y: y.to_vec(),
            prop: cur.clone(),
            cur,
            u: vec![T::default(); m * k],
            q: vec![0.0; m],
            u2: vec![T::default(); m * k],
            q2: vec![0.0; m],
            r: vec![0.0; m],
            active: Vec::with_capacity(m),
            g: Vec::with_capacity(m * k),
            xs: Vec::new(),
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
            let xr = MatRef::from_row_major_slice(&e.x, m, d);
            matmul(MatMut::from_row_major_slice_mut(&mut e.gram, m, m), Accum::Replace, xr, xr.transpose(), T::of(1.0), e.par);
            e.c = vec![T::default(); m * k];
        }
        e.forward_current();
        e
    }

    /// Whether the element-wise passes are worth splitting across threads (small
    /// passes cost less than waking the pool).
    fn elementwise_parallel(&self) -> bool {
        self.par != Par::Seq && self.m * self.k >= PARALLEL_ELEMENTS
    }

    /// `U = X Wᵀ + b`, margins, for the current parameters from scratch.
    fn forward_current(&mut self) {
        let (m, d, k) = (self.m, self.d, self.k);
        let xr = MatRef::from_row_major_slice(&self.x, m, d);
        let wr = MatRef::from_row_major_slice(&self.cur.w, k, d);
        matmul(MatMut::from_row_major_slice_mut(&mut self.u, m, k), Accum::Replace, xr, wr.transpose(), T::of(1.0), self.par);
        let bias = self.bias.then_some(&self.cur.b[..]);
        let par = self.elementwise_parallel();
        finish_pass(&mut self.u, bias, T::of(1.0), &self.cur.v, &self.y, &mut self.q, k, par);
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
        self.g.resize(s * k, T::default());
        let (u, v, y, r, active) = (&self.u, &self.cur.v, &self.y, &self.r, &self.active);
        let build = |(ci, chunk): (usize, &mut [T])| {
            for (o, grow) in chunk.chunks_mut(k).enumerate() {
                let i = active[ci * ROW_CHUNK + o];
                let a = T::of(-y[i] * r[i]);
                let urow = &u[i * k..(i + 1) * k];
                let z = T::default();
                for ((g, &uu), &vv) in grow.iter_mut().zip(urow).zip(v) {
                    *g = if uu > z { a * vv } else { z };
                }
            }
        };
        if self.elementwise_parallel() {
            self.g.par_chunks_mut(k * ROW_CHUNK).enumerate().for_each(build);
        } else {
            self.g.chunks_mut(k * ROW_CHUNK).enumerate().for_each(build);
        }
        // db_j = Σ_s G_sj, dv_j = Σ_s a_s relu(u_sj), in f64, parallel over columns.
        let par = self.elementwise_parallel();
        let g = &self.g;
        let cols = if par { k.div_ceil(2).max(1) } else { k.max(1) };
        let reduce = |(c, (db, dv)): (usize, (&mut [f64], &mut [f64]))| {
            let j0 = c * cols;
            db.iter_mut().for_each(|t| *t = 0.0);
            dv.iter_mut().for_each(|t| *t = 0.0);
            for (sidx, &i) in active.iter().enumerate() {
                let a = -y[i] * r[i];
                let grow = &g[sidx * k + j0..sidx * k + j0 + db.len()];
                let urow = &u[i * k + j0..i * k + j0 + db.len()];
                for (((dbt, dvt), &gg), &uu) in db.iter_mut().zip(dv.iter_mut()).zip(grow).zip(urow) {
                    *dbt += gg.f();
                    let h = uu.f();
                    *dvt += a * if h > 0.0 { h } else { 0.0 };
                }
            }
        };
        if par {
            self.db.par_chunks_mut(cols).zip(self.dv.par_chunks_mut(cols)).enumerate().for_each(reduce);
        } else {
            reduce((0, (&mut self.db[..], &mut self.dv[..])));
        }
        if !self.bias {
            self.db.iter_mut().for_each(|t| *t = 0.0);
        }
        if self.mode == Mode::Direct && s < m {
            self.xs.resize(s * d, T::default());
            for (sidx, &i) in self.active.iter().enumerate() {
                self.xs[sidx * d..(sidx + 1) * d].copy_from_slice(&self.x[i * d..(i + 1) * d]);
            }
        }
        if self.mode == Mode::Gram && s < m {
            self.ks.resize(s * m, T::default());
            for (sidx, &i) in self.active.iter().enumerate() {
                self.ks[sidx * m..(sidx + 1) * m].copy_from_slice(&self.gram[i * m..(i + 1) * m]);
            }
        }
    }

    /// Whether the last computed gradient is exactly zero.
    pub fn gradient_is_zero(&self) -> bool {
        self.dv.iter().all(|&t| t == 0.0) && self.db.iter().all(|&t| t == 0.0) && self.g.iter().all(|&t| t == T::default())
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
        let gr = MatRef::from_row_major_slice(&self.g, s, k);
        match self.mode {
            Mode::Direct => {
                self.prop.w.copy_from_slice(&self.cur.w);
                if s > 0 {
                    let xs = if s == m { &self.x[..] } else { &self.xs[..] };
                    let xsr = MatRef::from_row_major_slice(xs, s, d);
                    matmul(MatMut::from_row_major_slice_mut(&mut self.prop.w, k, d), Accum::Add, gr.transpose(), xsr, neg, self.par);
                }
                let xr = MatRef::from_row_major_slice(&self.x, m, d);
                let wr = MatRef::from_row_major_slice(&self.prop.w, k, d);
                matmul(MatMut::from_row_major_slice_mut(&mut self.u2, m, k), Accum::Replace, xr, wr.transpose(), T::of(1.0), self.par);
                let bias = self.bias.then_some(&self.prop.b[..]);
                let par = self.elementwise_parallel();
                finish_pass(&mut self.u2, bias, T::of(1.0), &self.prop.v, &self.y, &mut self.q2, k, par);
            }
            Mode::Gram => {
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
        std::mem::swap(&mut self.u, &mut self.u2);
        std::mem::swap(&mut self.q, &mut self.q2);
        match self.mode {
            Mode::Direct => std::mem::swap(&mut self.cur, &mut self.prop),
            Mode::Gram => {
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
        let xr = MatRef::from_row_major_slice(&self.x, m, d);
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
            let xr = MatRef::from_row_major_slice(&self.x, m, d);
            matmul(MatMut::from_row_major_slice_mut(&mut w, k, d), Accum::Add, cr.transpose(), xr, T::of(-1.0), self.par);
        }
        let f = |s: &[T]| s.iter().map(|t| t.f()).collect::<Vec<f64>>();
        (f(&w), self.bias.then(|| f(&self.cur.b)), f(&self.cur.v))
    }
}
