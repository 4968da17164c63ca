//! Hostile and malformed inputs: every reader refuses them with a one-line error, quickly,
//! without allocating more than the memory budget, and never blocks on a FIFO. Ends with
//! a short run of the reader fuzzer (examples/fuzz_readers).
//!
//! Each case runs on a worker thread with a 10 s watchdog, so a hang fails the test
//! instead of stalling CI. Allocations are measured per thread by the fuzzer's counting
//! allocator.

#[path = "../examples/fuzz_readers/engine.rs"]
mod engine;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use relucert::data::{DataError, Generator};
use relucert::io::{self, BudgetError, FileFormat, IoError, IoProblem, MemoryBudget};

#[global_allocator]
static ALLOC: engine::Counting = engine::Counting;

/// Runs `f` on a worker thread; fails if it takes more than 10 s. Returns the result, the
/// peak live bytes and the largest single allocation of the worker.
fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> (T, usize, usize) {
    MemoryBudget::set_global(MemoryBudget::new(engine::BUDGET));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(engine::measure(f));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => r,
        Err(_) => panic!("{what}: no answer within 10 s (a hang)"),
    }
}

/// Expects a refusal whose one-line message contains `needle`, within the budget.
fn refused<T: Send + 'static>(what: &str, needle: &str, f: impl FnOnce() -> Result<T, IoError> + Send + 'static) {
    let (r, peak, largest) = guarded(what, f);
    let msg = match r {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "{what}: message is not one line: {msg}");
    assert!(msg.to_lowercase().contains(&needle.to_lowercase()), "{what}: {msg:?} lacks {needle:?}");
    assert!(largest as u64 <= engine::BUDGET, "{what}: allocated {largest} bytes at once");
    assert!(peak <= engine::PEAK_LIMIT, "{what}: peak {peak} bytes");
}

fn seed(name: &str) -> Vec<u8> {
    engine::hostile_seeds().into_iter().find(|(n, _)| n == name).map(|(_, b)| b).expect("seed")
}

fn tmp_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn npz_with_nested_braces_header_is_refused_at_once() {
    // npyz's parser took seconds for 14 braces and tripled with each one; this has 40.
    refused("braces", "malformed .npy header", || io::parse_data("b.npz", FileFormat::Npz, &seed("braces.npz")));
}

#[test]
fn npz_header_length_ffffffff_is_refused_before_allocating() {
    refused("hlen", "header length 4294967295", || io::parse_data("h.npz", FileFormat::Npz, &seed("hlen.npz")));
}

#[test]
fn npz_claiming_300000000_rows_is_refused_before_inflating() {
    // The zip directory and the header agree on 2.4 GB: the budget refuses it, naming the bytes.
    refused("huge npz", "needs 4800000000 bytes", || io::parse_data("u.npz", FileFormat::Npz, &seed("huge.npz")));
    let dir = tempfile::tempdir().expect("tmp");
    let p = tmp_file(dir.path(), "u.npz", &seed("huge.npz"));
    refused("huge npz file", "memory budget", move || io::read_data(&p));
}

#[test]
fn npz_whose_header_disagrees_with_the_entry_size_is_refused() {
    // Header says [300000000, 1] but the zip entry holds 64 bytes of data.
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (300000000, 1), }\n";
    let npz = engine::zip_stored(&[
        ("x.npy", engine::npy_raw(header, &[0u8; 64]), None),
        ("y.npy", engine::npy_f64(&[1], &[1.0]), None),
    ]);
    refused("lying npz", "needs 2400000000 bytes of data", move || io::parse_data("l.npz", FileFormat::Npz, &npz));
    // A hand-built valid archive is read (the builder is sound).
    let (r, _, _) = guarded("ok npz", || io::parse_data("ok.npz", FileFormat::Npz, &seed("ok.npz")));
    assert_eq!(r.expect("valid npz").m(), 2);
}

#[test]
fn json_declaring_huge_sizes_allocates_nothing_for_them() {
    refused("bigd", "shape", || io::parse_data("d.json", FileFormat::Json, &seed("bigd.json")));
    refused("bigk", "shape", || io::parse_net("k.json", FileFormat::Json, &seed("bigk.json")));
}

#[test]
fn safetensors_whose_length_disagrees_with_its_header_is_refused_from_the_header() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut bytes = seed("huge.safetensors");
    let p = tmp_file(dir.path(), "h.safetensors", &bytes);
    refused("huge safetensors", "safetensors", move || io::read_data(&p));
    bytes.extend_from_slice(&[0; 1000]);
    let q = tmp_file(dir.path(), "long.safetensors", &bytes);
    refused("long safetensors", "header declares", move || io::read_data(&q));
}

#[cfg(unix)]
#[test]
fn fifo_device_and_directory_are_refused_without_reading() {
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("pipe.json");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let zero = dir.path().join("zero.npz");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let sub = dir.path().join("folder.json");
    std::fs::create_dir(&sub).expect("mkdir");
    for (p, kind) in [(fifo, "FIFO"), (zero, "character device"), (sub, "directory")] {
        let (a, b, c, d, e) = (p.clone(), p.clone(), p.clone(), p.clone(), p.clone());
        refused("read_net", kind, move || io::read_net(&a));
        refused("read_data", kind, move || io::read_data(&b));
        refused("read_vector", kind, move || io::read_vector(&c, 3));
        refused("read_json", kind, move || io::read_json::<serde_json::Value>(&d));
        refused("file_sha256", kind, move || io::file_sha256(&e));
    }
}

#[test]
fn sparse_5gb_file_is_refused_from_its_metadata() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in ["big.json", "big.safetensors", "big.npz"] {
        let p = dir.path().join(name);
        let f = std::fs::File::create(&p).expect("create");
        if f.set_len(5 << 30).is_err() {
            return; // a filesystem without sparse files: nothing to test
        }
        let (a, b, c) = (p.clone(), p.clone(), p.clone());
        refused(name, "bytes", move || io::read_data(&a));
        refused(name, "bytes", move || io::read_net(&b));
        refused(name, "bytes", move || io::file_sha256(&c));
    }
}

#[test]
fn vector_file_longer_than_its_dimension_allows_is_refused_from_metadata() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("u.json");
    std::fs::File::create(&p).expect("create").set_len(io::max_vector_file_bytes(3) + 1).expect("set_len");
    refused("long vector", "more than", move || io::read_vector(&p, 3));
}

fn gen_refused(what: &str, g: Generator, d: usize, m: usize, want_overflow: bool) {
    let (r, _, largest) = guarded(what, move || g.generate(d, m, 1));
    match r {
        Err(DataError::Budget(BudgetError::Overflow { .. })) if want_overflow => {}
        Err(DataError::Budget(BudgetError::Exceeded { needed, budget, .. })) if !want_overflow => {
            assert!(needed > budget, "{what}");
            assert_eq!(Some(needed), g.bytes_needed(d, m), "{what}: the error names the bytes needed");
        }
        other => panic!("{what}: {other:?}"),
    }
    assert!(largest as u64 <= engine::BUDGET, "{what}: allocated {largest}");
}

#[test]
fn generators_refuse_sizes_beyond_the_budget_or_overflowing() {
    gen_refused("sphere 1e9 x 1e9", Generator::Sphere, 1_000_000_000, 1_000_000_000, false);
    gen_refused("gaussian 1e9", Generator::GAUSSIAN, 1_000_000_000, 1, false);
    gen_refused("orthogonal", Generator::Orthogonal, 100_000_000, 100_000_000, false);
    // m·d would wrap to 2^32 without checks.
    if usize::BITS == 64 {
        gen_refused("m·d overflow", Generator::Sphere, 1 << 32, (1 << 32) + 1, true);
        gen_refused("clusters 1e12", Generator::Clusters { clusters: 1_000_000_000_000, noise: 0.5 }, 100, 10, false);
    }
    // Within the budget the generator still works and is unchanged.
    let (r, _, _) = guarded("small", || Generator::Sphere.generate(5, 7, 3));
    assert_eq!(r.expect("small data").m(), 7);
    // An explicit budget is honoured.
    let tight = MemoryBudget::new(1000);
    assert!(matches!(Generator::Sphere.generate_within(100, 100, 1, &tight), Err(DataError::Budget(_))));
}

#[test]
fn budget_checks_are_overflow_checked() {
    let b = MemoryBudget::new(1 << 20);
    assert!(matches!(b.check_array("x", &[usize::MAX, 2], 8), Err(BudgetError::Overflow { .. })));
    assert_eq!(b.check_array("x", &[1024, 16], 8), Ok(131_072));
    assert!(matches!(b.vec("x", 1 << 20, 0.0f64), Err(BudgetError::Exceeded { needed: 8_388_608, .. })));
    assert_eq!(b.vec("x", 3, 1u8).expect("small"), vec![1, 1, 1]);
    assert!(MemoryBudget::detect().bytes() > 0);
    assert_eq!("8G".parse::<MemoryBudget>().map(|b| b.bytes()), Ok(8 << 30));
    assert_eq!("512MiB".parse::<MemoryBudget>().map(|b| b.bytes()), Ok(512 << 20));
    assert_eq!("1000".parse::<MemoryBudget>().map(|b| b.bytes()), Ok(1000));
    for bad in ["", "0", "-1", "1.5G", "8X", "99999999999T"] {
        assert!(bad.parse::<MemoryBudget>().is_err(), "{bad}");
    }
    let msg = BudgetError::Exceeded { what: "w".into(), needed: 10, budget: 5 }.to_string();
    assert!(msg.contains("needs 10 bytes") && msg.contains("--max-memory"), "{msg}");
}

/// A short fuzz run (the long run is `cargo run --release --example fuzz_readers`).
#[test]
fn fuzz_readers_short_run() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let corpus = engine::corpus(&fixtures);
    let dir = tempfile::tempdir().expect("tmp");
    let dir_path = dir.path().to_path_buf();
    let (stats, _, _) = {
        MemoryBudget::set_global(MemoryBudget::new(engine::BUDGET));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut stats = engine::Stats::default();
            engine::run(&corpus, 10_000, 7, &dir_path, 16, &mut stats);
            let _ = tx.send(stats);
        });
        (rx.recv_timeout(Duration::from_secs(120)).expect("fuzz run finished"), 0, 0)
    };
    assert_eq!(stats.inputs, 10_000);
    assert_eq!(stats.panics, 0, "{:?}", stats.failures);
    assert_eq!(stats.over_memory, 0, "{:?}", stats.failures);
    assert!(stats.accepted > 0, "the unmutated seeds are read");
}

#[test]
fn errors_name_the_problem_type() {
    // IoProblem is the io error kind (kkt has its own Problem).
    let e = io::parse_data("x.json", FileFormat::Json, b"{}").unwrap_err();
    assert!(matches!(e.problem, IoProblem::Json(_)));
}

/// Runs the binary; returns (exit code, stderr).
fn relucert(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_relucert")).args(args).output().expect("run relucert");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn cli_refuses_huge_sizes_and_fifos_with_one_line_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("d.json");
    let o = out.to_str().expect("utf-8 path");
    for args in [
        vec!["gen", "sphere", "--d", "1000000000", "--m", "1000000000", "-o", o],
        vec!["gen", "sphere", "--d", "4294967296", "--m", "4294967297", "-o", o],
        vec!["gen", "clusters", "--clusters", "1000000000000", "--d", "10", "--m", "10", "-o", o],
        vec!["gen", "sphere", "--d", "100", "--m", "100", "--max-memory", "1K", "-o", o],
    ] {
        let (code, err) = relucert(&args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("bytes"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote a file");
    }
    let (code, err) = relucert(&["gen", "sphere", "--d", "3", "--m", "2", "--max-memory", "lots", "-o", o]);
    assert_eq!(code, Some(2), "a bad --max-memory is a usage error: {err}");
    #[cfg(unix)]
    {
        let fifo = dir.path().join("pipe.json");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        let f = fifo.to_str().expect("utf-8 path");
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sphere-d50-m10.json");
        let net = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/trained-d50-m10-k50.json");
        let (tx, rx) = mpsc::channel();
        let f2 = f.to_string();
        std::thread::spawn(move || {
            let _ = tx.send((relucert(&["eval", "--net", &f2, "--data", data]), relucert(&["eval", "--net", net, "--data", &f2])));
        });
        let ((c1, e1), (c2, e2)) = rx.recv_timeout(Duration::from_secs(10)).expect("a FIFO input blocked the CLI");
        assert_eq!((c1, c2), (Some(1), Some(1)), "{e1} {e2}");
        assert!(e1.contains("FIFO") && e2.contains("FIFO"), "{e1} {e2}");
    }
}
