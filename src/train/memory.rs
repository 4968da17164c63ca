//! How much memory a training run allocates, computed with overflow-checked arithmetic
//! before anything is allocated, and the refusal of a run above the budget
//! ([`TrainSettings::max_memory`], else the process-wide `io::MemoryBudget`).

use super::engine::{Mode, STORE_U_MAX_BYTES, TILE_ROWS};
use super::settings::{Precision, TrainSettings};
use super::stepper::choose_mode;
use super::TrainError;
use crate::io::{BudgetError, MemoryBudget};

/// Bytes that [`train`](super::train) allocates for m samples of dimension d and width
/// k with `settings` (kernel buffers, the parameters, the returned networks), not
/// counting the dataset itself, which f64 training reads in place; `None` when the count
/// overflows a `u64`.
///
/// Direct kernel: the pre-activations (m·k, or one tile of them above 64 MiB), tiles of the backward product, the
/// first-layer gradient and the parameters with their proposal (3·k·d). Gram kernel:
/// the pre-activations and their proposal, the gradient block and the accumulated
/// update C (4·m·k), K = X Xᵀ and its active rows (2·m·m). f32 training adds a converted
/// copy of the data (m·d).
pub fn memory_estimate(m: usize, d: usize, k: usize, settings: &TrainSettings) -> Option<u64> {
    let t: u64 = match settings.dtype {
        Precision::F64 => 8,
        Precision::F32 => 4,
    };
    let batch = settings.batch.map_or(m, |b| b.min(m));
    let mode = choose_mode(settings.kernel, m, d, batch, settings.refresh);
    let (m, d, k) = (m as u64, d as u64, k as u64);
    let mk = m.checked_mul(k)?;
    let kd = k.checked_mul(d)?;
    let mut elems = kd.checked_mul(3)?;
    match mode {
        Mode::Direct => {
            let tile = m.min(TILE_ROWS as u64);
            let stored = mk.checked_mul(t).is_some_and(|b| b <= STORE_U_MAX_BYTES as u64);
            let u = if stored { mk } else { tile.checked_mul(k)? };
            elems = elems.checked_add(u)?.checked_add(tile.checked_mul(k.checked_add(d)?)?)?;
        }
        Mode::Gram => {
            elems = elems.checked_add(mk.checked_mul(4)?)?.checked_add(m.checked_mul(m)?.checked_mul(2)?)?;
        }
    }
    if settings.dtype == Precision::F32 {
        elems = elems.checked_add(m.checked_mul(d)?)?;
    }
    let mut bytes = elems.checked_mul(t)?;
    // f64 vectors of length m (q, q2, r, y, active) and k (b, v and proposals, db, dv).
    bytes = bytes.checked_add(m.checked_mul(5 * 8)?)?.checked_add(k.checked_mul(8 * 8)?)?;
    // The f64 copy of w handed to the kernel, and the networks handed back (initial,
    // best, last: w, b, v in f64, and wᵀ and one block of the report's margin pass).
    bytes = bytes.checked_add(kd.checked_add(2 * k)?.checked_mul(5 * 8)?)?;
    bytes = bytes.checked_add(m.min(1024).checked_mul(k)?.checked_mul(8)?)?;
    Some(bytes)
}

/// Refuses a run whose [`memory_estimate`] overflows or exceeds the budget:
/// `settings.max_memory` when set, else the process-wide [`MemoryBudget::global`] (the
/// machine's available memory, or `--max-memory`). Returns the estimate.
pub fn check_memory(m: usize, d: usize, k: usize, settings: &TrainSettings) -> Result<u64, TrainError> {
    let what = format!("training width {k} on m = {m}, d = {d}");
    let needed = memory_estimate(m, d, k, settings).ok_or_else(|| BudgetError::Overflow { what: what.clone() })?;
    let budget = settings.max_memory.map_or_else(MemoryBudget::global, MemoryBudget::new);
    budget.check(&what, needed)?;
    Ok(needed)
}
