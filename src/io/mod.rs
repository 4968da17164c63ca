//! Files: networks and datasets in JSON, safetensors and NumPy `.npz`, reports in JSON,
//! and atomic writes for every file the toolkit produces (see docs/formats.md).
//!
//! The format is chosen by the file extension: `.json`, `.safetensors` (or `.st`), `.npz`.
//! This module owns the public entry points ([`read_net`], [`write_net`], [`read_data`],
//! [`write_data`], [`read_vector`], [`parse_net`], [`parse_data`]) and the error type;
//! the submodules own one format or concern each:
//!
//! * [`tags`] — every `"format"` tag (`relucert/net@1`, …);
//! * [`budget`] — the memory budget every input-driven allocation is checked against;
//! * `file` — regular-file checks, bounded reads, atomic writes, hashes;
//! * `json` — JSON networks and datasets; `tensors` — assembling them from tensors;
//! * `st` — safetensors; `npz` and `npy` — NumPy archives and their array headers.
//!
//! Every reader validates before it trusts: what the path is (a regular file, not a FIFO
//! or device), its size, format version, shapes, dtypes, finiteness and labels; sizes
//! are checked against the file's length and the memory budget before allocating. Errors
//! are one line and name the file: see [`IoError`].

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::data::{DataError, Dataset};
use crate::net::{Net, NetError};

pub mod budget;
mod file;
mod json;
mod npy;
mod npz;
mod st;
pub mod tags;
mod tensors;

pub use budget::{BudgetError, MemoryBudget};
pub use file::{
    file_sha256, open_regular, read_bytes, read_bytes_limited, read_json, sha256_hex, write_atomic, write_atomic_with,
    write_json, InputFile, MAX_FILE_BYTES,
};
pub use tensors::FileDtype;

/// Format tag of network files (also [`tags::NET`]).
pub const NET_FORMAT: &str = tags::NET;
/// Format tag of dataset files (also [`tags::DATA`]).
pub const DATA_FORMAT: &str = tags::DATA;

/// An error reading or writing a file: the file and what is wrong with it.
#[derive(Debug, Error)]
#[error("{}: {problem}", path.display())]
pub struct IoError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub problem: IoProblem,
}

/// What went wrong with a file.
#[derive(Debug, Error)]
pub enum IoProblem {
    /// The operating system refused.
    #[error("{0}")]
    Os(#[from] std::io::Error),
    /// The path names a FIFO, device, directory or socket: refused without reading it.
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file is larger than a valid file of its kind can be (from its metadata).
    #[error("file is {size} bytes, more than the {max} bytes allowed here")]
    TooLarge {
        /// Its length.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Reading it would exceed the memory budget, or its sizes overflow.
    #[error("{0}")]
    Budget(#[from] BudgetError),
    /// The extension does not name a known format.
    #[error("unknown file type {0:?}: use .json, .safetensors or .npz")]
    Extension(String),
    /// Malformed JSON or a JSON value of the wrong type.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A `format` tag this version does not know.
    #[error("unknown format {found:?} (expected {expected:?})")]
    Format {
        /// What the file says.
        found: String,
        /// What this reader understands.
        expected: &'static str,
    },
    /// A safetensors container error.
    #[error("invalid safetensors file: {0}")]
    Safetensors(String),
    /// An npz/npy container error.
    #[error("invalid npz file: {0}")]
    Npz(String),
    /// A required tensor is absent.
    #[error("missing tensor {0:?}")]
    MissingTensor(String),
    /// A tensor of an unsupported element type.
    #[error("tensor {tensor:?} has unsupported dtype {dtype} (use float32/float64, or integers for labels)")]
    Dtype {
        /// Tensor name.
        tensor: String,
        /// Its dtype.
        dtype: String,
    },
    /// A tensor or field of the wrong shape.
    #[error("{what} has shape {got:?}, expected {expected}")]
    Shape {
        /// Which tensor or field.
        what: String,
        /// What it should be.
        expected: String,
        /// What it is.
        got: Vec<usize>,
    },
    /// A PyTorch state dict with an output bias.
    #[error("tensor \"2.bias\" found: a second-layer bias makes the network non-homogeneous (N(αθ) ≠ α²N(θ)), which the max-margin theory requires; train with nn.Linear(k, 1, bias=False)")]
    SecondLayerBias,
    /// The tensors mix naming schemes or hold something unexpected.
    #[error("{0}")]
    Content(String),
    /// The network inside is invalid.
    #[error("{0}")]
    Net(#[from] NetError),
    /// The dataset inside is invalid.
    #[error("{0}")]
    Data(#[from] DataError),
}

pub(crate) fn err(path: &Path, problem: impl Into<IoProblem>) -> IoError {
    IoError { path: path.to_path_buf(), problem: problem.into() }
}

/// A file format, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `.json`
    Json,
    /// `.safetensors` or `.st`
    Safetensors,
    /// `.npz`
    Npz,
}

impl FileFormat {
    /// The format named by a path's extension.
    pub fn from_path(path: &Path) -> Result<FileFormat, IoError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "json" => Ok(FileFormat::Json),
            "safetensors" | "st" => Ok(FileFormat::Safetensors),
            "npz" => Ok(FileFormat::Npz),
            _ => Err(err(path, IoProblem::Extension(ext))),
        }
    }
}

/// Reads a tensor file (safetensors or npz) from disk.
fn read_tensor_file(path: &Path, format: FileFormat) -> Result<tensors::Tensors, IoError> {
    match format {
        FileFormat::Safetensors => st::read_file(path),
        FileFormat::Npz => {
            let (file, len) = open_regular(path)?;
            if len > MAX_FILE_BYTES {
                return Err(err(path, IoProblem::TooLarge { size: len, max: MAX_FILE_BYTES }));
            }
            npz::read(path, std::io::BufReader::new(file))
        }
        FileFormat::Json => Err(err(path, IoProblem::Content("not a tensor file".into()))),
    }
}

/// Parses tensor-file bytes (safetensors or npz).
fn parse_tensors(path: &Path, format: FileFormat, bytes: &[u8]) -> Result<tensors::Tensors, IoError> {
    match format {
        FileFormat::Safetensors => st::read_bytes(path, bytes),
        FileFormat::Npz => npz::read(path, std::io::Cursor::new(bytes)),
        FileFormat::Json => Err(err(path, IoProblem::Content("not a tensor file".into()))),
    }
}

fn write_tensors(path: &Path, tensors: Vec<tensors::OutTensor<'_>>, dtype: FileDtype) -> Result<(), IoError> {
    match FileFormat::from_path(path)? {
        FileFormat::Safetensors => st::write_file(path, tensors, dtype),
        FileFormat::Npz => npz::write_file(path, &tensors, dtype),
        FileFormat::Json => Err(err(path, IoProblem::Content("not a tensor file".into()))),
    }
}

/// Reads a network from `.json`, `.safetensors` or `.npz`, validating everything.
pub fn read_net(path: &Path) -> Result<Net, IoError> {
    match FileFormat::from_path(path)? {
        FileFormat::Json => json::net_from_json(path, &read_bytes(path)?),
        format => tensors::net_from_tensors(path, read_tensor_file(path, format)?),
    }
}

/// Writes a network (format from the extension; `dtype` applies to tensor files, JSON
/// always holds f64 exactly). The write is atomic.
pub fn write_net(path: &Path, net: &Net, dtype: FileDtype) -> Result<(), IoError> {
    match FileFormat::from_path(path)? {
        FileFormat::Json => write_atomic_with(path, |w| json::write_net_json(w, net)),
        _ => write_tensors(path, tensors::net_tensors(net), dtype),
    }
}

/// Reads a dataset from `.json`, `.safetensors` or `.npz`, validating everything.
pub fn read_data(path: &Path) -> Result<Dataset, IoError> {
    match FileFormat::from_path(path)? {
        FileFormat::Json => json::data_from_json(path, &read_bytes(path)?),
        format => tensors::data_from_tensors(path, read_tensor_file(path, format)?),
    }
}

/// Writes a dataset (format from the extension). The write is atomic.
pub fn write_data(path: &Path, data: &Dataset, dtype: FileDtype) -> Result<(), IoError> {
    match FileFormat::from_path(path)? {
        FileFormat::Json => write_atomic_with(path, |w| json::write_data_json(w, data)),
        _ => write_tensors(path, tensors::data_tensors(data), dtype),
    }
}

/// Largest file [`read_vector`] accepts for dimension `d`: 1 MiB of slack plus 64 bytes
/// a number (more than any JSON or tensor encoding of one f64 needs).
pub fn max_vector_file_bytes(d: usize) -> u64 {
    (d as u64).saturating_add(1).saturating_mul(64).saturating_add(1 << 20)
}

/// Reads a direction or single vector: a JSON array of numbers, or a dataset file with
/// exactly one row (its `x` row is returned). Checks length `d` and finiteness. A file
/// longer than a vector of length `d` can be ([`max_vector_file_bytes`]) is refused
/// from its metadata.
pub fn read_vector(path: &Path, d: usize) -> Result<Vec<f64>, IoError> {
    let format = FileFormat::from_path(path)?;
    let bytes = read_bytes_limited(path, max_vector_file_bytes(d))?;
    let values = match format {
        FileFormat::Json => match json::bare_vector(&bytes) {
            Some(v) => v,
            None => one_row(path, json::data_from_json(path, &bytes)?)?,
        },
        _ => one_row(path, tensors::data_from_tensors(path, parse_tensors(path, format, &bytes)?)?)?,
    };
    if values.len() != d {
        return Err(err(path, IoProblem::Shape { what: "direction".into(), expected: format!("[{d}]"), got: vec![values.len()] }));
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(err(path, IoProblem::Content(format!("non-finite value {v} at index {i}"))));
    }
    Ok(values)
}

fn one_row(path: &Path, data: Dataset) -> Result<Vec<f64>, IoError> {
    if data.m() != 1 {
        return Err(err(path, IoProblem::Content(format!("expected exactly one row, found {}", data.m()))));
    }
    Ok(data.row(0))
}

/// Parses a network from in-memory bytes of the given format (used by fuzzing and
/// property tests; `name` only labels errors).
pub fn parse_net(name: &str, format: FileFormat, bytes: &[u8]) -> Result<Net, IoError> {
    let path = Path::new(name);
    match format {
        FileFormat::Json => json::net_from_json(path, bytes),
        _ => tensors::net_from_tensors(path, parse_tensors(path, format, bytes)?),
    }
}

/// Parses a dataset from in-memory bytes of the given format.
pub fn parse_data(name: &str, format: FileFormat, bytes: &[u8]) -> Result<Dataset, IoError> {
    let path = Path::new(name);
    match format {
        FileFormat::Json => json::data_from_json(path, bytes),
        _ => tensors::data_from_tensors(path, parse_tensors(path, format, bytes)?),
    }
}
