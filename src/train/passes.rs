//! The kernel's element-wise passes over the pre-activations `U` (m×k): adding the
//! bias, the ReLU, and the margins `q_i = y_i Σ_j v_j relu(u_ij)`, row block by row
//! block, in parallel when the pass is large enough to pay for waking the pool.

use rayon::prelude::*;

use super::engine::Real;

/// Rows per parallel task in the element-wise passes.
pub(crate) const ROW_CHUNK: usize = 16;

/// Element-wise passes over fewer than this many entries of `U` run on one thread.
pub(crate) const PARALLEL_ELEMENTS: usize = 1 << 18;

/// `Σ_j v_j relu(u_j)` with eight partial sums (vectorisable; fixed order, so
/// deterministic).
#[inline]
fn relu_dot<T: Real>(u: &[T], v: &[T]) -> T {
    let z = T::default();
    let mut acc = [z; 8];
    let (uc, vc) = (u.chunks_exact(8), v.chunks_exact(8));
    let (ur, vr) = (uc.remainder(), vc.remainder());
    for (a, b) in uc.zip(vc) {
        for l in 0..8 {
            let t = a[l];
            acc[l] += b[l] * if t > z { t } else { z };
        }
    }
    for (l, (&t, &w)) in ur.iter().zip(vr).enumerate() {
        acc[l] += w * if t > z { t } else { z };
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// Runs `pass` over blocks of `ROW_CHUNK` rows of `u` (row length k) and of `q`,
/// in parallel or not.
fn rows_pass<T: Real, F>(u: &mut [T], q: &mut [f64], k: usize, par: bool, pass: F)
where
    F: Fn((usize, (&mut [T], &mut [f64]))) + Sync + Send,
{
    if par {
        u.par_chunks_mut(k * ROW_CHUNK).zip(q.par_chunks_mut(ROW_CHUNK)).enumerate().for_each(pass);
    } else {
        u.chunks_mut(k * ROW_CHUNK).zip(q.chunks_mut(ROW_CHUNK)).enumerate().for_each(pass);
    }
}

/// Adds the bias (scaled by `bscale`) to `u`, then margins `q_i = y_i Σ_j v_j relu(u_ij)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_pass<T: Real>(u: &mut [T], bias: Option<&[T]>, bscale: T, v: &[T], y: &[f64], q: &mut [f64], k: usize, par: bool) {
    let pass = |(ci, (uc, qc)): (usize, (&mut [T], &mut [f64]))| {
        for (o, (urow, qi)) in uc.chunks_mut(k).zip(qc.iter_mut()).enumerate() {
            let i = ci * ROW_CHUNK + o;
            if let Some(b) = bias {
                for (t, &bj) in urow.iter_mut().zip(b) {
                    *t += bscale * bj;
                }
            }
            let acc = relu_dot(urow, v);
            *qi = y[i] * acc.f();
        }
    };
    rows_pass(u, q, k, par, pass);
}

/// Gram mode: `u2 ← u2 + u + shift` row by row, then margins with `v`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_pass_gram<T: Real>(u2: &mut [T], u: &[T], shift: &[T], v: &[T], y: &[f64], q: &mut [f64], k: usize, par: bool) {
    let pass = |(ci, (uc, qc)): (usize, (&mut [T], &mut [f64]))| {
        for (o, (urow, qi)) in uc.chunks_mut(k).zip(qc.iter_mut()).enumerate() {
            let i = ci * ROW_CHUNK + o;
            let base = &u[i * k..(i + 1) * k];
            for ((t, &bj), &sj) in urow.iter_mut().zip(base).zip(shift) {
                *t = *t + bj + sj;
            }
            let acc = relu_dot(urow, v);
            *qi = y[i] * acc.f();
        }
    };
    rows_pass(u2, q, k, par, pass);
}
