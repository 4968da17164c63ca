//! One node of the exact-radius search: the sample's problem data ([`Problem`]), what
//! depends on the current ball radius ([`Frame`]: stable neurons and the linear part of
//! the flip constraint), the node's relaxation and its projection QP with cutting
//! planes ([`Problem::evaluate`]) with the certified bound of its multipliers (a
//! [`Leaf`] of the proof), and the forward-pass confirmation of a witness
//! ([`Problem::confirm`]).
//!
//! The relaxation is derived in docs/radius.md and in the module doc of
//! [`super::exact`].

use super::certify::{chord_over, distance_up, settle_leaf, Cut, Leaf, Sample};
use super::range::{tighten, Range};
use super::qp::{clarabel_project, DualActiveSet, QpStatus};
use super::{QpBackend, RadiusSettings};
use crate::net::Net;

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Problem data for one sample.
pub(crate) struct Problem<'a> {
    pub(crate) net: &'a Net,
    pub(crate) x: &'a [f64],
    pub(crate) y: f64,
    pub(crate) d: usize,
    /// Neurons that matter (α ≠ 0, w ≠ 0).
    pub(crate) neurons: Vec<usize>,
    pub(crate) rows: Vec<Vec<f64>>,
    pub(crate) bias: Vec<f64>,
    pub(crate) alpha: Vec<f64>,
    pub(crate) u0: Vec<f64>,
    pub(crate) wn: Vec<f64>,
    /// Σ α_j σ(b_j) over neurons with w_j = 0.
    pub(crate) konst: f64,
    /// The same quantities with rounding bounds, for certified bounds.
    pub(crate) cert: Sample<'a>,
}

/// What depends on the current upper bound r.
pub(crate) struct Frame {
    pub(crate) r: f64,
    /// Stable state per neuron (`Some(on)`), `None` when unstable.
    pub(crate) stable: Vec<Option<bool>>,
    pub(crate) unstable_p: Vec<usize>,
    pub(crate) unstable_q: Vec<usize>,
    pub(crate) lin: Vec<f64>,
    pub(crate) lin_c: f64,
    /// The stable neurons as `(neuron, on)`, for the proof.
    pub(crate) fixed: Vec<(usize, bool)>,
}

/// Constraint store shared by the two QP backends.
enum Solver {
    Gi(DualActiveSet),
    Clarabel { x0: Vec<f64>, a: Vec<Vec<f64>>, c: Vec<f64>, delta: Vec<f64>, lambda: Vec<f64> },
}

impl Solver {
    fn new(backend: QpBackend, x0: &[f64], tol: f64) -> Solver {
        match backend {
            QpBackend::DualActiveSet => Solver::Gi(DualActiveSet::new(x0.len(), tol)),
            QpBackend::Clarabel => Solver::Clarabel {
                x0: x0.to_vec(),
                a: Vec::new(),
                c: Vec::new(),
                delta: vec![0.0; x0.len()],
                lambda: Vec::new(),
            },
        }
    }

    /// Adds `a·z ≤ c` in absolute coordinates.
    fn add(&mut self, x0: &[f64], a: Vec<f64>, c: f64) {
        match self {
            Solver::Gi(qp) => {
                let e = c - dot(&a, x0);
                qp.add(a, e);
            }
            Solver::Clarabel { a: aa, c: cc, .. } => {
                aa.push(a);
                cc.push(c);
            }
        }
    }

    fn solve(&mut self, max_iter: usize) -> QpStatus {
        match self {
            Solver::Gi(qp) => qp.solve(max_iter),
            Solver::Clarabel { x0, a, c, delta, lambda } => {
                if a.is_empty() {
                    return QpStatus::Optimal;
                }
                let (st, z, lam) = clarabel_project(x0, a, c);
                for ((dk, zk), xk) in delta.iter_mut().zip(&z).zip(x0.iter()) {
                    *dk = zk - xk;
                }
                *lambda = lam;
                st
            }
        }
    }

    fn delta(&self) -> &[f64] {
        match self {
            Solver::Gi(qp) => qp.delta(),
            Solver::Clarabel { delta, .. } => delta,
        }
    }

    fn multipliers(&self) -> &[f64] {
        match self {
            Solver::Gi(qp) => qp.multipliers(),
            Solver::Clarabel { lambda, .. } => lambda,
        }
    }
}

pub(crate) struct Eval {
    /// The certified bound of the node (its leaf's `bound`).
    pub(crate) lb: f64,
    pub(crate) delta: Vec<f64>,
    pub(crate) branch: Option<usize>,
    pub(crate) status: QpStatus,
    /// What the bound rests on.
    pub(crate) leaf: Leaf,
}

/// What a solver constraint is, for the proof.
enum Desc {
    /// The sign constraint of the path's entry at this position.
    Sign(usize),
    /// A flip cut with these unstable raising neurons taken as on.
    Cut(Vec<usize>),
}

impl<'a> Problem<'a> {
    pub(crate) fn new(net: &'a Net, x: &'a [f64], y: f64) -> Problem<'a> {
        let k = net.width();
        let cert = Sample::new(net, x, y);
        let mut p = Problem {
            net,
            x,
            y,
            d: net.dim(),
            neurons: Vec::new(),
            rows: Vec::with_capacity(k),
            bias: Vec::with_capacity(k),
            alpha: cert.alpha.clone(),
            u0: cert.u0.clone(),
            wn: cert.wn.clone(),
            konst: 0.0,
            cert,
        };
        for j in 0..k {
            let row: Vec<f64> = net.w().row(j).iter().copied().collect();
            let b = net.bias(j);
            let (alpha, wn) = (p.alpha[j], p.wn[j]);
            if alpha != 0.0 && wn == 0.0 {
                p.konst += alpha * b.max(0.0);
            }
            if alpha != 0.0 && wn > 0.0 {
                p.neurons.push(j);
            }
            p.rows.push(row);
            p.bias.push(b);
        }
        p
    }

    /// The frame of the ball of radius r: neurons whose state the rounding bounds prove
    /// on the whole ball are fixed (linear or zero), the others are unstable.
    pub(crate) fn frame(&self, r: f64) -> Frame {
        let k = self.rows.len();
        let mut f = Frame {
            r,
            stable: vec![None; k],
            unstable_p: Vec::new(),
            unstable_q: Vec::new(),
            lin: vec![0.0; self.d],
            lin_c: self.konst,
            fixed: Vec::new(),
        };
        for &j in &self.neurons {
            if let Some(on) = self.cert.stable_state(j, r) {
                f.stable[j] = Some(on);
                f.fixed.push((j, on));
                if on {
                    for (lk, wk) in f.lin.iter_mut().zip(&self.rows[j]) {
                        *lk += self.alpha[j] * wk;
                    }
                    f.lin_c += self.alpha[j] * self.bias[j];
                }
            } else if self.alpha[j] > 0.0 {
                f.unstable_p.push(j);
            } else {
                f.unstable_q.push(j);
            }
        }
        f
    }

    /// `y·N(z)` by the network's own forward pass.
    pub(crate) fn margin_at(&self, z: &[f64]) -> f64 {
        self.y * self.net.forward_one(z)
    }

    /// Confirms a candidate step by the plain f64 forward pass: `y·N(x + (1 + s)δ) ≤ 0`
    /// for the first stretch `s` that reaches it (a boundary point may round to the
    /// wrong side). No tolerance: a point that does not flip is no witness. Returns the
    /// witness and an upper bound of its distance.
    ///
    /// A flip set without interior (a single point or a face, e.g. the origin of a
    /// bias-free net) is reached in floating point only by a point that lands on it
    /// exactly: the last candidate snaps the coordinates that are zero up to rounding
    /// to 0, and is checked by the same forward pass.
    pub(crate) fn confirm(&self, delta: &[f64], settings: &RadiusSettings) -> Option<(Vec<f64>, f64)> {
        let accept = |z: Vec<f64>| (self.margin_at(&z) <= 0.0).then(|| (distance_up(&z, self.x), z));
        for &s in &settings.witness_stretch {
            let z: Vec<f64> = self.x.iter().zip(delta).map(|(a, b)| a + (1.0 + s) * b).collect();
            if let Some((dist, z)) = accept(z) {
                return Some((z, dist));
            }
        }
        let scale = 1e-12 * (1.0 + dot(self.x, self.x).sqrt() + dot(delta, delta).sqrt());
        let snapped: Vec<f64> = self.x.iter().zip(delta).map(|(a, b)| a + b).map(|t| if t.abs() <= scale { 0.0 } else { t }).collect();
        accept(snapped).map(|(dist, z)| (z, dist))
    }

    /// Solves the node `assign` in `frame`: its relaxation's projection with cutting
    /// planes, and the certified bound of the multipliers.
    /// `warm` holds the parent's ranges, whose multipliers start the descent.
    pub(crate) fn evaluate(&self, frame: &Frame, assign: &[(usize, bool)], warm: &[Range], settings: &RadiusSettings, tol: f64) -> Eval {
        let r = frame.r;
        // Index of the parent's range per (neuron, upper).
        let mut warm_at = vec![[None; 2]; if warm.is_empty() { 0 } else { self.rows.len() }];
        for (idx, rg) in warm.iter().enumerate() {
            if let Some(slot) = warm_at.get_mut(rg.neuron) {
                slot[rg.upper as usize] = Some(idx);
            }
        }
        let mut leaf = Leaf {
            path: assign.to_vec(),
            ball: r.is_finite().then_some(r),
            bound: 0.0,
            fixed: frame.fixed.clone(),
            conflict: None,
            signs: vec![0.0; assign.len()],
            cuts: Vec::new(),
            ranges: Vec::new(),
        };
        let mut solver = Solver::new(settings.backend, self.x, tol);
        let mut descs: Vec<Desc> = Vec::new();
        let mut lin = frame.lin.clone();
        let mut lin_c = frame.lin_c;
        let mut assigned = vec![false; self.rows.len()];
        for (pos, &(j, on)) in assign.iter().enumerate() {
            assigned[j] = true;
            if let Some(s) = frame.stable[j] {
                if s != on {
                    // The branch contradicts the ball: the region misses it.
                    leaf.conflict = Some(j);
                    settle_leaf(&self.cert, &mut leaf);
                    return Eval { lb: leaf.bound, delta: vec![0.0; self.d], branch: None, status: QpStatus::Infeasible, leaf };
                }
                continue;
            }
            let row = &self.rows[j];
            if on {
                solver.add(self.x, row.iter().map(|t| -t).collect(), self.bias[j]);
                for (lk, wk) in lin.iter_mut().zip(row) {
                    *lk += self.alpha[j] * wk;
                }
                lin_c += self.alpha[j] * self.bias[j];
            } else {
                solver.add(self.x, row.clone(), -self.bias[j]);
            }
            descs.push(Desc::Sign(pos));
        }
        let unassigned: Vec<usize> = frame.unstable_q.iter().copied().filter(|&j| !assigned[j]).collect();
        let flip = r.is_finite() || unassigned.is_empty();
        // The chord of each relaxed neuron, as (neuron, κ, l).
        let mut chords = Vec::with_capacity(unassigned.len());
        if flip {
            for &j in &unassigned {
                let init = warm_at.get(j).map_or([None; 2], |w| w.map(|i| i.map(|i| &warm[i].mult[..])));
                let (lo, hi) = self.range_of(j, r, assign, settings.tighten_ranges, init, &mut leaf.ranges);
                let (kappa, l, _) = chord_over(lo, hi);
                chords.push((j, kappa, l));
                let coef = self.alpha[j] * kappa;
                for (lk, wk) in lin.iter_mut().zip(&self.rows[j]) {
                    *lk += coef * wk;
                }
                lin_c += coef * (self.bias[j] - l);
            }
        }
        let cut_for = |z: &[f64]| -> (Vec<f64>, f64, f64, Vec<usize>) {
            // The cut of the P-neurons on at z, and g_node(z).
            let mut a = lin.clone();
            let mut c = lin_c;
            let mut on = Vec::new();
            for &j in &frame.unstable_p {
                let u = dot(&self.rows[j], z) + self.bias[j];
                if u > 0.0 {
                    for (ak, wk) in a.iter_mut().zip(&self.rows[j]) {
                        *ak += self.alpha[j] * wk;
                    }
                    c += self.alpha[j] * self.bias[j];
                    on.push(j);
                }
            }
            let g = dot(&a, z) + c;
            (a, c, g, on)
        };
        let max_iter = settings.qp_max_iterations;
        let mut status;
        let mut cuts = 0usize;
        if flip {
            let (a, c, _, on) = cut_for(self.x);
            solver.add(self.x, a, -c);
            descs.push(Desc::Cut(on));
        }
        loop {
            status = solver.solve(max_iter);
            if status != QpStatus::Optimal || !flip {
                break;
            }
            let z: Vec<f64> = self.x.iter().zip(solver.delta()).map(|(a, b)| a + b).collect();
            let (a, c, g, on) = cut_for(&z);
            let an = dot(&a, &a).sqrt();
            let viol = if an > 0.0 { g / an } else if g > 0.0 { f64::INFINITY } else { 0.0 };
            if viol <= tol {
                break;
            }
            cuts += 1;
            if cuts > settings.max_cuts {
                status = QpStatus::IterationLimit;
                break;
            }
            solver.add(self.x, a, -c);
            descs.push(Desc::Cut(on));
        }
        for (desc, &lam) in descs.into_iter().zip(solver.multipliers()) {
            if lam > 0.0 {
                match desc {
                    Desc::Sign(pos) => leaf.signs[pos] = lam,
                    Desc::Cut(on) => leaf.cuts.push(Cut { lambda: lam, on }),
                }
            }
        }
        settle_leaf(&self.cert, &mut leaf);
        let delta = solver.delta().to_vec();
        if status == QpStatus::Infeasible {
            return Eval { lb: leaf.bound, delta, branch: None, status, leaf };
        }
        let branch = if flip && r.is_finite() { self.branch_score_max(&chords) } else { self.nearest(&unassigned) };
        Eval { lb: leaf.bound, delta, branch, status, leaf }
    }

    /// The certified range of unassigned neuron j on the node's region in the ball of
    /// radius r: the ball's, cut by the path's signs when `tight` (each range that
    /// tightens an end is pushed to `ranges`, for the proof).
    fn range_of(&self, j: usize, r: f64, path: &[(usize, bool)], tight: bool, init: [Option<&[(usize, f64)]>; 2], ranges: &mut Vec<Range>) -> (f64, f64) {
        let (mut lo, mut hi) = self.cert.ball_range(j, r);
        if !tight || path.is_empty() {
            return (lo, hi);
        }
        for upper in [true, false] {
            let mult = tighten(&self.cert, &self.rows, path, j, upper, r, init[upper as usize].unwrap_or(&[]));
            if mult.is_empty() {
                continue;
            }
            let range = Range { neuron: j, upper, mult };
            let Ok(b) = self.cert.range_bound(path, &range, r) else { continue };
            if upper && b < hi {
                hi = b;
                ranges.push(range);
            } else if !upper && -b > lo {
                lo = -b;
                ranges.push(range);
            }
        }
        (lo, hi)
    }

    /// Without a ball (no incumbent yet): the unassigned neuron whose hyperplane is
    /// nearest to x.
    fn nearest(&self, unassigned: &[usize]) -> Option<usize> {
        let key = |j: usize| self.u0[j].abs() / self.wn[j];
        unassigned.iter().copied().min_by(|&a, &b| key(a).total_cmp(&key(b)))
    }

    /// The branching neuron (docs/radius.md, "Branching"): the one whose relaxation
    /// can lower the flip constraint the most, `|α_j|·κ_j·(−l_j)` — the chord's largest
    /// gap above σ (at u = 0) weighted by the neuron's output weight, the intercept
    /// score of BaBSR (Bunel et al., JMLR 2020) for a single relaxed layer. `None` when
    /// every chord is exact (each range on one side of 0): the node is then a leaf.
    fn branch_score_max(&self, chords: &[(usize, f64, f64)]) -> Option<usize> {
        let mut branch = None;
        let mut best = 0.0;
        for &(j, kappa, l) in chords {
            let score = self.alpha[j] * kappa * l;
            if score > best {
                best = score;
                branch = Some(j);
            }
        }
        branch
    }
}
