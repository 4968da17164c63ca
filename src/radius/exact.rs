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
//! `σ(u) ≤ h (u − l)/(h − l)` with `[l, h] ⊆ u_j(x) ∓ r‖w_j‖` cut by the node's
//! branching signs ([`super::range`]), so every node's QP is a relaxation whose *dual*
//! value is a lower bound. A node branches on the neuron with the largest
//! `|α_j|·κ_j·(−l_j)` (BaBSR's intercept score). Nodes are explored best first, a fixed
//! batch at a time (evaluated on a thread pool when asked, with the same result); a
//! node is closed when its bound reaches `r`.
//!
//! Soundness does not rest on the incumbent: every leaf states "no flipped point of my
//! region is closer than my bound", with the bound capped at the ball it used and
//! certified with rounding margins ([`super::certify`]); the leaves cover every
//! activation pattern, so the smallest leaf bound is a lower bound on the radius
//! whatever the incumbent. Before branching, a ball certificate ([`super::ball`],
//! found by `ball_search`) may prove that no point within some radius flips;
//! the reported lower bound is the larger of that radius and the tree's. The answer is exact only when a witness flips by the plain
//! forward pass and the two bounds meet within `exact_tol`; a lower bound above the
//! witness's distance is reported as a numerical failure, never clamped.

use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use super::attack::{attack, AttackSettings};
use super::ball::BallCert;
use super::ball_search::{largest_ball, MAX_DIM};
use super::certify::{never_flips, Leaf};
use super::node::{dot, Eval, Frame, Problem};
use super::proof::{ProofKind, SampleProof};
use super::qp::QpStatus;
use super::ray::Ray;
use super::store::{self, HeapItem, Node, Pending};
use super::result::{SearchProgress, PROGRESS_EVERY};
use super::{BracketReason, RadiusOutcome, RadiusResult, RadiusSettings};
use crate::io::MemoryBudget;
use crate::net::Net;
use nalgebra::DVector;

/// Open nodes taken from the queue at once; their children are evaluated together
/// (in parallel with `threads` ≠ 1). Fixed, so that the search — and its answer and
/// bracket — does not depend on the thread count.
const BATCH: usize = 4;

/// The state of one branch-and-bound search: the incumbent, the frame built on it, the
/// node store and queue, and the leaves closed so far. Each step of the search is one
/// method.
struct Search<'a> {
    prob: Problem<'a>,
    settings: &'a RadiusSettings,
    /// QP tolerance in absolute distance.
    tol: f64,
    /// Incumbent distance (upper bound); ∞ without a witness.
    ub: f64,
    witness: Option<Vec<f64>>,
    frame: Frame,
    regions: usize,
    closed: usize,
    /// Smallest certified bound among the leaves closed so far.
    leaf_min: f64,
    /// The closed leaves, when a proof is recorded.
    leaves: Option<Vec<Leaf>>,
    /// A checked ball certificate: no flipped point within its radius.
    ball: Option<BallCert>,
    store: Vec<Node>,
    heap: BinaryHeap<HeapItem>,
    /// Estimated bytes the tree holds (open nodes and recorded proof leaves), and their
    /// limit (module `store`).
    held_bytes: u64,
    store_limit: u64,
    /// `(seconds, lower, upper)` at each better incumbent.
    history: Vec<(f64, f64, f64)>,
    /// Smallest bound of the nodes taken from the queue whose children are being
    /// accepted (they count towards the lower bound until then).
    in_flight: f64,
    start: Instant,
    /// The caller's progress observer, and when it was last told.
    observe: &'a mut dyn FnMut(&SearchProgress),
    last_report: Instant,
}

impl<'a> Search<'a> {
    fn new(prob: Problem<'a>, settings: &'a RadiusSettings, tol: f64, start: Instant, observe: &'a mut dyn FnMut(&SearchProgress)) -> Search<'a> {
        let frame = prob.frame(f64::INFINITY);
        Search {
            prob,
            settings,
            tol,
            ub: f64::INFINITY,
            witness: None,
            frame,
            regions: 0,
            closed: 0,
            leaf_min: f64::INFINITY,
            leaves: settings.record_proof.then(Vec::new),
            ball: None,
            store: Vec::new(),
            heap: BinaryHeap::new(),
            history: Vec::new(),
            held_bytes: 0,
            store_limit: settings.max_store_bytes.unwrap_or_else(|| MemoryBudget::global().bytes() / 2),
            in_flight: f64::INFINITY,
            start,
            observe,
            last_report: start,
        }
    }

    /// Solves the node `assign` in the current frame (one region).
    fn evaluate(&mut self, assign: &[(usize, bool)]) -> Eval {
        self.regions += 1;
        self.prob.evaluate(&self.frame, assign, &[], self.settings, self.tol)
    }

    /// Makes a confirmed witness at distance `dist` the incumbent if it is closer, and
    /// rebuilds the frame on the smaller ball.
    fn offer(&mut self, z: Vec<f64>, dist: f64) {
        if dist < self.ub {
            self.ub = dist;
            self.witness = Some(z);
            self.frame = self.prob.frame(dist);
            self.record();
        }
    }

    /// Confirms the node's point with the forward pass when it could improve the
    /// incumbent (`bound` below `ub·(1 − rel_tol)`), and offers it.
    fn try_incumbent(&mut self, ev: &Eval, bound: f64) {
        if ev.status == QpStatus::Optimal && bound < self.ub * (1.0 - self.settings.rel_tol) {
            if let Some((z, dist)) = self.prob.confirm(&ev.delta, self.settings) {
                self.offer(z, dist);
            }
        }
    }

    /// The upper bound from the ray along −∇g at x.
    fn gradient_ray(&mut self, lip: &Ray<'_>) {
        let prob = &self.prob;
        let mut grad = vec![0.0; prob.d];
        for &j in &prob.neurons {
            if prob.u0[j] >= 0.0 {
                for (gk, wk) in grad.iter_mut().zip(&prob.rows[j]) {
                    *gk += prob.alpha[j] * wk;
                }
            }
        }
        let gn = dot(&grad, &grad).sqrt();
        if gn == 0.0 {
            return;
        }
        let u: Vec<f64> = grad.iter().map(|g| -g / gn).collect();
        let p: Vec<f64> = prob.neurons.iter().map(|&j| dot(&prob.rows[j], &u)).collect();
        let Some(t) = (Ray { a: lip.a, p: &p, alpha: lip.alpha }).first_crossing(-prob.konst) else { return };
        let delta: Vec<f64> = u.iter().map(|ui| t * ui).collect();
        if let Some((z, dist)) = prob.confirm(&delta, self.settings) {
            self.offer(z, dist);
        }
    }

    /// The region of x itself (every unstable Q neuron in its state at x).
    fn own_region(&mut self) {
        let assign: Vec<(usize, bool)> = self.frame.unstable_q.iter().map(|&j| (j, self.prob.u0[j] >= 0.0)).collect();
        let ev = self.evaluate(&assign);
        let dist = ev.delta.iter().map(|t| t * t).sum::<f64>().sqrt();
        self.try_incumbent(&ev, dist);
    }

    /// Rounding dive: the leaf that puts every unassigned neuron in its state at the
    /// node's relaxed point, solved for an incumbent only.
    fn dive(&mut self, assign: &[(usize, bool)], ev: &Eval) {
        let z: Vec<f64> = self.prob.x.iter().zip(&ev.delta).map(|(a, b)| a + b).collect();
        let mut leaf = assign.to_vec();
        for &j in &self.frame.unstable_q {
            if !leaf.iter().any(|&(i, _)| i == j) {
                leaf.push((j, dot(&self.prob.rows[j], &z) + self.prob.bias[j] >= 0.0));
            }
        }
        let hv = self.evaluate(&leaf);
        let dist = hv.delta.iter().map(|t| t * t).sum::<f64>().sqrt();
        self.try_incumbent(&hv, dist);
    }

    /// Evaluates a node, updates the incumbent, and queues the node unless its bound
    /// closes it.
    fn push_node(&mut self, assign: Vec<(usize, bool)>) {
        self.push_batch(vec![(assign, Arc::new(Vec::new()))], None);
    }

    /// Evaluates a batch of nodes in the current frame, on the pool when there is one
    /// (each evaluation depends only on the frame and the node, so the results do not
    /// depend on the thread count), and accepts them in the batch's order.
    fn push_batch(&mut self, batch: Vec<Pending>, pool: Option<&rayon::ThreadPool>) {
        let r_used = self.frame.r;
        let (prob, frame, settings, tol) = (&self.prob, &self.frame, self.settings, self.tol);
        let eval = |(a, warm): &Pending| prob.evaluate(frame, a, warm, settings, tol);
        let evals: Vec<Eval> = match pool {
            Some(pool) => {
                use rayon::prelude::*;
                pool.install(|| batch.par_iter().map(eval).collect())
            }
            None => batch.iter().map(eval).collect(),
        };
        self.regions += batch.len();
        for ((assign, _), ev) in batch.into_iter().zip(evals) {
            self.accept(assign, r_used, ev);
        }
    }

    /// Takes a node evaluated in a frame of radius `r_used`: offers its point as an
    /// incumbent, dives now and then, and queues it unless its bound closes it.
    fn accept(&mut self, assign: Vec<(usize, bool)>, r_used: f64, mut ev: Eval) {
        let dist = ev.delta.iter().map(|t| t * t).sum::<f64>().sqrt();
        self.try_incumbent(&ev, dist);
        let every = self.settings.heuristic_every;
        if every > 0 && self.regions % every == 0 && ev.status == QpStatus::Optimal && ev.branch.is_some() {
            self.dive(&assign, &ev);
        }
        let ranges = Arc::new(if self.leaves.is_some() { ev.leaf.ranges.clone() } else { std::mem::take(&mut ev.leaf.ranges) });
        let leaf = self.leaves.is_some().then_some(ev.leaf);
        let node = Node { lb: ev.lb, r_eval: r_used, assign, branch: ev.branch, leaf, ranges };
        if node.lb >= self.ub * (1.0 - self.settings.rel_tol) {
            self.close(node);
        } else {
            self.held_bytes += node.bytes();
            self.heap.push(HeapItem(node.lb, self.store.len()));
            self.store.push(node);
        }
    }

    /// Makes a node a leaf of the tree: its bound joins the lower bound and its
    /// certificate the proof.
    fn close(&mut self, node: Node) {
        self.closed += 1;
        self.leaf_min = self.leaf_min.min(node.lb);
        if let (Some(leaves), Some(leaf)) = (self.leaves.as_mut(), node.leaf) {
            self.held_bytes += store::leaf_bytes(&leaf);
            leaves.push(leaf);
        }
    }

    /// Takes node `id` out of the store (its slot keeps an empty node).
    fn take(&mut self, id: usize) -> Node {
        let node = std::mem::replace(&mut self.store[id], Node::empty());
        self.held_bytes = self.held_bytes.saturating_sub(node.bytes());
        node
    }

    /// Closes every queued node (after the search ends, by bound or by budget).
    fn close_queue(&mut self) {
        while let Some(HeapItem(_, id)) = self.heap.pop() {
            let node = self.take(id);
            self.close(node);
        }
    }

    /// The certified lower bound now: the smallest bound of the closed leaves and of
    /// the open nodes, or the ball certificate's radius when that is larger.
    fn lower_now(&self) -> f64 {
        self.heap.peek().map_or(self.leaf_min, |h| self.leaf_min.min(h.0)).min(self.in_flight).max(self.ball_radius())
    }

    /// The ball certificate's radius (0 without one).
    fn ball_radius(&self) -> f64 {
        self.ball.as_ref().map_or(0.0, |b| b.radius)
    }

    /// Appends the current bracket to the history and tells the observer.
    fn record(&mut self) {
        let t = self.start.elapsed().as_secs_f64();
        let lower = if self.store.is_empty() { self.ball_radius() } else { self.lower_now() };
        self.history.push((t, lower, self.ub));
        self.report(t, lower);
    }

    /// Tells the observer where the search stands.
    fn report(&mut self, seconds: f64, lower: f64) {
        self.last_report = Instant::now();
        (self.observe)(&SearchProgress { seconds, lower, upper: self.ub, regions: self.regions });
    }

    /// Why the budget stops the search now, if it does.
    fn budget_spent(&self, start: Instant) -> Option<BracketReason> {
        if self.settings.max_regions.is_some_and(|m| self.regions >= m) {
            return Some(BracketReason::MaxRegions);
        }
        if self.settings.time_limit.is_some_and(|t| start.elapsed() >= t) {
            return Some(BracketReason::TimeLimit);
        }
        let slots = (self.store.capacity() * std::mem::size_of::<Node>() + self.heap.capacity() * std::mem::size_of::<HeapItem>()) as u64;
        if self.held_bytes + slots >= self.store_limit {
            return Some(BracketReason::Memory);
        }
        None
    }

    /// Best-first branch and bound from the root, [`BATCH`] open nodes at a time.
    /// Returns why it stopped early, if it did; every node left open becomes a leaf
    /// with its bound.
    fn run(&mut self, start: Instant) -> Option<BracketReason> {
        let pool = match self.settings.threads {
            1 => None,
            n => rayon::ThreadPoolBuilder::new().num_threads(n).build().ok(),
        };
        self.push_node(Vec::new());
        while let Some(HeapItem(lb, _)) = self.heap.peek().map(|h| HeapItem(h.0, h.1)) {
            if lb >= self.ub * (1.0 - self.settings.rel_tol) {
                self.close_queue();
                return None;
            }
            if self.ub - self.lower_now() <= self.settings.exact_tol * self.ub {
                // The ball certificate alone closes the bracket.
                self.close_queue();
                return None;
            }
            let gap_reached = self.settings.gap.is_some_and(|g| self.ub - self.lower_now() <= g * self.ub);
            if gap_reached {
                self.close_queue();
                return Some(BracketReason::Gap);
            }
            if let Some(reason) = self.budget_spent(start) {
                self.close_queue();
                return Some(reason);
            }
            let mut batch = Vec::new();
            while let Some(&HeapItem(lb, id)) = self.heap.peek() {
                if batch.len() >= BATCH || lb >= self.ub * (1.0 - self.settings.rel_tol) {
                    break;
                }
                self.heap.pop();
                self.in_flight = self.in_flight.min(lb);
                let node = self.take(id);
                if node.r_eval > self.frame.r {
                    // The incumbent improved since this node was bounded: re-bound it.
                    batch.push((node.assign, node.ranges));
                    continue;
                }
                match node.branch {
                    None => self.close(node),
                    Some(j) => {
                        for on in [true, false] {
                            let mut a = node.assign.clone();
                            a.push((j, on));
                            batch.push((a, Arc::clone(&node.ranges)));
                        }
                    }
                }
            }
            self.push_batch(batch, pool.as_ref());
            self.in_flight = f64::INFINITY;
            if self.last_report.elapsed() >= PROGRESS_EVERY {
                self.report(self.start.elapsed().as_secs_f64(), self.lower_now());
            }
        }
        None
    }
}

/// The search behind [`super::exact_radius`]; inputs are validated by the caller.
pub(crate) fn search(net: &Net, x: &[f64], y: f64, settings: &RadiusSettings, observe: &mut dyn FnMut(&SearchProgress)) -> RadiusResult {
    let start = Instant::now();
    let prob = Problem::new(net, x, y);
    let margin = prob.margin_at(x);
    let proof_of = |kind: ProofKind, leaves: Vec<Leaf>, ball: Option<BallCert>| settings.record_proof.then_some(SampleProof { index: 0, kind, exact_tol: settings.exact_tol, leaves, ball });
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
        ball_radius: None,
        seconds: 0.0,
        history: Vec::new(),
        proof: None,
    };
    if margin <= 0.0 {
        result.outcome = RadiusOutcome::Misclassified;
        result.proof = proof_of(ProofKind::Misclassified, Vec::new(), None);
        return result;
    }
    if never_flips(&prob.cert) {
        // y·N ≥ Σ_{w_j = 0} α_j σ(b_j) > 0 everywhere: nothing flips the sample.
        result.radius = f64::INFINITY;
        result.lower = f64::INFINITY;
        result.upper = f64::INFINITY;
        result.initial_lower = f64::INFINITY;
        result.witness = None;
        result.witness_margin = f64::NAN;
        result.proof = proof_of(ProofKind::None, Vec::new(), None);
        result.seconds = start.elapsed().as_secs_f64();
        return result;
    }
    let tol = settings.qp_tol * (1.0 + dot(x, x).sqrt());

    // A cheap bound (each neuron moved adversarially on its own), for information.
    let nz = &prob.neurons;
    let a0: Vec<f64> = nz.iter().map(|&j| prob.u0[j]).collect();
    let al: Vec<f64> = nz.iter().map(|&j| prob.alpha[j]).collect();
    let pw: Vec<f64> = nz.iter().map(|&j| if prob.alpha[j] > 0.0 { -prob.wn[j] } else { prob.wn[j] }).collect();
    let lip = Ray { a: &a0, p: &pw, alpha: &al };
    // φ(t) + konst ≤ 0  ⇔  φ(t) ≤ −konst.
    result.initial_lower = lip.first_crossing(-prob.konst).unwrap_or(f64::INFINITY);
    let mut s = Search::new(prob, settings, tol, start, observe);
    s.gradient_ray(&lip);
    s.own_region();
    // A solver-free attack for a strong first incumbent (it sizes the ball in which
    // stable neurons are fixed); its point is offered only when the search's own
    // forward pass confirms that it flips.
    let attack_settings = AttackSettings { starts: if net.width() * x.len() <= 10_000 { 8 } else { 2 }, ..AttackSettings::default() };
    if let Some(w) = attack(net, x, y, &attack_settings) {
        if s.prob.margin_at(&w.point) <= 0.0 {
            let dist = w.point.iter().zip(x).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
            s.offer(w.point, dist);
        }
    }
    result.initial_upper = s.ub;
    // The ball bound (docs/radius.md): at most a quarter of the time limit.
    if settings.ball_bound && x.len() <= MAX_DIM {
        let deadline = settings.time_limit.map(|t| start + t / 4);
        if let Some(cert) = largest_ball(&s.prob.cert, s.ub, deadline) {
            result.ball_radius = Some(cert.radius);
            s.ball = Some(cert);
            s.record();
        }
    }
    let stop = s.run(start);
    s.record();
    let (ub, lower) = (s.ub, s.leaf_min.max(s.ball_radius()));
    result.regions = s.regions;
    result.closed = s.closed;
    result.upper = ub;
    result.radius = ub;
    result.lower = lower;
    result.witness_margin = s.witness.as_deref().map_or(f64::NAN, |w| s.prob.margin_at(w));
    let flips = result.witness_margin <= 0.0;
    result.witness = s.witness.map(DVector::from_vec);
    let tight = flips && lower <= ub && ub - lower <= settings.exact_tol * ub;
    result.outcome = match stop {
        None | Some(BracketReason::Gap) if tight => RadiusOutcome::Exact,
        Some(reason) => RadiusOutcome::Bracket { reason },
        None => RadiusOutcome::Bracket { reason: BracketReason::Numerical },
    };
    result.history = std::mem::take(&mut s.history);
    result.proof = proof_of(ProofKind::Tree, s.leaves.unwrap_or_default(), s.ball.take());
    result.seconds = start.elapsed().as_secs_f64();
    result
}
