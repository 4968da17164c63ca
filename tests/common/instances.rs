//! Random test instances, seeded: a network labelling sphere data by its own sign
//! ([`random_instance`], for certificates) and a network for radius searches
//! ([`random_net`]). The draws are part of what the tests assert (known outcomes on
//! given seeds), so the order of the random numbers must not change.

use nalgebra::{DMatrix, DVector};
use relucert::data::{Dataset, Generator, Rng};
use relucert::net::Net;
use relucert::radius::reference::gaussian_net;

/// A random network (k neurons: w ~ N(0, 1/d), b ~ N(0, 0.3²) when `bias`, v ~ N(0, 1))
/// on m points of sphere data, labelled by the network's own sign so that it separates;
/// samples where every neuron is off (N(x) = 0, margin 0) are dropped.
pub fn random_instance(m: usize, k: usize, d: usize, bias: bool, seed: u64) -> (Net, Dataset) {
    let x = Generator::Sphere.generate(d, m, seed).unwrap();
    let mut rng = Rng::seed_from_u64(seed ^ 0xabcdef);
    let w = DMatrix::from_fn(k, d, |_, _| rng.normal() / (d as f64).sqrt());
    let b = bias.then(|| DVector::from_fn(k, |_, _| 0.3 * rng.normal()));
    let v = DVector::from_fn(k, |_, _| rng.normal());
    let net = Net::new(w, b, v).unwrap();
    let out = net.forward(x.x());
    let keep: Vec<usize> = (0..m).filter(|&i| out[i] != 0.0).collect();
    let y = DVector::from_fn(m, |i, _| if out[i] >= 0.0 { 1.0 } else { -1.0 });
    (net, Dataset::new(x.x().clone(), y).unwrap().select(&keep))
}

/// A random network with biases: w ~ N(0, 1/d), b ~ N(0, 0.1²), v ~ N(0, 1/k)
/// (the library's shared [`gaussian_net`]).
pub fn random_net(k: usize, d: usize, seed: u64) -> Net {
    gaussian_net(k, d, seed)
}

/// A radius instance: [`random_net`]`(k, d, net_seed)` and sphere point `data_seed`
/// (d-dimensional, radius √d), labelled by the net's own sign.
pub fn radius_instance(k: usize, d: usize, net_seed: u64, data_seed: u64) -> (Net, Vec<f64>, f64) {
    let data = Generator::Sphere.generate(d, 1, data_seed).unwrap();
    let net = random_net(k, d, net_seed);
    let x = data.row(0);
    let y = net.forward_one(&x).signum();
    (net, x, y)
}
