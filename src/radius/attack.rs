//! Upper bounds on the exact radius by attack: points that flip a sample, found fast.
//!
//! The exact search (see docs/radius.md) sizes the ball in which it fixes stable
//! neurons by its incumbent, so a good upper bound early is worth many nodes. This
//! module finds one without any solver: DeepFool-style steps on the piecewise-linear
//! margin f(δ) = y·N(x + δ) from several seeded starts, each flipping point pulled back
//! along its segment to the boundary and then walked along the boundary by exact
//! projections onto the local linear piece (on one activation pattern f is affine, so
//! the nearest point of {f ≤ 0} on that piece is a closed form).
//!
//! Every point returned is a *witness*: f(x + δ) ≤ 0 recomputed by the plain f64 forward
//! pass, never accepted within a tolerance. The attack proves nothing about lower bounds.

use crate::data::Rng;
use crate::net::Net;
use super::node::dot;

/// Settings of the attack; `Default` gives what the exact search uses.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackSettings {
    /// Number of starts (the first is δ = 0, the others seeded random perturbations).
    /// Default 8.
    pub starts: usize,
    /// DeepFool steps per start before giving up on it. Default 60.
    pub steps: usize,
    /// Overshoot of each DeepFool step (1.02 steps 2 % past the linearised boundary).
    pub overshoot: f64,
    /// Boundary-walk rounds after a start flips (projection onto the local piece, then
    /// back to the boundary along the segment). Default 30.
    pub walk_rounds: usize,
    /// Seed of the random starts (portable ChaCha8 stream). Default 0.
    pub seed: u64,
}

impl Default for AttackSettings {
    fn default() -> Self {
        AttackSettings { starts: 8, steps: 60, overshoot: 1.02, walk_rounds: 30, seed: 0 }
    }
}

/// A flipping point found by the attack.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackWitness {
    /// The point x + δ (not δ), with y·N(point) ≤ 0 by the f64 forward pass.
    pub point: Vec<f64>,
    /// ‖δ‖₂: an upper bound on the exact radius.
    pub radius: f64,
    /// y·N(point), recomputed (≤ 0).
    pub margin: f64,
}

/// The margin y·N(x + δ) and its gradient in δ on the current piece.
struct Margin<'a> {
    net: &'a Net,
    x: &'a [f64],
    y: f64,
}

impl Margin<'_> {
    fn point(&self, delta: &[f64], t: f64) -> Vec<f64> {
        self.x.iter().zip(delta).map(|(a, b)| a + t * b).collect()
    }

    fn value(&self, delta: &[f64], t: f64) -> f64 {
        self.y * self.net.forward_one(&self.point(delta, t))
    }

    /// f and ∇f at x + δ (the gradient of the active piece; inactive on ties).
    fn value_grad(&self, delta: &[f64]) -> (f64, Vec<f64>) {
        let z = self.point(delta, 1.0);
        let (w, v) = (self.net.w(), self.net.v());
        let mut f = 0.0;
        let mut g = vec![0.0; self.x.len()];
        for j in 0..self.net.width() {
            let u = self.net.preactivation_one(j, &z);
            if u > 0.0 {
                f += v[j] * u;
                for (i, gi) in g.iter_mut().enumerate() {
                    *gi += self.y * v[j] * w[(j, i)];
                }
            }
        }
        (self.y * f, g)
    }

    /// The smallest t ∈ (0, 1] found by bisection with f(x + tδ) ≤ 0, given f(x + δ) ≤ 0.
    fn pull_back(&self, delta: &[f64]) -> Vec<f64> {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.value(delta, mid) <= 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        delta.iter().map(|d| d * hi).collect()
    }
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|t| t * t).sum::<f64>().sqrt()
}


/// Shrinks a flipping δ by projected descent on spheres: on ‖δ‖ = ρ < ‖cur‖, descend
/// f along the sphere; when a point with f ≤ 0 appears, pull it back to the boundary and
/// try a smaller ρ, else try a ρ closer to ‖cur‖. Handles kinks, where the boundary
/// walk's one-piece projection stalls.
fn sphere_descent(f: &Margin<'_>, mut cur: Vec<f64>, settings: &AttackSettings) -> Vec<f64> {
    let mut shrink = 0.05;
    for _ in 0..settings.walk_rounds {
        let r = norm(&cur);
        if r == 0.0 || shrink < 1e-9 {
            break;
        }
        let rho = r * (1.0 - shrink);
        let mut delta: Vec<f64> = cur.iter().map(|c| c * (1.0 - shrink)).collect();
        let mut found = None;
        for _ in 0..settings.steps {
            let (fv, g) = f.value_grad(&delta);
            if fv <= 0.0 {
                found = Some(delta.clone());
                break;
            }
            // Tangential descent: remove the radial part of g, step by a fraction of ρ.
            let gd = dot(&g, &delta) / (rho * rho);
            let t: Vec<f64> = g.iter().zip(&delta).map(|(gi, di)| gi - gd * di).collect();
            let tn = norm(&t);
            if tn == 0.0 || !tn.is_finite() {
                break;
            }
            let step = (fv / tn).min(0.2 * rho);
            let moved: Vec<f64> = delta.iter().zip(&t).map(|(di, ti)| di - step * ti / tn).collect();
            let mn = norm(&moved);
            delta = moved.iter().map(|m| m * rho / mn).collect();
        }
        match found {
            Some(dl) => {
                let pulled = f.pull_back(&dl);
                cur = if norm(&pulled) < r { pulled } else { dl };
                shrink = (shrink * 1.5).min(0.2);
            }
            None => shrink *= 0.3,
        }
    }
    cur
}

/// Runs the attack on sample (x, y). Returns the best confirmed witness, or `None` when
/// no start flipped the sample (which proves nothing: the radius may still be finite).
pub fn attack(net: &Net, x: &[f64], y: f64, settings: &AttackSettings) -> Option<AttackWitness> {
    let f = Margin { net, x, y };
    let d = x.len();
    let mut rng = Rng::seed_from_u64(settings.seed);
    let mut best: Option<AttackWitness> = None;
    for start in 0..settings.starts {
        // Start 0 is the sample itself; later starts are random points on a sphere of
        // a size drawn around the best radius so far (or a small one before any flip).
        let mut delta: Vec<f64> = if start == 0 {
            vec![0.0; d]
        } else {
            let dir: Vec<f64> = (0..d).map(|_| rng.uniform_in(-1.0, 1.0)).collect();
            let size = best.as_ref().map_or(1e-3 * norm(x).max(1.0), |b| b.radius * rng.uniform_in(0.2, 1.0));
            let n = norm(&dir).max(f64::MIN_POSITIVE);
            dir.iter().map(|t| t * size / n).collect()
        };
        let mut flipped = false;
        for _ in 0..settings.steps {
            let (fv, g) = f.value_grad(&delta);
            if fv <= 0.0 {
                flipped = true;
                break;
            }
            let gg = dot(&g, &g);
            if gg == 0.0 || !gg.is_finite() {
                break;
            }
            let step = settings.overshoot * fv / gg;
            for (di, gi) in delta.iter_mut().zip(&g) {
                *di -= step * gi;
            }
        }
        if !flipped {
            continue;
        }
        let mut cur = f.pull_back(&delta);
        // Boundary walk: on the piece at `cur`, the nearest point of {f ≤ 0} is
        // δ* = ((g·cur − f(cur)) / ‖g‖²)·g; overshoot slightly, confirm, pull back.
        for _ in 0..settings.walk_rounds {
            let (fv, g) = f.value_grad(&cur);
            let gg = dot(&g, &g);
            if gg == 0.0 || !gg.is_finite() {
                break;
            }
            let coef = (dot(&g, &cur) - fv) / gg;
            let target: Vec<f64> = g.iter().map(|gi| coef * gi).collect();
            // Move part-way when the projection leaves the piece.
            let mut moved = false;
            for frac in [1.0, 0.5, 0.25, 0.1] {
                let cand: Vec<f64> =
                    cur.iter().zip(&target).map(|(c, t)| c + frac * (t - c) * settings.overshoot).collect();
                if f.value(&cand, 1.0) <= 0.0 {
                    let pulled = f.pull_back(&cand);
                    if norm(&pulled) < norm(&cur) * (1.0 - 1e-12) {
                        cur = pulled;
                        moved = true;
                        break;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        cur = sphere_descent(&f, cur, settings);
        let point = f.point(&cur, 1.0);
        let margin = y * net.forward_one(&point);
        if margin > 0.0 {
            continue;
        }
        let radius = norm(&point.iter().zip(x).map(|(p, q)| p - q).collect::<Vec<_>>());
        if best.as_ref().is_none_or(|b| radius < b.radius) {
            best = Some(AttackWitness { point, radius, margin });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One neuron v·relu(w·x + b): the radius is the distance to the hyperplane
    /// w·x + b = 0 (closed form), and the attack must find it.
    #[test]
    fn single_neuron_hyperplane_distance() {
        let net = Net::from_rows(3, &[1.0, 2.0, -2.0], Some(&[0.5]), &[1.0]).expect("net");
        let x = [1.0, 1.0, 0.0];
        let u: f64 = 1.0 + 2.0 + 0.5;
        let exact = u / 3.0;
        let w = attack(&net, &x, 1.0, &AttackSettings::default()).expect("flips");
        assert!(w.margin <= 0.0);
        assert!(w.radius >= exact * (1.0 - 1e-9), "below the true radius: {} < {exact}", w.radius);
        assert!(w.radius <= exact * (1.0 + 1e-6), "attack {} vs exact {exact}", w.radius);
    }

    /// A net with N ≥ 1 everywhere cannot be flipped for y = +1: no witness.
    #[test]
    fn unflippable_gives_none() {
        let net = Net::from_rows(2, &[1.0, 0.0, -1.0, 0.0, 0.0, 0.0], Some(&[0.0, 0.0, 1.0]), &[1.0, 1.0, 1.0])
            .expect("net");
        assert!(attack(&net, &[1.0, 0.0], 1.0, &AttackSettings::default()).is_none());
    }
}
