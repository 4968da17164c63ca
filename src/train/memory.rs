//! How much memory a training run allocates, computed with overflow-checked arithmetic
//! before anything is allocated, and the refusal of a run above the budget
//! ([`TrainSettings::max_memory`]).

use super::engine::Mode;
use super::settings::{Precision, TrainSettings};
use super::stepper::choose_mode;
use super::TrainError;

/// Bytes that [`train`](super::train) allocates for m samples of dimension d and width
/// k with `settings` (kernel buffers, the parameters, the returned networks), not
/// counting the dataset itself; `None` when the count overflows a `u64`.
///
/// Direct kernel: the data in the training precision (m·d), the pre-activations and
/// the gradient block (m·k each), the parameters and their proposal. Gram kernel: in
/// addition K = X Xᵀ (m·m), its active rows, and the accumulated update C (m·k).
pub fn memory_estimate(m: usize, d: usize, k: usize, settings: &TrainSettings) -> Option<u64> {
    let (m, d, k) = (m as u64, d as u64, k as u64);
    let t: u64 = match settings.dtype {
        Precision::F64 => 8,
        Precision::F32 => 4,
    };
    let batch = settings.batch.map_or(m, |b| (b as u64).min(m));
    let md = m.checked_mul(d)?;
    let mk = m.checked_mul(k)?;
    let kd = k.checked_mul(d)?;
    let mode = choose_mode(settings.kernel, m as usize, d as usize, batch as usize, settings.refresh);
    // Engine: x, u, u2, g, gathered rows xs; w and its proposal; b, v (×2); q, q2, r.
    let mut elems = md.checked_mul(2)?.checked_add(mk.checked_mul(3)?)?.checked_add(kd.checked_mul(2)?)?;
    let mut bytes = elems.checked_mul(t)?;
    if mode == Mode::Gram {
        let mm = m.checked_mul(m)?;
        elems = mm.checked_mul(2)?.checked_add(mk)?;
        bytes = bytes.checked_add(elems.checked_mul(t)?)?;
    }
    // f64 vectors of length m (q, q2, r, y) and k (b, v, db, dv ×2).
    bytes = bytes.checked_add(m.checked_mul(4 * 8)?)?.checked_add(k.checked_mul(8 * 8)?)?;
    // Transient f64 copies while building the engine (x, w) and the networks handed back
    // (the initial, best and last networks: w, b, v in f64).
    bytes = bytes.checked_add(md.checked_mul(8)?)?.checked_add(kd.checked_add(2 * k)?.checked_mul(4 * 8)?)?;
    Some(bytes)
}

/// Refuses a run whose [`memory_estimate`] overflows or exceeds `settings.max_memory`;
/// returns the estimate.
pub fn check_memory(m: usize, d: usize, k: usize, settings: &TrainSettings) -> Result<u64, TrainError> {
    let needed = memory_estimate(m, d, k, settings).ok_or(TrainError::TooLarge { m, d, width: k })?;
    match settings.max_memory {
        Some(budget) if needed > budget => Err(TrainError::Memory { needed, budget }),
        _ => Ok(needed),
    }
}

/// The memory the system can still hand out (Linux: `MemAvailable` of `/proc/meminfo`),
/// the default budget of the command line; `None` where it cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}
