//! safetensors files (`.safetensors`, `.st`): reading into the tensor map and writing.
//! See docs/formats.md.
//!
//! A file is `u64` header length, a JSON header naming each tensor's dtype, shape and
//! byte range, then the data. The reader reads the header first and refuses a file whose
//! length is not exactly what the header declares, from its metadata, before reading the
//! data; the `safetensors` crate then validates the whole container again.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;

use super::budget::MemoryBudget;
use super::file::{open_regular, persist_file, read_open, MAX_FILE_BYTES};
use super::tensors::{FileDtype, OutTensor, Src, Tensor, Tensors};
use super::{err, IoError, IoProblem};

/// Largest header accepted (the `safetensors` crate's own limit).
const MAX_HEADER: u64 = 100_000_000;

#[derive(Deserialize)]
struct Entry {
    data_offsets: (u64, u64),
}

fn st_err(path: &Path, msg: impl Into<String>) -> IoError {
    err(path, IoProblem::Safetensors(msg.into()))
}

/// Reads a safetensors file, checking its length against its header first.
pub(crate) fn read_file(path: &Path) -> Result<Tensors, IoError> {
    let (mut file, len) = open_regular(path)?;
    if len > MAX_FILE_BYTES {
        return Err(err(path, IoProblem::TooLarge { size: len, max: MAX_FILE_BYTES }));
    }
    let mut n8 = [0u8; 8];
    file.read_exact(&mut n8).map_err(|_| st_err(path, "file is shorter than its 8-byte header length"))?;
    let n = u64::from_le_bytes(n8);
    if n > MAX_HEADER || n > len - 8 {
        return Err(st_err(path, format!("header length {n} exceeds the file ({len} bytes)")));
    }
    let mut header = Vec::new();
    header.try_reserve_exact(n as usize).map_err(|_| st_err(path, "header too large"))?;
    (&mut file).take(n).read_to_end(&mut header).map_err(|e| err(path, e))?;
    // Entries are maps; `__metadata__` is a map of strings and has no offsets.
    let map: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| st_err(path, format!("invalid header: {e}")))?;
    let mut end = 0u64;
    for (name, v) in &map {
        if name == "__metadata__" {
            continue;
        }
        let e = Entry::deserialize(v).map_err(|e| st_err(path, format!("tensor {name:?}: {e}")))?;
        end = end.max(e.data_offsets.1);
    }
    let declared = 8u64.checked_add(n).and_then(|h| h.checked_add(end));
    if declared != Some(len) {
        return Err(st_err(
            path,
            format!("file is {len} bytes but its header declares {}", declared.map_or("more than 2^64".into(), |d| d.to_string())),
        ));
    }
    drop(header);
    file.seek(SeekFrom::Start(0)).map_err(|e| err(path, e))?;
    let bytes = read_open(path, file, len, MAX_FILE_BYTES)?;
    read_bytes(path, &bytes)
}

/// Parses safetensors bytes into tensors converted to f64.
pub(crate) fn read_bytes(path: &Path, bytes: &[u8]) -> Result<Tensors, IoError> {
    use safetensors::{Dtype as St, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| st_err(path, e.to_string()))?;
    let mut out = Vec::new();
    for (name, view) in st.iter() {
        let data = view.data();
        let size = match view.dtype() {
            St::F64 | St::I64 => 8,
            St::F32 | St::I32 => 4,
            St::I8 => 1,
            other => return Err(err(path, IoProblem::Dtype { tensor: name.to_string(), dtype: format!("{other:?}") })),
        };
        let n = data.len() / size;
        MemoryBudget::global().check_array(&format!("tensor {name:?}"), &[n], 8).map_err(|e| err(path, e))?;
        let (values, integer): (Vec<f64>, bool) = match view.dtype() {
            St::F64 => (data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(), false),
            St::F32 => {
                (data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64).collect(), false)
            }
            St::I64 => (data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64).collect(), true),
            St::I32 => (data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64).collect(), true),
            _ => (data.iter().map(|&c| c as i8 as f64).collect(), true),
        };
        out.push((name.to_string(), Tensor { shape: view.shape().to_vec(), values, integer }));
    }
    Ok(out)
}

/// A tensor whose bytes are produced only when the writer asks for them, one tensor at
/// a time, so writing holds at most one tensor's bytes beside the data.
struct Lazy<'a> {
    dtype: FileDtype,
    shape: Vec<usize>,
    src: Src<'a>,
}

impl safetensors::View for Lazy<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        match self.dtype {
            FileDtype::F64 => safetensors::Dtype::F64,
            FileDtype::F32 => safetensors::Dtype::F32,
        }
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        self.src.to_bytes(self.dtype).into()
    }
    fn data_len(&self) -> usize {
        self.src.len() * if self.dtype == FileDtype::F64 { 8 } else { 4 }
    }
}

/// Writes tensors as a safetensors file, atomically (a temporary folder beside `path`,
/// then a rename), streaming the data.
pub(crate) fn write_file(path: &Path, tensors: Vec<OutTensor<'_>>, dtype: FileDtype) -> Result<(), IoError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmpdir = tempfile::Builder::new().prefix(".relucert-").suffix(".tmp").tempdir_in(dir).map_err(|e| err(path, e))?;
    let tmp = tmpdir.path().join("out.safetensors");
    let views = tensors.into_iter().map(|(name, shape, src)| (name, Lazy { dtype, shape, src }));
    safetensors::serialize_to_file(views, None, &tmp).map_err(|e| st_err(path, e.to_string()))?;
    persist_file(&tmp, path)
}
