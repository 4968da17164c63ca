//! The KKT memory estimate against a counting allocator: for every norm, with and
//! without relaxed pairs, on a few sizes, the bytes a refusal names are at least the
//! peak the certificate allocates beyond what existed before it (never a late refusal)
//! and at most 6× it (no refusal of a solve that fits many times over): L∞ and L2
//! without pairs about 2.5–3.7×; L1's working-set cap and the coupled solver's bound are
//! looser.

#[path = "../benches/kkt_support/instance.rs"]
mod instance;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use relucert::kkt::{self, KktError, KktSettings, Norm, Support};

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The bytes a refusal under `budget` names, or None if the solve fits.
fn refusal(net: &relucert::Net, data: &relucert::Dataset, s: &KktSettings, budget: u64) -> Option<u64> {
    match kkt::certify(net, data, &KktSettings { max_memory: Some(budget), ..s.clone() }) {
        Err(KktError::Memory { needed, .. }) => Some(needed),
        Ok(_) => None,
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// The peak bytes allocated by `certify` beyond those live before it, and the bytes of
/// its estimate: the first refusal counts no ambiguous pairs (before the pattern is
/// known), the second, under the first's budget, counts them.
fn measure(net: &relucert::Net, data: &relucert::Dataset, s: &KktSettings) -> (usize, u64) {
    let first = refusal(net, data, s, 1).expect("a budget of 1 byte is refused");
    let needed = refusal(net, data, s, first).unwrap_or(first);
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let rep = kkt::certify(net, data, s).expect("certify");
    assert!(rep.eps.is_finite());
    (PEAK.load(Ordering::SeqCst) - base, needed)
}

/// faer reserves a packing buffer (64 MiB of address space, resident only as far as it
/// is touched) per thread on the first product that thread runs. The coupled solver
/// multiplies on rayon's workers, and which worker runs its first product varies from
/// run to run, so every worker (and this thread) runs one product before anything is
/// measured; otherwise a measurement may count a worker's reservation (a CI run once
/// saw a 70 MB "peak" that way).
fn reserve_faer_buffers() {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, Mat, Par};
    let product = || {
        let a = Mat::<f64>::from_fn(256, 256, |i, j| (i + j) as f64);
        let mut c = Mat::<f64>::zeros(256, 256);
        matmul(c.as_mut(), Accum::Replace, a.as_ref(), a.as_ref(), 1.0, Par::Seq);
        std::hint::black_box(&c);
    };
    product();
    rayon::broadcast(|_| product());
}

/// The whole check in one test, so that no other test allocates meanwhile.
#[test]
fn estimate_bounds_the_allocated_peak_within_a_small_factor() {
    reserve_faer_buffers();
    let mut bad = Vec::new();
    for (m, k, d) in [(40, 60, 30), (150, 120, 80), (300, 200, 150)] {
        let (net, data) = instance::instance(m, k, d, 2022);
        let all = |norm| KktSettings { norm, support: Support::All, tau_ladder: vec![], ..KktSettings::default() };
        let cases = [
            ("l2", all(Norm::L2)),
            ("linf", all(Norm::Linf)),
            ("l1", all(Norm::L1)),
            ("l2 tau=1e-2", KktSettings { tau: 1e-2, ..all(Norm::L2) }),
            ("linf tau=1e-3", KktSettings { tau: 1e-3, ..all(Norm::Linf) }),
        ];
        for (name, s) in cases {
            // The first call in a thread reserves faer's packing buffer (64 MiB of
            // address space, touched only as far as used; the estimate counts its
            // resident part): measure the second.
            measure(&net, &data, &s);
            let (peak, needed) = measure(&net, &data, &s);
            eprintln!("({m}, {k}, {d}) {name}: peak {peak} B, estimate {needed} B, ratio {:.2}", needed as f64 / peak as f64);
            if needed < peak as u64 || needed as f64 > 6.0 * peak as f64 {
                bad.push(format!("({m}, {k}, {d}) {name}: estimate {needed} B, peak {peak} B"));
            }
        }
    }
    assert!(bad.is_empty(), "estimates below the peak or over 6× it: {bad:#?}");
}

/// The same at the paper's scale, L∞ at m = k = d = 1000 (about 20 s in release mode:
/// `cargo test --release --test kkt_memory -- --ignored`).
#[test]
#[ignore]
fn estimate_bounds_the_peak_at_paper_scale() {
    let (net, data) = instance::instance(1000, 1000, 1000, 2022);
    let s = KktSettings { norm: Norm::Linf, support: Support::All, tau_ladder: vec![], ..KktSettings::default() };
    reserve_faer_buffers();
    let (peak, needed) = measure(&net, &data, &s);
    eprintln!("(1000, 1000, 1000) linf: peak {peak} B, estimate {needed} B, ratio {:.2}", needed as f64 / peak as f64);
    assert!(needed >= peak as u64 && needed as f64 <= 6.0 * peak as f64, "estimate {needed} B, peak {peak} B");
}
