//! Model, data and constructions: invariances, closed forms and brute-force checks.

mod common;

use common::numeric::central_differences;
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use relucert::construct::{self, RobustSettings};
use relucert::data::{Dataset, Generator, Rng};
use relucert::net::{argmin, Net, NetError};

/// A random network from a seed (k neurons, dimension d, with or without bias).
fn random_net(k: usize, d: usize, bias: bool, seed: u64) -> Net {
    let mut r = Rng::seed_from_u64(seed);
    let w = DMatrix::from_fn(k, d, |_, _| r.normal());
    let b = bias.then(|| DVector::from_fn(k, |_, _| r.normal()));
    let v = DVector::from_fn(k, |_, _| r.normal());
    Net::new(w, b, v).expect("finite random net")
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// N(αθ) = α² N(θ): depth-2 ReLU networks are 2-homogeneous (paper §2).
    #[test]
    fn homogeneity(k in 1usize..12, d in 1usize..8, bias: bool, seed: u64, alpha in 0.01f64..100.0) {
        let net = random_net(k, d, bias, seed);
        let data = Generator::Gaussian { variance: 1.0 }.generate(d, 7, seed ^ 1).unwrap();
        let a = net.forward(data.x());
        let b = net.scaled(alpha).forward(data.x());
        for (x, y) in a.iter().zip(b.iter()) {
            prop_assert!(rel_close(alpha * alpha * x, *y, 1e-12), "{} vs {}", alpha * alpha * x, y);
        }
    }

    /// Margins do not depend on the order of the hidden neurons.
    #[test]
    fn permutation_invariance(k in 1usize..12, d in 1usize..8, bias: bool, seed: u64) {
        let net = random_net(k, d, bias, seed);
        let data = Generator::Sphere.generate(d, 9, seed ^ 2).unwrap();
        let mut perm: Vec<usize> = (0..k).collect();
        Rng::seed_from_u64(seed ^ 3).shuffle(&mut perm);
        let q = net.margins(&data).unwrap();
        let qp = net.permuted(&perm).margins(&data).unwrap();
        for (a, b) in q.iter().zip(qp.iter()) {
            prop_assert!(rel_close(*a, *b, 1e-12));
        }
    }

    /// Matrix forward pass agrees with the per-sample definition Σ_j v_j σ(w_j·x + b_j).
    #[test]
    fn forward_matches_definition(k in 1usize..10, d in 1usize..6, bias: bool, seed: u64) {
        let net = random_net(k, d, bias, seed);
        let data = Generator::Gaussian { variance: 2.0 }.generate(d, 5, seed ^ 4).unwrap();
        let out = net.forward(data.x());
        for i in 0..data.m() {
            let x = data.row(i);
            let mut s = 0.0;
            for j in 0..k {
                let u: f64 = (0..d).map(|c| net.w()[(j, c)] * x[c]).sum::<f64>() + net.bias(j);
                s += net.v()[j] * u.max(0.0);
            }
            prop_assert!(rel_close(out[i], s, 1e-12));
            prop_assert!(rel_close(net.forward_one(&x), s, 1e-12));
        }
    }

    /// `with_flat` inverts `flatten`, bit for bit.
    #[test]
    fn with_flat_inverts_flatten(k in 1usize..10, d in 1usize..6, bias: bool, seed: u64) {
        let net = random_net(k, d, bias, seed);
        let back = net.with_flat(net.flatten().as_slice()).unwrap();
        prop_assert_eq!((back.width(), back.dim(), back.has_bias()), (k, d, bias));
        let bits = |n: &Net| n.flatten().iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
        prop_assert_eq!(bits(&back), bits(&net));
        let short = net.with_flat(&net.flatten().as_slice()[1..]);
        let is_shape_error = matches!(short, Err(NetError::Shape { .. }));
        prop_assert!(is_shape_error);
    }

    /// Euler's identity for degree-2 homogeneity: ⟨θ, h_i⟩ = 2 y_i N(x_i) (DESIGN §2).
    #[test]
    fn euler_identity(k in 1usize..10, d in 1usize..6, bias: bool, seed: u64) {
        let net = random_net(k, d, bias, seed);
        let data = Generator::Sphere.generate(d, 4, seed ^ 5).unwrap();
        let theta = net.flatten();
        let q = net.margins(&data).unwrap();
        for i in 0..data.m() {
            let h = net.sample_gradient_default(&data.row(i), data.y()[i]);
            prop_assert!(rel_close(theta.dot(&h), 2.0 * q[i], 1e-10));
        }
    }
}

/// Per-sample gradient against central finite differences of θ ↦ y N_θ(x).
#[test]
fn sample_gradient_matches_finite_differences() {
    for (seed, bias) in [(1u64, true), (2, false), (3, true)] {
        let net = random_net(6, 4, bias, seed);
        let data = Generator::Gaussian { variance: 1.0 }.generate(4, 3, seed + 10).unwrap();
        for i in 0..data.m() {
            let (x, y) = (data.row(i), data.y()[i]);
            let g = net.sample_gradient_default(&x, y);
            let fd = central_differences(&net, 1e-6, |n| y * n.forward_one(&x));
            for (p, (fd, g)) in fd.iter().zip(g.iter()).enumerate() {
                assert!((fd - g).abs() < 1e-6, "sample {i} param {p}: fd {fd} vs analytic {g}");
            }
        }
    }
}

/// θ̂ = θ/√q_min has smallest margin exactly 1 (to rounding) and the same direction.
#[test]
fn normalisation_gives_unit_min_margin() {
    let data = Generator::Orthogonal.generate(8, 8, 0).unwrap();
    let net = construct::orthogonal_kkt(&data).unwrap().scaled(3.7);
    let (hat, q_min) = net.normalized(&data).unwrap();
    assert!(rel_close(q_min, 3.7 * 3.7, 1e-12));
    let q = hat.margins(&data).unwrap();
    assert!((argmin(&q).1 - 1.0).abs() < 1e-12);
}

#[test]
fn normalisation_refuses_non_separating_net() {
    let data = Dataset::from_rows(1, &[1.0, 2.0], &[1.0, -1.0]).unwrap();
    let net = Net::from_rows(1, &[1.0], Some(&[0.0]), &[1.0]).unwrap();
    match net.normalized(&data) {
        Err(NetError::NotSeparating { sample, .. }) => assert_eq!(sample, 1),
        other => panic!("expected NotSeparating, got {other:?}"),
    }
}

/// Theorem 3.1: y_i N(x_i) = 1 exactly (to 1e-12) on generated sphere data, several sizes.
#[test]
fn robust_construction_has_unit_margins() {
    for (d, m, seed) in [(50, 20, 1), (100, 10, 2), (200, 50, 3), (30, 5, 4)] {
        let data = Generator::Sphere.generate(d, m, seed).unwrap();
        let (net, c) = construct::robust(&data, &RobustSettings::default()).unwrap();
        assert!(c < 1.0);
        let q = net.margins(&data).unwrap();
        for qi in q.iter() {
            assert!((qi - 1.0).abs() < 1e-12, "d={d} m={m}: margin {qi}");
        }
        // Each sample activates exactly its own neuron with pre-activation 1, the others ≤ −1.
        let u = net.preactivations(data.x());
        for i in 0..m {
            for j in 0..m {
                if i == j {
                    assert!((u[(i, j)] - 1.0).abs() < 1e-12);
                } else {
                    assert!(u[(i, j)] <= -1.0 + 1e-12);
                }
            }
        }
    }
}

#[test]
fn robust_construction_refuses_bad_data() {
    // Off the sphere.
    let data = Generator::Gaussian { variance: 1.0 }.generate(10, 4, 1).unwrap();
    assert!(matches!(
        construct::robust(&data, &RobustSettings::default()),
        Err(construct::ConstructError::NotOnSphere { .. })
    ));
    // Two equal points: c = 1.
    let x = [1.0, 0.0, 1.0, 0.0];
    let scaled = Dataset::from_rows(2, &x.map(|t| t * 2f64.sqrt()), &[1.0, -1.0]).unwrap();
    assert!(matches!(
        construct::robust(&scaled, &RobustSettings::default()),
        Err(construct::ConstructError::Correlated { .. })
    ));
    // A c below the data's own p/d.
    let data = Generator::Sphere.generate(20, 6, 2).unwrap();
    assert!(matches!(
        construct::robust(&data, &RobustSettings { c: Some(1e-6), ..Default::default() }),
        Err(construct::ConstructError::BadC { .. })
    ));
}

/// The exact KKT fixture of DESIGN §2: all margins 1, ‖θ‖²/2 = √d.
#[test]
fn orthogonal_kkt_fixture_closed_form() {
    for d in [4usize, 8, 64] {
        let data = Generator::Orthogonal.generate(d, d, 0).unwrap();
        let net = construct::orthogonal_kkt(&data).unwrap();
        let q = net.margins(&data).unwrap();
        assert!(q.iter().all(|qi| (qi - 1.0).abs() < 1e-12));
        assert!(rel_close(net.param_norm_sq() / 2.0, (d as f64).sqrt(), 1e-12));
        assert!(!net.has_bias());
    }
    let sphere = Generator::Sphere.generate(5, 3, 0).unwrap();
    assert!(construct::orthogonal_kkt(&sphere).is_err());
}

#[test]
fn generators_have_the_documented_shape() {
    let d = 40;
    let s = Generator::Sphere.generate(d, 30, 9).unwrap();
    for i in 0..30 {
        assert!((s.x().row(i).norm() - (d as f64).sqrt()).abs() < 1e-12);
    }
    let o = Generator::Orthogonal.generate(d, 7, 0).unwrap();
    assert_eq!(o.label_counts(), (3, 4));
    assert_eq!(o.x()[(2, 2)], (d as f64).sqrt());
    assert!(Generator::Orthogonal.generate(3, 4, 0).is_err());
    let c = Generator::Clusters { clusters: 2, noise: 0.1 }.generate(d, 10, 3).unwrap();
    // Points of one cluster are strongly correlated, and labels follow clusters.
    let ip = c.x().row(0).dot(&c.x().row(2));
    assert!(ip > 0.5 * d as f64, "same-cluster inner product {ip}");
    assert_eq!(c.y()[0], 1.0);
    assert_eq!(c.y()[1], -1.0);
    // Gaussian with variance s²: mean squared coordinate near s².
    let g = Generator::Gaussian { variance: 4.0 }.generate(200, 50, 1).unwrap();
    let ms = g.x().norm_squared() / (200.0 * 50.0);
    assert!((ms - 4.0).abs() < 0.2, "mean square {ms}");
    assert!(Generator::Sphere.generate(0, 3, 0).is_err());
}

/// Same seed, same values; different seed, different values; and a pinned fingerprint of
/// the ChaCha8 + libm stream so that a change of generator is noticed (the value was
/// produced by this implementation; every platform must reproduce it bit for bit).
#[test]
fn generators_are_reproducible() {
    let a = Generator::Sphere.generate(5, 3, 7).unwrap();
    let b = Generator::Sphere.generate(5, 3, 7).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, Generator::Sphere.generate(5, 3, 8).unwrap());
    let bits: Vec<u8> = a.x().iter().chain(a.y().iter()).flat_map(|v| v.to_le_bytes()).collect();
    let fp = relucert::io::sha256_hex(&bits);
    assert_eq!(&fp[..16], PINNED_SPHERE_5_3_7, "sphere(d=5, m=3, seed=7) changed: {fp}");
}

const PINNED_SPHERE_5_3_7: &str = "27bd3812f70ff7e1";

/// p and c of the inner-product statistics against a brute-force double loop.
#[test]
fn inner_product_stats_brute_force() {
    let data = Generator::Sphere.generate(30, 25, 4).unwrap();
    let st = data.inner_product_stats();
    let mut p: f64 = 0.0;
    for i in 0..25 {
        for j in 0..25 {
            if i != j {
                let ip: f64 = (0..30).map(|c| data.x()[(i, c)] * data.x()[(j, c)]).sum();
                p = p.max(ip.abs());
            }
        }
    }
    assert!(rel_close(st.p, p, 1e-12));
    assert!(rel_close(st.c, p / 30.0, 1e-12));
    assert!(st.max_norm_deviation < 1e-12);
}

#[test]
fn dataset_validation() {
    assert!(Dataset::from_rows(2, &[], &[]).is_err());
    assert!(Dataset::from_rows(2, &[1.0, f64::NAN], &[1.0]).is_err());
    assert!(Dataset::from_rows(2, &[1.0, 2.0], &[0.5]).is_err());
    assert!(Dataset::from_rows(2, &[1.0, 2.0, 3.0], &[1.0]).is_err());
    assert!(Net::from_rows(2, &[1.0, f64::INFINITY], None, &[1.0]).is_err());
    assert!(Net::from_rows(2, &[], None, &[]).is_err());
}

/// The tiled p (512-row tiles) against a brute-force double loop, on m = 1,100 rows so
/// that tiles and their edges are crossed, with a three-way tie planted across tiles:
/// the argmax is the first pair in row-major order, as the untiled loop found it.
#[test]
fn pairwise_inner_tiles_match_brute_force() {
    let (m, d) = (1100, 6);
    let mut r = Rng::seed_from_u64(11);
    let mut x = DMatrix::from_fn(m, d, |_, _| r.normal());
    let big: Vec<f64> = (0..d).map(|c| 40.0 + c as f64).collect();
    for i in [3, 700, 1050] {
        for c in 0..d {
            x[(i, c)] = big[c];
        }
    }
    let pw = relucert::data::pairwise_inner(&x);
    let mut p: f64 = 0.0;
    for i in 0..m {
        for j in 0..i {
            let ip: f64 = (0..d).map(|c| x[(i, c)] * x[(j, c)]).sum();
            p = p.max(ip.abs());
        }
        let n2: f64 = (0..d).map(|c| x[(i, c)] * x[(i, c)]).sum();
        assert!(rel_close(pw.sq_norms[i], n2, 1e-12), "row {i}");
    }
    assert!(rel_close(pw.p, p, 1e-12));
    assert_eq!(pw.argmax, Some((700, 3)));
    let one = relucert::data::pairwise_inner(&DMatrix::from_element(1, 3, 1.0));
    assert_eq!((one.p, one.argmax), (0.0, None));
}
