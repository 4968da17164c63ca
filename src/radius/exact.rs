//! Exact L2 radius by branch and bound over the states of the neurons that can lower
//! the output.
//!
//! Write `g(z) = y·N(z) = Σ_j α_j σ(u_j(z))` with `α_j = y v_j` and `u_j(z) = w_j·z + b_j`.
//! Split the neurons into `P` (α_j > 0, they can only *raise* g when they turn on) and
//! `Q` (α_j < 0). Since `σ(u) = max(0, u)`, the flip set `{g ≤ 0}` is the union, over
//! states `s ∈ {on, off}^Q`, of the **convex** sets
//!
//! ```text
//!   C_s = { z : Σ_P α_j σ(u_j(z)) + Σ_{Q, on} α_j u_j(z) ≤ 0,  u_j(z) ≥ 0 (Q on),  u_j(z) ≤ 0 (Q off) }
//! ```
//!
//! (the `P` part is convex; its epigraph is the polyhedron cut out by the 2^|P| linear
//! inequalities `Σ_{j∈S} α_j u_j + … ≤ 0`, which are generated lazily as cutting
//! planes). So only the `Q` neurons are branched on, and each leaf is a projection onto
//! a polyhedron — a small strictly convex QP, solved by the dual active-set method of
//! [`super::qp`].
//!
//! Pruning (GeoCert / MIPVerify lessons): with the best flip distance `r` found so far,
//! any neuron whose hyperplane is at distance `|u_j(x)| / ‖w_j‖ ≥ r` keeps its state in
//! the open ball `B(x, r)` where every better point lies, so it is fixed (linear or
//! zero); the fixed set is recomputed whenever `r` drops. An unassigned unstable `Q`
//! neuron is relaxed by the concave envelope of σ over its range in the ball,
//! `σ(u) ≤ h (u − l)/(h − l)` with `[l, h] = u_j(x) ∓ r‖w_j‖`, so every node's QP is a
//! relaxation whose *dual* value is a certified lower bound. Nodes are explored best
//! first; a node is closed when its bound reaches `r`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::qp::{clarabel_project, dual_distance, DualActiveSet, QpStatus};
use super::ray::Ray;
use super::{QpBackend, RadiusOutcome, RadiusResult, RadiusSettings, StopReason};
use crate::net::Net;
use nalgebra::DVector;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Problem data for one sample.
struct Problem<'a> {
    net: &'a Net,
    x: &'a [f64],
    y: f64,
    d: usize,
    /// Neurons that matter (α ≠ 0, w ≠ 0).
    neurons: Vec<usize>,
    rows: Vec<Vec<f64>>,
    bias: Vec<f64>,
    alpha: Vec<f64>,
    u0: Vec<f64>,
    wn: Vec<f64>,
    /// Σ α_j σ(b_j) over neurons with w_j = 0.
    konst: f64,
}

/// What depends on the current upper bound r.
struct Frame {
    r: f64,
    /// Stable state per neuron (`Some(on)`), `None` when unstable.
    stable: Vec<Option<bool>>,
    unstable_p: Vec<usize>,
    unstable_q: Vec<usize>,
    lin: Vec<f64>,
    lin_c: f64,
}

#[derive(Clone)]
struct Node {
    lb: f64,
    r_eval: f64,
    assign: Vec<(usize, bool)>,
    branch: Option<usize>,
    status_ok: bool,
}

struct HeapItem(f64, usize);
impl PartialEq for HeapItem {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0 && self.1 == o.1
    }
}
impl Eq for HeapItem {}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for HeapItem {
    fn cmp(&self, o: &Self) -> Ordering {
        // Min-heap on the bound, then FIFO.
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
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

    fn lower(&self) -> f64 {
        match self {
            Solver::Gi(qp) => qp.dual_distance(),
            Solver::Clarabel { x0, a, c, lambda, .. } => {
                if lambda.len() == a.len() {
                    dual_distance(x0, a, c, lambda)
                } else {
                    0.0
                }
            }
        }
    }
}

struct Eval {
    lb: f64,
    delta: Vec<f64>,
    branch: Option<usize>,
    status: QpStatus,
}

impl<'a> Problem<'a> {
    fn new(net: &'a Net, x: &'a [f64], y: f64) -> Problem<'a> {
        let (k, d) = (net.width(), net.dim());
        let mut p = Problem {
            net,
            x,
            y,
            d,
            neurons: Vec::new(),
            rows: Vec::with_capacity(k),
            bias: Vec::with_capacity(k),
            alpha: Vec::with_capacity(k),
            u0: Vec::with_capacity(k),
            wn: Vec::with_capacity(k),
            konst: 0.0,
        };
        for j in 0..k {
            let row: Vec<f64> = net.w().row(j).iter().copied().collect();
            let wn = dot(&row, &row).sqrt();
            let b = net.bias(j);
            let alpha = y * net.v()[j];
            let u0 = dot(&row, x) + b;
            if alpha != 0.0 && wn == 0.0 {
                p.konst += alpha * b.max(0.0);
            }
            if alpha != 0.0 && wn > 0.0 {
                p.neurons.push(j);
            }
            p.rows.push(row);
            p.bias.push(b);
            p.alpha.push(alpha);
            p.u0.push(u0);
            p.wn.push(wn);
        }
        p
    }

    fn frame(&self, r: f64) -> Frame {
        let k = self.rows.len();
        let mut f = Frame {
            r,
            stable: vec![None; k],
            unstable_p: Vec::new(),
            unstable_q: Vec::new(),
            lin: vec![0.0; self.d],
            lin_c: self.konst,
        };
        for &j in &self.neurons {
            if self.u0[j].abs() >= r * self.wn[j] {
                let on = self.u0[j] > 0.0;
                f.stable[j] = Some(on);
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
    fn margin_at(&self, z: &[f64]) -> f64 {
        self.y * self.net.forward_one(z)
    }

    /// Confirms a candidate step by the forward pass: first `y·N ≤ 0` exactly at
    /// `x + (1 + s)δ` for the stretches `s` (a boundary point may round to the wrong
    /// side), then, for flip sets without interior (where no stretch helps), `y·N(x + δ)
    /// ≤ witness_tol · S` with `S = Σ_j |v_j| (‖w_j‖(‖x‖ + ‖δ‖) + |b_j|)`, the scale
    /// of the rounding in forming `x + δ` and the forward pass. Returns the witness and its distance.
    fn confirm(&self, delta: &[f64], settings: &RadiusSettings) -> Option<(Vec<f64>, f64)> {
        let point = |s: f64| -> Vec<f64> { self.x.iter().zip(delta).map(|(a, b)| a + (1.0 + s) * b).collect() };
        let dist = |z: &[f64]| z.iter().zip(self.x).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
        for &s in &settings.witness_stretch {
            let z = point(s);
            if self.margin_at(&z) <= 0.0 {
                let dd = dist(&z);
                return Some((z, dd));
            }
        }
        let z = point(0.0);
        let zn = dot(self.x, self.x).sqrt() + dot(delta, delta).sqrt();
        let scale: f64 = (0..self.rows.len()).map(|j| self.net.v()[j].abs() * (self.wn[j] * zn + self.bias[j].abs())).sum();
        if self.margin_at(&z) <= settings.witness_tol * scale {
            let dd = dist(&z);
            return Some((z, dd));
        }
        None
    }

    fn evaluate(&self, frame: &Frame, assign: &[(usize, bool)], settings: &RadiusSettings, tol: f64) -> Eval {
        let infeasible = Eval { lb: f64::INFINITY, delta: vec![0.0; self.d], branch: None, status: QpStatus::Infeasible };
        let r = frame.r;
        let mut solver = Solver::new(settings.backend, self.x, tol);
        let mut lin = frame.lin.clone();
        let mut lin_c = frame.lin_c;
        let mut assigned = vec![false; 0];
        assigned.resize(self.rows.len(), false);
        for &(j, on) in assign {
            assigned[j] = true;
            if let Some(s) = frame.stable[j] {
                if s != on {
                    return infeasible;
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
        }
        let unassigned: Vec<usize> = frame.unstable_q.iter().copied().filter(|&j| !assigned[j]).collect();
        let flip = r.is_finite() || unassigned.is_empty();
        if flip {
            for &j in &unassigned {
                let kappa = (self.u0[j] + r * self.wn[j]) / (2.0 * r * self.wn[j]);
                let l = self.u0[j] - r * self.wn[j];
                let coef = self.alpha[j] * kappa;
                for (lk, wk) in lin.iter_mut().zip(&self.rows[j]) {
                    *lk += coef * wk;
                }
                lin_c += coef * (self.bias[j] - l);
            }
        }
        let cut_for = |z: &[f64]| -> (Vec<f64>, f64, f64) {
            // The cut of the P-neurons on at z, and g_node(z).
            let mut a = lin.clone();
            let mut c = lin_c;
            for &j in &frame.unstable_p {
                let u = dot(&self.rows[j], z) + self.bias[j];
                if u > 0.0 {
                    for (ak, wk) in a.iter_mut().zip(&self.rows[j]) {
                        *ak += self.alpha[j] * wk;
                    }
                    c += self.alpha[j] * self.bias[j];
                }
            }
            let g = dot(&a, z) + c;
            (a, c, g)
        };
        let max_iter = settings.qp_max_iterations;
        let mut status;
        let mut cuts = 0usize;
        if flip {
            let (a, c, _) = cut_for(self.x);
            solver.add(self.x, a, -c);
        }
        loop {
            status = solver.solve(max_iter);
            if status != QpStatus::Optimal || !flip {
                break;
            }
            let z: Vec<f64> = self.x.iter().zip(solver.delta()).map(|(a, b)| a + b).collect();
            let (a, c, g) = cut_for(&z);
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
        }
        if status == QpStatus::Infeasible {
            return infeasible;
        }
        let lb = solver.lower();
        let delta = solver.delta().to_vec();
        // Branching neuron: the largest relaxation gap at the node's point.
        let z: Vec<f64> = self.x.iter().zip(&delta).map(|(a, b)| a + b).collect();
        let mut branch = None;
        let mut best = -1.0;
        for &j in &unassigned {
            let u = dot(&self.rows[j], &z) + self.bias[j];
            let gap = if r.is_finite() {
                let l = self.u0[j] - r * self.wn[j];
                let kappa = (self.u0[j] + r * self.wn[j]) / (2.0 * r * self.wn[j]);
                (-self.alpha[j]) * (kappa * (u - l) - u.max(0.0)) / ((-self.alpha[j]) * self.wn[j] * r)
            } else {
                1.0 / (1.0 + self.u0[j].abs() / self.wn[j])
            };
            if gap > best {
                best = gap;
                branch = Some(j);
            }
        }
        Eval { lb, delta, branch, status }
    }
}

/// The search behind [`super::exact_radius`]; inputs are validated by the caller.
pub(crate) fn search(net: &Net, x: &[f64], y: f64, settings: &RadiusSettings) -> RadiusResult {
    let start = Instant::now();
    let prob = Problem::new(net, x, y);
    let margin = prob.margin_at(x);
    let mut result = RadiusResult {
        outcome: RadiusOutcome::Exact,
        radius: 0.0,
        lower: 0.0,
        upper: 0.0,
        witness: Some(DVector::from_column_slice(x)),
        margin,
        witness_margin: margin,
        regions: 0,
        closed: 0,
        initial_lower: 0.0,
        initial_upper: f64::INFINITY,
        seconds: 0.0,
    };
    if margin <= 0.0 {
        result.outcome = RadiusOutcome::Misclassified;
        return result;
    }
    let xnorm = dot(x, x).sqrt();
    let tol = settings.qp_tol * (1.0 + xnorm);

    // Certified cheap lower bound: each neuron moved adversarially on its own.
    let nz = &prob.neurons;
    let a0: Vec<f64> = nz.iter().map(|&j| prob.u0[j]).collect();
    let al: Vec<f64> = nz.iter().map(|&j| prob.alpha[j]).collect();
    let pw: Vec<f64> = nz.iter().map(|&j| if prob.alpha[j] > 0.0 { -prob.wn[j] } else { prob.wn[j] }).collect();
    let lip = Ray { a: &a0, p: &pw, alpha: &al };
    // φ(t) + konst ≤ 0  ⇔  φ(t) ≤ −konst.
    let lb0 = lip.first_crossing(-prob.konst).unwrap_or(f64::INFINITY);
    result.initial_lower = lb0;

    let mut ub = f64::INFINITY;
    let mut witness: Option<Vec<f64>> = None;
    if lb0.is_infinite() {
        // g stays positive everywhere: nothing flips the sample.
        result.radius = f64::INFINITY;
        result.lower = f64::INFINITY;
        result.upper = f64::INFINITY;
        result.witness = None;
        result.seconds = start.elapsed().as_secs_f64();
        return result;
    }
    // Upper bound from the ray along −∇g.
    let mut grad = vec![0.0; prob.d];
    for &j in nz {
        if prob.u0[j] >= 0.0 {
            for (gk, wk) in grad.iter_mut().zip(&prob.rows[j]) {
                *gk += prob.alpha[j] * wk;
            }
        }
    }
    let gn = dot(&grad, &grad).sqrt();
    if gn > 0.0 {
        let u: Vec<f64> = grad.iter().map(|g| -g / gn).collect();
        let p: Vec<f64> = nz.iter().map(|&j| dot(&prob.rows[j], &u)).collect();
        if let Some(t) = (Ray { a: &a0, p: &p, alpha: &al }).first_crossing(-prob.konst) {
            let delta: Vec<f64> = u.iter().map(|ui| t * ui).collect();
            if let Some((z, dist)) = prob.confirm(&delta, settings) {
                ub = dist;
                witness = Some(z);
            }
        }
    }
    let mut frame = prob.frame(ub);
    let mut regions = 0usize;
    let mut closed = 0usize;
    let mut pruned_min = f64::INFINITY;
    let mut closed_min = f64::INFINITY;
    let mut unresolved_min = f64::INFINITY;
    let rtol = settings.rel_tol;

    // Heuristic: the region of x itself (every unstable Q neuron in its state at x).
    {
        let assign: Vec<(usize, bool)> = frame.unstable_q.iter().map(|&j| (j, prob.u0[j] >= 0.0)).collect();
        let ev = prob.evaluate(&frame, &assign, settings, tol);
        regions += 1;
        if ev.status == QpStatus::Optimal && ev.lb < ub {
            if let Some((z, dist)) = prob.confirm(&ev.delta, settings) {
                if dist < ub {
                    ub = dist;
                    witness = Some(z);
                    frame = prob.frame(ub);
                }
            }
        }
    }
    result.initial_upper = ub;

    let mut store: Vec<Node> = Vec::new();
    let mut heap = BinaryHeap::new();
    let mut open_min = f64::INFINITY;
    let mut stop = None;

    // Evaluates a node, updates the incumbent, and queues it unless pruned.
    macro_rules! push_node {
        ($assign:expr) => {{
            let assign: Vec<(usize, bool)> = $assign;
            let r_used = frame.r;
            let ev = prob.evaluate(&frame, &assign, settings, tol);
            regions += 1;
            let dist = ev.delta.iter().map(|t| t * t).sum::<f64>().sqrt();
            if ev.status == QpStatus::Optimal && dist < ub * (1.0 - rtol) {
                if let Some((z, wd)) = prob.confirm(&ev.delta, settings) {
                    if wd < ub {
                        ub = wd;
                        witness = Some(z);
                        frame = prob.frame(ub);
                    }
                }
            }
            // Rounding heuristic: every `heuristic_every` nodes, the leaf that puts every
            // unassigned neuron in its state at the relaxed point (a dive for incumbents).
            if settings.heuristic_every > 0 && regions % settings.heuristic_every == 0 && ev.status == QpStatus::Optimal && ev.branch.is_some() {
                let z: Vec<f64> = x.iter().zip(&ev.delta).map(|(a, b)| a + b).collect();
                let mut leaf = assign.clone();
                for &j in &frame.unstable_q {
                    if !leaf.iter().any(|&(i, _)| i == j) {
                        leaf.push((j, dot(&prob.rows[j], &z) + prob.bias[j] >= 0.0));
                    }
                }
                let hv = prob.evaluate(&frame, &leaf, settings, tol);
                regions += 1;
                if hv.status == QpStatus::Optimal && hv.lb < ub * (1.0 - rtol) {
                    if let Some((zw, wd)) = prob.confirm(&hv.delta, settings) {
                        if wd < ub {
                            ub = wd;
                            witness = Some(zw);
                            frame = prob.frame(ub);
                        }
                    }
                }
            }
            let node = Node {
                lb: ev.lb,
                r_eval: r_used,
                assign,
                branch: ev.branch,
                status_ok: ev.status == QpStatus::Optimal,
            };
            if node.lb >= ub * (1.0 - rtol) {
                pruned_min = pruned_min.min(node.lb);
                closed += 1;
            } else {
                store.push(node);
                heap.push(HeapItem(store[store.len() - 1].lb, store.len() - 1));
            }
        }};
    }

    push_node!(Vec::new());
    while let Some(HeapItem(lb, id)) = heap.pop() {
        if lb >= ub * (1.0 - rtol) {
            pruned_min = pruned_min.min(lb);
            closed += 1 + heap.len();
            heap.clear();
            break;
        }
        if settings.max_regions.is_some_and(|m| regions >= m) {
            stop = Some(StopReason::MaxRegions);
            open_min = lb;
            break;
        }
        if settings.time_limit.is_some_and(|t| start.elapsed() >= t) {
            stop = Some(StopReason::TimeLimit);
            open_min = lb;
            break;
        }
        let node = store[id].clone();
        if node.r_eval > frame.r {
            // The incumbent improved since this node was bounded: re-bound it.
            push_node!(node.assign);
            continue;
        }
        match node.branch {
            None => {
                closed += 1;
                if node.status_ok {
                    closed_min = closed_min.min(node.lb);
                } else {
                    unresolved_min = unresolved_min.min(node.lb);
                }
            }
            Some(j) => {
                for on in [true, false] {
                    let mut a = node.assign.clone();
                    a.push((j, on));
                    push_node!(a);
                }
            }
        }
    }
    if stop.is_some() {
        if let Some(HeapItem(lb, _)) = heap.peek() {
            open_min = open_min.min(*lb);
        }
    }
    let lower = ub.min(pruned_min).min(closed_min).min(unresolved_min).min(open_min).max(lb0.min(ub));
    result.regions = regions;
    result.closed = closed;
    result.upper = ub;
    result.radius = ub;
    result.lower = lower;
    result.witness_margin = witness.as_deref().map_or(f64::NAN, |w| prob.margin_at(w));
    result.witness = witness.map(DVector::from_vec);
    let finished = stop.is_none() && unresolved_min.is_infinite();
    let tight = if ub.is_infinite() { lower.is_infinite() } else { ub - lower <= settings.exact_tol * ub };
    result.outcome = if finished && tight {
        RadiusOutcome::Exact
    } else {
        RadiusOutcome::Bracket { reason: stop.unwrap_or(StopReason::Numerical) }
    };
    result.seconds = start.elapsed().as_secs_f64();
    result
}
