//! The initial network: PyTorch's default `nn.Linear` initialisation, seeded.

use super::TrainError;
use crate::data::Rng;
use crate::net::Net;

/// PyTorch's default `nn.Linear` initialisation, multiplied by `scale`:
/// `w_jc, b_j ~ U(−1/√d, 1/√d)`, `v_j ~ U(−1/√k, 1/√k)` (Kaiming-uniform with a = √5),
/// drawn from [`Rng`] seeded with `seed` in the order w (row-major), b, v.
pub fn init_net(d: usize, k: usize, bias: bool, seed: u64, scale: f64) -> Result<Net, TrainError> {
    if d == 0 || k == 0 {
        return Err(TrainError::EmptyNet { width: k, d });
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(TrainError::Setting { name: "init_scale", value: scale.to_string(), reason: "must be positive and finite" });
    }
    let kd = k.checked_mul(d).filter(|&n| k.checked_mul(2).and_then(|k2| n.checked_add(k2)).is_some()).ok_or(TrainError::TooLarge { m: 0, d, width: k })?;
    let bytes = (kd as u64).saturating_add(2 * k as u64).saturating_mul(8);
    let mut w: Vec<f64> = Vec::new();
    w.try_reserve_exact(kd).map_err(|_| TrainError::Allocation { bytes })?;
    let mut rng = Rng::seed_from_u64(seed);
    let b1 = 1.0 / (d as f64).sqrt();
    let b2 = 1.0 / (k as f64).sqrt();
    w.extend((0..kd).map(|_| scale * rng.uniform_in(-b1, b1)));
    let b: Option<Vec<f64>> = bias.then(|| (0..k).map(|_| scale * rng.uniform_in(-b1, b1)).collect());
    let v: Vec<f64> = (0..k).map(|_| scale * rng.uniform_in(-b2, b2)).collect();
    Ok(Net::from_rows(d, &w, b.as_deref(), &v)?)
}

