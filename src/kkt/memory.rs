//! Memory estimates of one KKT solve, checked against a budget before anything large
//! is allocated: a solve that would not fit is refused with the bytes it needs
//! ([`super::KktError::Memory`]) instead of being killed by the operating system.
//! The budget is [`super::KktSettings::max_memory`], or else the process-wide
//! [`MemoryBudget::global`] (`--max-memory`, else the machine's available memory).

use super::{KktError, LpMethod, Norm};
use crate::io::MemoryBudget;

/// Sizes that drive the memory of one solve.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    /// Support samples.
    pub ns: usize,
    /// Width.
    pub k: usize,
    /// Input dimension.
    pub d: usize,
    /// Parameters P.
    pub params: usize,
    /// Ambiguous pairs.
    pub amb: usize,
}

fn mul(a: usize, b: usize) -> u128 {
    a as u128 * b as u128
}

/// Estimated peak bytes of one solve (the problem data, the solver's matrices and the
/// residual vectors), with overflow-free arithmetic.
pub(crate) fn estimate(norm: Norm, lp: LpMethod, s: Sizes) -> u128 {
    let Sizes { ns, k, d, params, amb } = s;
    let n = ns + amb;
    // Problem data: support inputs (twice: the selection and the copy), u, σ, the
    // pattern and the products that build K, x-Gram, K and the factorisation's copies.
    let problem = 8 * (2 * mul(ns, d) + 5 * mul(ns, k) + 7 * mul(ns, ns)) + 24 * amb as u128;
    // Residuals and θ̂ (several P-vectors).
    let vectors = 8 * 6 * params as u128;
    let solver = match norm {
        // The coupled active-set solver: per-neuron factors and W blocks of the free
        // pairs (at most amb·ns each), the ns×ns Schur complement, its running sum and
        // four partial sums; with no pairs, the NNLS's free block.
        Norm::L2 => 8 * (10 * mul(ns, ns) + 2 * mul(amb, ns.min(amb.max(1))) + 4 * n as u128),
        Norm::Linf | Norm::L1 => match lp {
            // The dual simplex: one dense vector of n + 1 entries per row of a working
            // set of up to a few times n rows (the two L∞ columns of a row share it)
            // plus the bound columns, the basis inverse and the refactorisation's two
            // copies; θ̂ and a round's residual, and two flags per parameter.
            LpMethod::Generation => {
                8 * mul((8 * n + 256) + 3 * n + 2, n + 1) + 24 * mul(n + 1, n + 1) + 18 * params as u128
            }
            // The explicit LP: every nonzero of the P×n matrix, twice (both signs).
            LpMethod::Explicit => 2 * 64 * (mul(ns, k) * (d as u128 + 2) + mul(amb, d + 1)) + 200 * params as u128,
        },
    };
    problem + vectors + solver
}

/// Refuses an estimate above the budget (`budget`, else [`MemoryBudget::global`]).
pub(crate) fn check(what: &str, needed: u128, budget: Option<u64>) -> Result<(), KktError> {
    let budget = budget.unwrap_or_else(|| MemoryBudget::global().bytes());
    if needed > budget as u128 {
        return Err(KktError::Memory { what: what.to_string(), needed: u64::try_from(needed).unwrap_or(u64::MAX), budget });
    }
    Ok(())
}

/// Hands the allocator's free pages back to the operating system, between the phases of
/// a solve that free large blocks (docs/kkt.md, "LP norms"). glibc serves blocks below
/// its adaptive mmap threshold (which rises to the size of the largest block freed, so
/// after the first free of an ns×k matrix, all of them) from its heap, and returns only
/// the top of that heap by itself: a freed matrix in the middle stayed resident. No-op
/// on other platforms.
pub(crate) fn return_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only releases free memory of the
    // allocator that Rust's System allocator uses on this target.
    unsafe {
        libc::malloc_trim(0);
    }
}
