//! The reader fuzzer's engine, shared by `examples/fuzz_readers` (long runs) and
//! `tests/hostile_inputs.rs` (a short run in CI plus hand-built malformed files).
//!
//! It mutates the fixtures and hand-built hostile seeds (bit flips, byte and integer
//! overwrites, truncation, insertions, splices, header-length and number edits, nesting),
//! feeds every result to every reader (in memory and, every few inputs, as a file on
//! disk), catches panics, and measures each input's allocations with [`Counting`], a
//! global allocator that records, per thread, the largest single allocation and the peak
//! of live bytes. An input fails when a reader panics, allocates more than the memory
//! budget in one piece, or holds more than [`PEAK_LIMIT`] bytes at once.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use relucert::data::Rng;
use relucert::io::{self, FileFormat, MemoryBudget};

/// The memory budget the fuzzer runs under.
pub const BUDGET: u64 = 64 << 20;
/// Most live bytes one input may hold at once.
pub const PEAK_LIMIT: usize = 256 << 20;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// A global allocator that counts, per thread, live bytes, their peak and the largest
/// single request.
pub struct Counting;

fn note_alloc(size: usize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + size as isize;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get() - size as isize));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the peak live bytes it added and its largest
/// single allocation (this thread only).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    LARGEST.with(|m| m.set(0));
    let out = f();
    let peak = PEAK.with(|p| p.get()) - base;
    (out, peak.max(0) as usize, LARGEST.with(|m| m.get()))
}

// ------------------------------------------------------------------------------------
// Hand-built files

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A zip archive of stored (uncompressed) entries; `claimed` overrides an entry's
/// uncompressed size in both headers (a lie, for hostile archives).
pub fn zip_stored(entries: &[(&str, Vec<u8>, Option<u32>)]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data, claimed) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let (csize, usize_) = (data.len() as u32, claimed.unwrap_or(data.len() as u32));
        let mut local = Vec::new();
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, method, time, date
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&csize.to_le_bytes());
        local.extend_from_slice(&usize_.to_le_bytes());
        local.extend_from_slice(&(name.len() as u16).to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&local);
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // made by, needed, flags, method, time, date
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&csize.to_le_bytes());
        central.extend_from_slice(&usize_.to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
        central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_len, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A version-1 `.npy` array with the given header text and data.
pub fn npy_raw(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A `.npy` array of f64 values with a NumPy-style header.
pub fn npy_f64(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
    let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {tuple}, }}\n");
    npy_raw(&header, &values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>())
}

/// Hostile seeds: each a file name (its extension picks the format) and bytes.
pub fn hostile_seeds() -> Vec<(String, Vec<u8>)> {
    let y = npy_f64(&[2], &[1.0, -1.0]);
    let x = npy_f64(&[2, 2], &[1.0, 0.0, 0.0, 1.0]);
    let mut v2 = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
    v2.extend_from_slice(&[b' '; 400]);
    // Claims 300,000,000 × 1 f64 (2.4 GB) in the zip directory and the header.
    let huge_header = "{'descr': '<f8', 'fortran_order': False, 'shape': (300000000, 1), }\n";
    let huge = npy_raw(huge_header, &[0u8; 64]);
    let huge_claim = 10 + huge_header.len() as u32 + 2_400_000_000;
    let st_header = br#"{"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,16]},"y":{"dtype":"F64","shape":[1],"data_offsets":[16,24]}}"#;
    let mut st = (st_header.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(st_header);
    st.extend_from_slice(&[0u8; 24]);
    vec![
        ("braces.npz".into(), zip_stored(&[("x.npy", npy_raw(&"{".repeat(40), &[]), None), ("y.npy", y.clone(), None)])),
        ("hlen.npz".into(), zip_stored(&[("x.npy", v2, None), ("y.npy", y.clone(), None)])),
        ("huge.npz".into(), zip_stored(&[("x.npy", huge, Some(huge_claim)), ("y.npy", y.clone(), None)])),
        ("ok.npz".into(), zip_stored(&[("x.npy", x, None), ("y.npy", y, None)])),
        ("bigd.json".into(), br#"{"format":"relucert/data@1","d":4294967296,"m":1,"x":[[1.0]],"y":[1]}"#.to_vec()),
        ("bigk.json".into(), br#"{"format":"relucert/net@1","d":1,"k":4294967296,"bias":false,"w":[[1.0]],"v":[1.0]}"#.to_vec()),
        ("huge.safetensors".into(), st),
    ]
}

/// The network and dataset that fuzzed KKT certificates (`kkt-cert*.json`) are verified
/// against: the exact KKT network on `fixtures/orthogonal-d8.json`.
static CERT_PAIR: std::sync::OnceLock<Option<(relucert::Net, relucert::Dataset)>> = std::sync::OnceLock::new();

fn cert_pair(fixtures: &Path) -> Option<&'static (relucert::Net, relucert::Dataset)> {
    CERT_PAIR
        .get_or_init(|| {
            let data = io::read_data(&fixtures.join("orthogonal-d8.json")).ok()?;
            let net = relucert::construct::orthogonal_kkt(&data).ok()?;
            Some((net, data))
        })
        .as_ref()
}

/// The fixtures (every file with a reader's extension), the hostile seeds, and a KKT
/// certificate of the orthogonal fixture.
pub fn corpus(fixtures: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = hostile_seeds();
    if let Some((net, data)) = cert_pair(fixtures) {
        let settings = relucert::kkt::KktSettings::default();
        if let Some(bytes) = relucert::kkt::certify(net, data, &settings).ok().and_then(|r| serde_json::to_vec_pretty(&r).ok()) {
            out.push(("kkt-cert.json".into(), bytes));
        }
    }
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names {
        if FileFormat::from_path(&p).is_ok() {
            if let (Some(name), Ok(bytes)) = (p.file_name(), std::fs::read(&p)) {
                out.push((name.to_string_lossy().into_owned(), bytes));
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------
// Mutation

const INTERESTING: [u64; 10] = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff, 1 << 32, u64::MAX];
const NUMBERS: [&str; 9] = ["4294967296", "18446744073709551616", "1e308", "-1", "0", "NaN", "1e999", "9999999999999", "-0"];
const TOKENS: [&str; 10] = ["[", "]", "{", "}", "(", ")", ",", "'", "\"", ":"];

/// One random edit (or a few) of `bytes`.
pub fn mutate(rng: &mut Rng, bytes: &[u8], others: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let rounds = 1 + rng.below(3) as usize;
    for _ in 0..rounds {
        let len = b.len();
        let pos = if len == 0 { 0 } else { rng.below(len as u64) as usize };
        match rng.below(11) {
            0 if len > 0 => b[pos] ^= 1 << rng.below(8),
            1 if len > 0 => b[pos] = INTERESTING[rng.below(5) as usize] as u8,
            2 => b.truncate(pos),
            3 => {
                // Overwrite a little-endian integer (a length field, a size, a count).
                let width = [2usize, 4, 8][rng.below(3) as usize];
                let v = INTERESTING[rng.below(INTERESTING.len() as u64) as usize].to_le_bytes();
                for (k, byte) in v.iter().take(width).enumerate() {
                    if let Some(t) = b.get_mut(pos + k) {
                        *t = *byte;
                    }
                }
            }
            4 => {
                let n = 1 + rng.below(16) as usize;
                let ins: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                b.splice(pos..pos, ins);
            }
            5 if len > 0 => {
                let end = (pos + 1 + rng.below(64) as usize).min(len);
                b.drain(pos..end);
            }
            6 if len > 0 => {
                // Duplicate a range (repeats rows, entries, headers).
                let end = (pos + 1 + rng.below(256) as usize).min(len);
                let chunk = b[pos..end].to_vec();
                b.splice(pos..pos, chunk);
            }
            7 => {
                // Replace a run of digits with a hostile number.
                if let Some(start) = (pos..len).find(|&i| b[i].is_ascii_digit()) {
                    let end = (start..len).find(|&i| !b[i].is_ascii_digit()).unwrap_or(len);
                    let num = NUMBERS[rng.below(NUMBERS.len() as u64) as usize];
                    b.splice(start..end, num.bytes());
                }
            }
            8 => {
                // Nesting: a run of one bracket token.
                let t = TOKENS[rng.below(TOKENS.len() as u64) as usize];
                let n = 1 + rng.below(200) as usize;
                b.splice(pos..pos, t.repeat(n).into_bytes());
            }
            9 if !others.is_empty() => {
                // Splice: our prefix with another file's suffix.
                let o = &others[rng.below(others.len() as u64) as usize].1;
                if !o.is_empty() {
                    let from = rng.below(o.len() as u64) as usize;
                    b.truncate(pos);
                    b.extend_from_slice(&o[from..]);
                }
            }
            _ if len > 0 => b[pos] = rng.next_u64() as u8,
            _ => b.push(rng.next_u64() as u8),
        }
    }
    b
}

// ------------------------------------------------------------------------------------
// Running

/// Tallies of a run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Inputs tried.
    pub inputs: u64,
    /// Reader calls made.
    pub calls: u64,
    /// Inputs some reader accepted.
    pub accepted: u64,
    /// Panics caught (each a bug).
    pub panics: u64,
    /// Inputs that allocated past the budget or the peak limit (each a bug).
    pub over_memory: u64,
    /// Largest single allocation seen, in bytes.
    pub largest_alloc: usize,
    /// Largest peak of live bytes for one input.
    pub largest_peak: usize,
    /// Slowest input, in milliseconds of this thread's CPU time (so a loaded machine does
    /// not inflate it; a hang shows here or never returns). Kept as `slowest-<name>`.
    pub slowest_ms: f64,
    /// First few failures, described.
    pub failures: Vec<String>,
}

/// Feeds one input to every reader: in memory always, and from a file in `dir` when
/// given. Returns whether any reader accepted it.
pub fn feed(name: &str, bytes: &[u8], dir: Option<&Path>) -> (bool, u64) {
    let Ok(format) = FileFormat::from_path(Path::new(name)) else { return (false, 0) };
    let mut ok = io::parse_net(name, format, bytes).is_ok();
    ok |= io::parse_data(name, format, bytes).is_ok();
    let mut calls = 2;
    if name.starts_with("kkt-cert") {
        // The certificate reader: parse a report, then verify it independently.
        calls += 1;
        if let (Ok(report), Some((net, data))) = (serde_json::from_slice::<relucert::kkt::KktReport>(bytes), CERT_PAIR.get().and_then(|p| p.as_ref())) {
            calls += 1;
            ok |= relucert::kkt::verify(net, data, &report).is_ok();
        }
    }
    if let Some(dir) = dir {
        let p = dir.join(name);
        if std::fs::write(&p, bytes).is_ok() {
            ok |= io::read_net(&p).is_ok();
            ok |= io::read_data(&p).is_ok();
            ok |= io::read_vector(&p, 2).is_ok();
            ok |= io::read_json::<serde_json::Value>(&p).is_ok();
            ok |= io::file_sha256(&p).is_ok();
            calls += 5;
        }
    }
    (ok, calls)
}

/// This thread's CPU time in milliseconds.
pub fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 * 1e-6
}

/// Runs `n` mutated inputs from `seed`, writing every `file_every`-th as a file in `dir`.
pub fn run(corpus: &[(String, Vec<u8>)], n: u64, seed: u64, dir: &Path, file_every: u64, stats: &mut Stats) {
    MemoryBudget::set_global(MemoryBudget::new(BUDGET));
    let mut rng = Rng::seed_from_u64(seed);
    for i in 0..n {
        let (name, base) = &corpus[rng.below(corpus.len() as u64) as usize];
        let input = if i % 16 == 0 { base.clone() } else { mutate(&mut rng, base, corpus) };
        let on_disk = (file_every > 0 && i % file_every == 0).then_some(dir);
        let start = thread_cpu_ms();
        let (res, peak, largest) = measure(|| std::panic::catch_unwind(|| feed(name, &input, on_disk)));
        let ms = thread_cpu_ms() - start;
        if ms > stats.slowest_ms {
            stats.slowest_ms = ms;
            let _ = std::fs::write(dir.join(format!("slowest-{name}")), &input);
        }
        stats.inputs += 1;
        stats.largest_alloc = stats.largest_alloc.max(largest);
        stats.largest_peak = stats.largest_peak.max(peak);
        let mut fail = None;
        match res {
            Ok((ok, calls)) => {
                stats.calls += calls;
                stats.accepted += ok as u64;
            }
            Err(_) => {
                stats.panics += 1;
                fail = Some("panic");
            }
        }
        if largest as u64 > BUDGET || peak > PEAK_LIMIT {
            stats.over_memory += 1;
            fail = Some("memory");
        }
        if let Some(kind) = fail {
            if stats.failures.len() < 10 {
                let path = dir.join(format!("failure-{}-{name}", stats.failures.len()));
                let _ = std::fs::write(&path, &input);
                stats.failures.push(format!("{kind} on {name} (saved as {}), largest alloc {largest}, peak {peak}", path.display()));
            }
        }
    }
}
