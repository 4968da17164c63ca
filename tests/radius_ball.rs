//! The ball certificate (docs/radius.md, "The ball bound"): its radius never exceeds
//! the radius proved by the tree search without it, it holds at sampled points of its
//! ball, `verify_radius` accepts proofs that rest on it, and every corrupted number is
//! refused.

mod common;

use common::instances::random_net;
use relucert::radius::reference::brute_force;
use relucert::radius::{check_ball_cert, exact_radius, BallCert, RadiusSettings};
use relucert::data::Rng;
use relucert::Net;

/// A random net and a correctly classified sample on the sphere of radius √d.
fn instance(k: usize, d: usize, seed: u64) -> (Net, Vec<f64>, f64) {
    let net = random_net(k, d, seed);
    let mut rng = Rng::seed_from_u64(seed ^ 0x5eed);
    let mut x: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
    let n = x.iter().map(|t| t * t).sum::<f64>().sqrt();
    x.iter_mut().for_each(|t| *t *= (d as f64).sqrt() / n);
    let y = if net.forward_one(&x) >= 0.0 { 1.0 } else { -1.0 };
    (net, x, y)
}

fn with_ball(record: bool) -> RadiusSettings {
    RadiusSettings { record_proof: record, ..RadiusSettings::default() }
}

/// The certificate of one search, if it found one, and an independent upper bound of
/// the radius: the distance of the witness of a search without the ball bound (its
/// forward pass flips), and the brute-force radius when k ≤ 10.
fn ball_of(net: &Net, x: &[f64], y: f64) -> Option<(BallCert, f64)> {
    let r = exact_radius(net, x, y, &with_ball(true)).ok()?;
    let plain = exact_radius(net, x, y, &RadiusSettings { ball_bound: false, ..RadiusSettings::default() }).ok()?;
    let mut reference = plain.upper;
    if net.width() <= 10 {
        reference = reference.min(brute_force(net, x, y));
    }
    r.proof.and_then(|p| p.ball).map(|b| (b, reference))
}

#[test]
fn ball_radius_is_below_the_exact_radius_and_checks() {
    let mut found = 0;
    for seed in 0..40u64 {
        let (k, d) = (4 + (seed as usize % 5) * 6, 2 + seed as usize % 6);
        let (net, x, y) = instance(k, d, seed);
        let Some((ball, exact)) = ball_of(&net, &x, y) else { continue };
        found += 1;
        assert!(ball.radius <= exact * (1.0 + 1e-9), "seed {seed}: ball {} above the radius {exact}", ball.radius);
        let b = check_ball_cert(&net, &x, y, &ball).expect("the search's certificate checks");
        assert!(b > 0.0);
    }
    assert!(found >= 30, "only {found} of 40 searches found a ball certificate");
}

#[test]
fn ball_holds_at_sampled_points() {
    let (net, x, y) = instance(30, 4, 7);
    let (ball, _) = ball_of(&net, &x, y).expect("a certificate");
    let mut rng = Rng::seed_from_u64(11);
    for i in 0..20_000 {
        let dir: Vec<f64> = (0..x.len()).map(|_| rng.normal()).collect();
        let n = dir.iter().map(|t| t * t).sum::<f64>().sqrt();
        // Half the points on the sphere itself, the rest inside.
        let t = if i % 2 == 0 { ball.radius } else { ball.radius * rng.uniform() };
        let z: Vec<f64> = x.iter().zip(&dir).map(|(a, b)| a + t * b / n).collect();
        assert!(y * net.forward_one(&z) > 0.0, "a point of the certified ball flips");
    }
}

#[test]
fn corrupted_certificates_are_refused() {
    let (net, x, y) = instance(24, 3, 3);
    let (ball, exact) = ball_of(&net, &x, y).expect("a certificate");
    let check = |c: &BallCert| check_ball_cert(&net, &x, y, c);
    assert!(check(&ball).is_ok());
    // A ball beyond the exact radius holds a flipped point: no numbers can prove it.
    let mut c = ball.clone();
    c.radius = exact * 1.01;
    assert!(check(&c).is_err(), "a ball past the radius was accepted");
    let lower = (0..net.width()).find(|&j| y * net.v()[j] < 0.0 && ball.params[j] > 0.0 && ball.params[j] != 1.0);
    if let Some(j) = lower {
        let mut c = ball.clone();
        c.params[j] = -1.0;
        assert!(check(&c).is_err(), "a negative parabola parameter was accepted");
    }
    let mut c = ball.clone();
    c.nu = c.mu * 2.0;
    assert!(check(&c).is_err(), "ν above μ was accepted");
    let mut c = ball.clone();
    c.nu = 0.0;
    assert!(check(&c).is_err(), "a false curvature bound was accepted");
    let mut c = ball.clone();
    c.delta = vec![2.0 * c.radius; x.len()];
    assert!(check(&c).is_err(), "δ̂ outside the ball was accepted");
    let mut c = ball.clone();
    c.mu = f64::NAN;
    assert!(check(&c).is_err());
    let mut c = ball;
    c.params.pop();
    assert!(check(&c).is_err());
}
