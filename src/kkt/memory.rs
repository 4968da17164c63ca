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
    /// Whether the support's inputs are copied (a proper subset of the samples).
    pub copy: bool,
}

fn mul(a: usize, b: usize) -> u128 {
    a as u128 * b as u128
}

/// Rows the LP generation may hold in its working set (the simplex stores one vector of
/// n + 1 entries per row): the loop stops, reporting ε as an upper bound, rather than
/// grow beyond it, so that [`estimate`] bounds what it allocates. L1 takes batches of
/// n + 2 rows and needed 1 747 rows on the trained (100, 1000, 100) net (BENCHMARKS.md),
/// L∞ 852 at n = 1 000.
pub(crate) fn working_set_cap(n: usize, norm: Norm) -> usize {
    let per = if norm == Norm::L1 { 24 } else { 4 };
    per * (n + 1) + 256
}

/// Bytes resident of faer's thread-local matrix-product packing buffers, which faer
/// reserves once per thread (64 MiB of address space) and touches only as far as a
/// product needs: packed panels at most 256 deep across an operand of n + 1 columns,
/// for three threads, and at most 2 MiB each (about 4 MB at n = 1 000, BENCHMARKS.md,
/// issue 12). Not seen by an allocator after the first call of a thread.
fn packing(n: usize) -> u128 {
    3 * (8 * mul(n + 1, 256)).min(2 << 20)
}

/// Estimated peak bytes of one solve beyond the network and the data (the problem, the
/// solver's matrices and the residual vectors), with overflow-free arithmetic; an upper
/// bound on what the solve allocates (tested against a counting allocator in
/// tests/kkt_memory.rs), by phases: building the problem, the L2 solve (the LP norms'
/// start), the LP generation (after K is freed) and the final residual.
pub(crate) fn estimate(norm: Norm, lp: LpMethod, s: Sizes) -> u128 {
    let Sizes { ns, k, d, params, amb, copy } = s;
    let n = ns + amb;
    let (f, p) = (8u128, params as u128);
    let block = super::problem::BLOCK;
    // Held throughout: the support's inputs when copied, the pattern bits, labels and
    // small per-sample and per-neuron vectors; with relaxed pairs also u (ns×k), the
    // x-Gram (ns²) and the pairs' lists.
    let inputs = if copy { mul(ns, d) } else { 0 };
    let mut held = f * (inputs + 8 * (n + k) as u128) + mul(ns, k) / 8 + 1024;
    if amb > 0 {
        held += f * (mul(ns, k) + mul(ns, ns)) + 48 * amb as u128;
    }
    let gram = f * mul(ns, ns);
    // Building K: the pattern (one byte per pair, freed after), blocks of 64 neurons or
    // samples (pre-activations, transposed weights, O, σ, an x-Gram tile) and, for a
    // proper support, the selected dataset's copy of the inputs.
    let build = gram + mul(ns, k) + f * (5 * mul(ns.max(d), block) + inputs);
    // The L2 solve on K: the NNLS's vectors (its free block's factor lives in K); with
    // pairs the coupled active set (per-neuron factors and W blocks of the free pairs,
    // the ns×ns Schur complement, its running sum and partial sums).
    let l2 = gram
        + if amb == 0 {
            f * 12 * n as u128
        } else {
            f * (10 * mul(ns, ns) + 2 * mul(amb, ns.min(amb.max(1))) + 4 * n as u128)
        };
    // A residual P-vector and θ̂ flattened for its norm, with a block of the product.
    let last = f * (2 * p + 3 * mul(ns.max(d), block)) + f * 4 * n as u128;
    let solve = match norm {
        Norm::L2 => l2.max(gram + last),
        Norm::Linf | Norm::L1 => match lp {
            // The dual simplex after K is freed: the basis inverse, one stored vector of
            // n + 1 entries per working-set row (chunks of 64), a dozen numbers per
            // column (the rows' two L∞ columns, the bound columns) and the pricing's
            // blocks; the starts' residual P-vectors (two), the working set's bits and,
            // for L1, the signs, their product Aᵀs (a k×d copy and an ns×k product).
            LpMethod::Generation => {
                let cap = working_set_cap(n, norm).div_ceil(super::simplex::CHUNK) * super::simplex::CHUNK;
                let cols = (2 * cap + 2 * n + 2) as u128;
                let simplex = f * (mul(n + 1, n + 1) + mul(cap, n + 1) + 12 * cols);
                let pricing = f * 4 * mul(ns.max(d), block) + p / 8;
                let l1 = if norm == Norm::L1 { 2 * f * p + f * mul(ns, k) + p } else { 0 };
                l2.max(simplex + pricing + 2 * f * p + l1).max(last)
            }
            // The explicit LP: every nonzero of the P×n matrix, twice (both signs).
            LpMethod::Explicit => gram + 2 * 64 * (mul(ns, k) * (d as u128 + 2) + mul(amb, d + 1)) + 200 * p,
        },
    };
    held + build.max(solve) + packing(n)
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
