//! The sweep's JSONL store: one [`RunRecord`] per line in `runs-<i>-of-<n>.jsonl`, one
//! file per shard (docs/formats.md).
//!
//! A sweep appends to its shard's file through a [`ShardFile`], which holds an advisory
//! lock on it for the whole sweep, so a second process on the same shard is refused
//! with [`ExpError::Locked`]; different shards (a cluster's array jobs) lock different
//! files and never wait for each other. Each line is written and synced as its run
//! ends. Opening repairs a torn last line left by a killed sweep; reading skips a
//! damaged line inside a file and reports it as a [`Warning`], never as an error.

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::grid::{RunSpec, Shard};
use super::{io_err, ExpError};

/// What a finished run records (one JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's key.
    pub key: String,
    /// The run.
    pub spec: RunSpec,
    /// Iterations of training.
    pub iterations: u64,
    /// log10 of the final training loss.
    pub log10_loss: f64,
    /// Why training stopped (the trainer's stop-reason code).
    pub stop_reason: String,
    /// Smallest margin.
    pub q_min: f64,
    /// q_min / ‖θ‖².
    pub normalized_margin: f64,
    /// Training accuracy.
    pub accuracy: f64,
    /// Samples on the margin (q_i ≤ 1.1 q_min); `None` when the Figure-1 measurement
    /// failed (see `fig1_failure`).
    pub on_margin: Option<usize>,
    /// `on_margin / m`; `None` with `on_margin`.
    pub on_margin_fraction: Option<f64>,
    /// The Figure 1 perturbation size c*: `None` when no finite c flips all of I, or
    /// when the measurement failed (then `fig1_failure` says why).
    pub c_star: Option<f64>,
    /// Why the Figure-1 measurement failed (e.g. the trained net does not separate the
    /// data); such a run is counted but kept out of the c* and margin statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fig1_failure: Option<String>,
    /// √d.
    pub sqrt_d: f64,
    /// Seconds spent on the run.
    pub wall_seconds: f64,
    /// The measurement at the polished KKT point (grids with `at` = `kkt` or `both`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kkt: Option<KktPoint>,
}

impl RunRecord {
    /// Whether the run's Figure-1 measurement (at the trained network) succeeded.
    pub fn measured(&self) -> bool {
        self.fig1_failure.is_none()
    }
}

/// The Figure-1 measurement at the KKT point that `polish` finds near the trained
/// network's direction (docs/theorems.md, "polish").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KktPoint {
    /// How polishing ended (polish's status: `kkt` for a certified, verified point).
    pub polish_status: String,
    /// Certified ε_rel (L2) of the KKT point; `None` when none was certified.
    pub eps_rel: Option<f64>,
    /// ‖θ̂/‖θ̂‖ − θ*/‖θ*‖‖ between the trained and the KKT direction.
    pub distance: Option<f64>,
    /// c* at the KKT point (`None`: infinite, or not measured; see `failure`).
    pub c_star: Option<f64>,
    /// Samples on the margin at the KKT point (q_i ≤ 1.1 q_min); `None` if not measured.
    pub on_margin: Option<usize>,
    /// `on_margin / m`.
    pub on_margin_fraction: Option<f64>,
    /// Why there is no measurement at a KKT point (polish failed, or Figure 1 failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Seconds spent polishing and measuring.
    pub seconds: f64,
}

/// Something a reader or a sweep noticed but carried on past; the caller decides how
/// to show it.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// A line inside a run file that is not a record (damaged, or torn by an old
    /// interrupted write that was appended to): skipped.
    SkippedLine {
        /// The run file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why it is not a record.
        detail: String,
    },
    /// The file system refused advisory locks (some network file systems): the shard
    /// runs unlocked, so starting it twice is not detected.
    NoLock {
        /// The run file.
        path: PathBuf,
        /// The file system's answer.
        detail: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SkippedLine { path, line, detail } => {
                write!(f, "{}: line {line} is not a run record ({detail}); skipped", path.display())
            }
            Warning::NoLock { path, detail } => {
                write!(f, "{}: cannot lock ({detail}); a second sweep of this shard would not be detected", path.display())
            }
        }
    }
}

/// The records of a sweep directory and what was skipped reading them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Records {
    /// Every record, first occurrence of each key, in file order (shards sorted by name).
    pub records: Vec<RunRecord>,
    /// Damaged lines that were skipped.
    pub warnings: Vec<Warning>,
}

fn is_run_file(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("runs-") && n.ends_with(".jsonl"))
}

/// Reads every record in the run files of `dir` (all shards).
///
/// The last line of a file without its newline is a write in progress (or torn by a
/// kill) and is ignored silently; a line inside a file that is not a record is skipped
/// with a [`Warning::SkippedLine`]. A key seen twice keeps its first record.
pub fn read_records(dir: &Path) -> Result<Records, ExpError> {
    let mut out = Records::default();
    let mut seen = HashSet::new();
    let rd = std::fs::read_dir(dir).map_err(io_err(dir))?;
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| is_run_file(p)).collect();
    files.sort();
    for path in files {
        let bytes = crate::io::read_bytes(&path)?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let mut lines: Vec<(usize, &[u8])> = bytes[..complete].split(|&b| b == b'\n').enumerate().collect();
        let tail = &bytes[complete..];
        // A tail without its newline counts only when it is a whole record.
        let tail_is_record = !tail.is_empty() && serde_json::from_slice::<RunRecord>(tail).is_ok();
        if tail_is_record {
            lines.push((lines.len(), tail));
        }
        for (n, line) in lines {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<RunRecord>(line) {
                Ok(r) => {
                    if seen.insert(r.key.clone()) {
                        out.records.push(r);
                    }
                }
                Err(e) => out.warnings.push(Warning::SkippedLine { path: path.clone(), line: n + 1, detail: e.to_string() }),
            }
        }
    }
    Ok(out)
}

/// A shard's run file, open for appending and locked against other processes until
/// dropped.
#[derive(Debug)]
pub struct ShardFile {
    path: PathBuf,
    file: File,
}

impl ShardFile {
    /// Opens (creating it) and locks `shard`'s file in `dir`, then cuts off a torn last
    /// line left by an interrupted sweep. Refuses with [`ExpError::Locked`] when
    /// another process (or another `ShardFile`) holds the lock. Where the file system
    /// has no locks, opens unlocked and returns a [`Warning::NoLock`].
    pub fn open(dir: &Path, shard: Shard) -> Result<(ShardFile, Option<Warning>), ExpError> {
        let path = shard.file(dir);
        refuse_special(&path)?;
        let file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io_err(&path))?;
        let warning = match fs4::FileExt::try_lock(&file) {
            Ok(()) => None,
            Err(fs4::TryLockError::WouldBlock) => return Err(ExpError::Locked { path }),
            Err(fs4::TryLockError::Error(e)) if lock_unsupported(&e) => Some(Warning::NoLock { path: path.clone(), detail: e.to_string() }),
            Err(fs4::TryLockError::Error(e)) => return Err(ExpError::Io { path, source: e }),
        };
        let mut me = ShardFile { path, file };
        me.cut_torn_tail()?;
        Ok((me, warning))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cut_torn_tail(&mut self) -> Result<(), ExpError> {
        let mut text = Vec::new();
        (&self.file).read_to_end(&mut text).map_err(io_err(&self.path))?;
        if text.is_empty() || text.last() == Some(&b'\n') {
            return Ok(());
        }
        let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        if serde_json::from_slice::<RunRecord>(&text[keep..]).is_ok() {
            // A whole record that lost only its newline: keep it.
            return self.file.write_all(b"\n").map_err(io_err(&self.path));
        }
        self.file.set_len(keep as u64).map_err(io_err(&self.path))
    }

    /// Appends one record as a line and syncs it to disk.
    pub fn append(&mut self, rec: &RunRecord) -> Result<(), ExpError> {
        let mut line = serde_json::to_string(rec).map_err(|e| ExpError::Content { path: self.path.clone(), detail: e.to_string() })?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))
    }
}

/// Whether a lock failed because the file system has no locks: `Unsupported`, and on
/// Linux also ENOLCK (37: no lock manager, e.g. NFS without lockd) and EOPNOTSUPP (95).
fn lock_unsupported(e: &std::io::Error) -> bool {
    const NO_LOCKS: &[i32] = if cfg!(target_os = "linux") { &[37, 95] } else { &[] };
    e.kind() == std::io::ErrorKind::Unsupported || e.raw_os_error().is_some_and(|c| NO_LOCKS.contains(&c))
}

/// Refuses a path that exists but is not a regular file (a FIFO would block the sweep,
/// a device would be read forever), from its metadata, without opening it.
fn refuse_special(path: &Path) -> Result<(), ExpError> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => Err(ExpError::Content {
            path: path.to_path_buf(),
            detail: "not a regular file (a FIFO, device or directory); refusing to open it".into(),
        }),
        _ => Ok(()),
    }
}

/// Takes a blocking exclusive lock on `path` (created if needed), released when the
/// returned file is dropped. Where the file system has no locks, returns the file
/// unlocked.
pub(crate) fn lock_blocking(path: &Path) -> Result<File, ExpError> {
    refuse_special(path)?;
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io_err(path))?;
    match fs4::FileExt::lock(&file) {
        Err(e) if !lock_unsupported(&e) => Err(ExpError::Io { path: path.to_path_buf(), source: e }),
        _ => Ok(file),
    }
}

/// Writes all records into `dir/runs.jsonl` (atomically) and returns its path.
pub fn write_merged(dir: &Path, records: &[RunRecord]) -> Result<PathBuf, ExpError> {
    let path = dir.join("runs.jsonl");
    let mut s = String::new();
    for r in records {
        s.push_str(&serde_json::to_string(r).map_err(|e| ExpError::Content { path: path.clone(), detail: e.to_string() })?);
        s.push('\n');
    }
    crate::io::write_atomic(&path, s.as_bytes())?;
    Ok(path)
}
