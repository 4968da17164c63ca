//! Numerical references for the tests: derivatives by central differences.

use relucert::net::Net;

/// The central differences (f(θ + h·e_p) − f(θ − h·e_p)) / 2h of a function of a
/// network's parameters, for every parameter p in [`Net::flatten`]'s order — an
/// independent check of analytic gradients.
pub fn central_differences(net: &Net, h: f64, f: impl Fn(&Net) -> f64) -> Vec<f64> {
    let theta = net.flatten();
    let at = |p: usize, step: f64| {
        let mut t = theta.clone();
        t[p] += step;
        f(&net.with_flat(t.as_slice()).expect("same shape, finite"))
    };
    (0..theta.len()).map(|p| (at(p, h) - at(p, -h)) / (2.0 * h)).collect()
}
