//! Fuzzes every file reader on stable Rust: `cargo run --release --example fuzz_readers
//! -- [INPUTS] [SEED]` (default 1,000,000 inputs, seed 1). Mutates the fixtures and
//! hand-built hostile files, feeds each input to the network, dataset, vector and JSON
//! readers (in memory, and every 8th from disk), and counts panics, allocations over the
//! memory budget, and the slowest input. Inputs are written under `$RELUCERT_FUZZ_DIR`
//! (default `target/fuzz_readers`), where failing inputs are kept. Exits non-zero on any failure; a hang or an
//! abort would stop it before the summary line.

mod engine;

#[global_allocator]
static ALLOC: engine::Counting = engine::Counting;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let corpus = engine::corpus(&fixtures);
    // Inputs are written here (and failures kept here): $RELUCERT_FUZZ_DIR, else
    // target/fuzz_readers (a tmpfs such as /dev/shm makes the run faster).
    let dir = std::env::var_os("RELUCERT_FUZZ_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("fuzz_readers"));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(2);
    }
    std::panic::set_hook(Box::new(|_| {}));
    let start = std::time::Instant::now();
    let mut stats = engine::Stats::default();
    let chunk = 100_000u64;
    let mut done = 0u64;
    while done < n {
        let k = chunk.min(n - done);
        engine::run(&corpus, k, seed.wrapping_mul(1_000_003).wrapping_add(done), &dir, 8, &mut stats);
        done += k;
        eprintln!(
            "{done} inputs, {} panics, {} over memory, {:.1} s, slowest {:.1} ms CPU",
            stats.panics,
            stats.over_memory,
            start.elapsed().as_secs_f64(),
            stats.slowest_ms
        );
    }
    let _ = std::panic::take_hook();
    println!(
        "fuzz_readers: {} inputs ({} corpus files, seed {seed}), {} reader calls, {} accepted; {} panics, {} over memory (budget {} B, largest allocation {} B, largest peak {} B), slowest input {:.1} ms CPU, {:.1} s",
        stats.inputs,
        corpus.len(),
        stats.calls,
        stats.accepted,
        stats.panics,
        stats.over_memory,
        engine::BUDGET,
        stats.largest_alloc,
        stats.largest_peak,
        stats.slowest_ms,
        start.elapsed().as_secs_f64()
    );
    for f in &stats.failures {
        println!("  {f}");
    }
    if stats.panics > 0 || stats.over_memory > 0 {
        std::process::exit(1);
    }
}
