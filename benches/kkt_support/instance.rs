//! The benchmark instance shared by `benches/kkt.rs`, `benches/kkt_peer.rs` and (through
//! JSON files) `benches/peers/kkt_scipy.py`: a random bias network N on sphere data,
//! labelled by its own sign, keeping only samples with |N(x)| ≥ 10 % of the median so
//! that normalisation is well conditioned. Seeded, so every run builds the same bytes.

#![allow(dead_code)] // each bench target uses a different subset of these helpers

use nalgebra::{DMatrix, DVector};
use relucert::data::{Generator, Rng};
use relucert::{Dataset, Net};

/// Builds the (m, k, d) instance from `seed`.
pub fn instance(m: usize, k: usize, d: usize, seed: u64) -> (Net, Dataset) {
    let pool = Generator::Sphere.generate(d, 2 * m + 16, seed).expect("valid generator settings");
    let mut rng = Rng::seed_from_u64(seed.wrapping_add(0x5eed));
    let w = DMatrix::from_fn(k, d, |_, _| rng.normal() / (d as f64).sqrt());
    let b = DVector::from_fn(k, |_, _| 0.3 * rng.normal());
    let v = DVector::from_fn(k, |_, _| rng.normal() / (k as f64).sqrt());
    let net = Net::new(w, Some(b), v).expect("finite parameters");
    // N(x) = Σ_j v_j σ(u_j) a block of rows and of neurons at a time, so that building
    // the instance never holds a pre-activation matrix or a copy of W as large as the
    // network (the memory measurements of `kkt_scale` then peak inside the certificate).
    let mut out: Vec<f64> = Vec::with_capacity(pool.m());
    for r0 in (0..pool.m()).step_by(256) {
        let xb = pool.x().rows(r0, 256.min(pool.m() - r0)).into_owned();
        let mut nb = DVector::zeros(xb.nrows());
        for j0 in (0..k).step_by(64) {
            let u = net.preactivation_block(&xb, j0..(j0 + 64).min(k)).map(|t| t.max(0.0));
            nb += u * net.v().rows(j0, (j0 + 64).min(k) - j0);
        }
        out.extend(nb.iter());
    }
    let mut mags: Vec<f64> = out.iter().map(|t| t.abs()).collect();
    mags.sort_by(f64::total_cmp);
    let floor = 0.1 * mags[mags.len() / 2];
    let keep: Vec<usize> = (0..pool.m()).filter(|&i| out[i].abs() >= floor).take(m).collect();
    assert_eq!(keep.len(), m, "not enough samples above the floor");
    let x = DMatrix::from_fn(m, d, |r, c| pool.x()[(keep[r], c)]);
    let y = DVector::from_fn(m, |r, _| if out[keep[r]] >= 0.0 { 1.0 } else { -1.0 });
    (net, Dataset::new(x, y).expect("valid dataset"))
}

/// The network as `relucert/net@1` JSON (docs/formats.md).
pub fn net_json(net: &Net) -> serde_json::Value {
    let w: Vec<Vec<f64>> = (0..net.width()).map(|j| net.w().row(j).iter().copied().collect()).collect();
    serde_json::json!({
        "format": "relucert/net@1", "d": net.dim(), "k": net.width(), "bias": net.has_bias(),
        "w": w, "b": net.b().map(|b| b.iter().copied().collect::<Vec<_>>()), "v": net.v().iter().copied().collect::<Vec<_>>(),
    })
}

/// The dataset as `relucert/data@1` JSON (docs/formats.md).
pub fn data_json(data: &Dataset) -> serde_json::Value {
    let x: Vec<Vec<f64>> = (0..data.m()).map(|i| data.row(i)).collect();
    serde_json::json!({
        "format": "relucert/data@1", "d": data.d(), "m": data.m(), "x": x, "y": data.y().iter().copied().collect::<Vec<_>>(),
    })
}
