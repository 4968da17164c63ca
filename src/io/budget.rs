//! The memory budget: how many bytes one allocation driven by user input may take.
//!
//! Every size that comes from a user or a file (m, d, k, header lengths, decompressed
//! sizes, cluster counts) is turned into bytes with overflow-checked arithmetic and
//! checked against a [`MemoryBudget`] *before* anything is allocated, so a hostile or
//! mistaken size is refused with a one-line error that says how many bytes it needs,
//! instead of aborting the process. See docs/formats.md.
//!
//! The process-wide budget ([`MemoryBudget::global`]) defaults to the memory the machine
//! has available (`MemAvailable` in `/proc/meminfo`, further limited by the address-space
//! limit `ulimit -v` leaves), or 1 GiB where neither can be read; a command line sets
//! it with [`MemoryBudget::set_global`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use thiserror::Error;

/// A size refused by the memory budget, or one that overflows when counted in bytes.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BudgetError {
    /// The allocation would exceed the budget.
    #[error("{what} needs {needed} bytes, more than the memory budget of {budget} bytes (set it with --max-memory)")]
    Exceeded {
        /// What the memory was for.
        what: String,
        /// Bytes needed.
        needed: u64,
        /// The budget in force.
        budget: u64,
    },
    /// The size does not even fit in 64 bits.
    #[error("{what} needs more than 2^64 bytes (the sizes overflow)")]
    Overflow {
        /// What the memory was for.
        what: String,
    },
}

/// A limit, in bytes, on what one input-driven allocation may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    bytes: u64,
}

/// Budget used when the machine's available memory cannot be read (1 GiB).
pub const FALLBACK_BUDGET: u64 = 1 << 30;

/// 0 = not set (use the detected default).
static GLOBAL: AtomicU64 = AtomicU64::new(0);
static DETECTED: OnceLock<u64> = OnceLock::new();

impl MemoryBudget {
    /// A budget of `bytes` (at least 1).
    pub fn new(bytes: u64) -> MemoryBudget {
        MemoryBudget { bytes: bytes.max(1) }
    }

    /// No limit beyond what 64 bits can count.
    pub fn unlimited() -> MemoryBudget {
        MemoryBudget { bytes: u64::MAX }
    }

    /// The machine's available memory (`MemAvailable`), capped by what the address-space
    /// limit leaves; [`FALLBACK_BUDGET`] where neither can be read. Read once per process.
    pub fn detect() -> MemoryBudget {
        MemoryBudget::new(*DETECTED.get_or_init(detect_bytes))
    }

    /// The process-wide budget: the one set with [`MemoryBudget::set_global`], else
    /// [`MemoryBudget::detect`].
    pub fn global() -> MemoryBudget {
        match GLOBAL.load(Ordering::Relaxed) {
            0 => MemoryBudget::detect(),
            b => MemoryBudget::new(b),
        }
    }

    /// Sets the process-wide budget (e.g. from `--max-memory`).
    pub fn set_global(budget: MemoryBudget) {
        GLOBAL.store(budget.bytes, Ordering::Relaxed);
    }

    /// The limit in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Refuses `bytes` above the budget, naming `what` the memory is for.
    pub fn check(&self, what: &str, bytes: u64) -> Result<(), BudgetError> {
        if bytes > self.bytes {
            return Err(BudgetError::Exceeded { what: what.to_string(), needed: bytes, budget: self.bytes });
        }
        Ok(())
    }

    /// Bytes for `counts[0] · counts[1] · … · elem_size`, overflow-checked, and checked
    /// against the budget. Returns the byte count.
    pub fn check_array(&self, what: &str, counts: &[usize], elem_size: usize) -> Result<u64, BudgetError> {
        let bytes = array_bytes(counts, elem_size).ok_or_else(|| BudgetError::Overflow { what: what.to_string() })?;
        self.check(what, bytes)?;
        Ok(bytes)
    }

    /// Checks the sum of several byte counts (each already overflow-checked, e.g. from
    /// [`array_bytes`]); `None` among them means an overflow.
    pub fn check_total(&self, what: &str, parts: &[Option<u64>]) -> Result<u64, BudgetError> {
        let total = parts
            .iter()
            .try_fold(0u64, |acc, p| p.and_then(|p| acc.checked_add(p)))
            .ok_or_else(|| BudgetError::Overflow { what: what.to_string() })?;
        self.check(what, total)?;
        Ok(total)
    }

    /// A vector of `n` copies of `value`, after checking its bytes against the budget and
    /// reserving with `try_reserve_exact` (so even a size that passes the budget but not
    /// the allocator is an error, never an abort).
    pub fn vec<T: Clone>(&self, what: &str, n: usize, value: T) -> Result<Vec<T>, BudgetError> {
        let bytes = self.check_array(what, &[n], std::mem::size_of::<T>())?;
        let mut v = Vec::new();
        v.try_reserve_exact(n)
            .map_err(|_| BudgetError::Exceeded { what: what.to_string(), needed: bytes, budget: self.bytes })?;
        v.resize(n, value);
        Ok(v)
    }
}

impl std::str::FromStr for MemoryBudget {
    type Err = String;

    /// Parses a byte count as `--max-memory` takes it: a whole number of bytes with an
    /// optional unit `K`, `M`, `G`, `T` (powers of 1024; `KiB`, `MB`, `GiB`, … and lower
    /// case are accepted too), e.g. `8G`, `512MiB`, `1000000`. Zero is refused.
    fn from_str(text: &str) -> Result<MemoryBudget, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| format!("{text:?} is not a byte count (e.g. 8G, 512M, 1000000)"))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            other => return Err(format!("unknown unit {other:?} in {text:?} (use K, M, G or T)")),
        };
        let bytes = n.checked_mul(1u64 << shift).ok_or_else(|| format!("{text:?} does not fit in 64 bits"))?;
        if bytes == 0 {
            return Err("the memory budget must be at least 1 byte".into());
        }
        Ok(MemoryBudget::new(bytes))
    }
}

impl Default for MemoryBudget {
    fn default() -> MemoryBudget {
        MemoryBudget::global()
    }
}

/// `counts[0] · … · elem_size` in bytes, or `None` on overflow.
pub fn array_bytes(counts: &[usize], elem_size: usize) -> Option<u64> {
    counts.iter().try_fold(elem_size as u64, |acc, &c| acc.checked_mul(c as u64))
}

fn detect_bytes() -> u64 {
    let avail = proc_field("/proc/meminfo", "MemAvailable:").map(|kb| kb.saturating_mul(1024));
    let as_left = address_space_left();
    match (avail, as_left) {
        (Some(a), Some(l)) => a.min(l),
        (Some(a), None) => a,
        (None, Some(l)) => l.min(FALLBACK_BUDGET),
        (None, None) => FALLBACK_BUDGET,
    }
}

/// A `kB` field of a `/proc` file, e.g. `MemAvailable:  123 kB` → 123.
fn proc_field(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft address-space limit minus the address space already mapped, when limited.
fn address_space_left() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    let soft = line["Max address space".len()..].split_whitespace().next()?;
    let limit: u64 = soft.parse().ok()?; // "unlimited" → None
    let used = proc_field("/proc/self/status", "VmSize:").unwrap_or(0).saturating_mul(1024);
    Some(limit.saturating_sub(used))
}
