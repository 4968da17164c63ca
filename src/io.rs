//! Files: networks and datasets in JSON, safetensors and NumPy `.npz` (DESIGN §5), and
//! atomic writes for every file the toolkit produces.
//!
//! The format is chosen by the file extension: `.json`, `.safetensors` (or `.st`), `.npz`.
//!
//! * Network JSON: `{"format":"relucert/net@1","d":D,"k":K,"bias":true,"w":[[..]],"b":[..],"v":[..]}`.
//! * Network tensors (f32 or f64): `w` [k,d], `b` [k] (absent when bias-free), `v` [k];
//!   or PyTorch `nn.Sequential(nn.Linear(d,k), nn.ReLU(), nn.Linear(k,1,bias=False))`
//!   names `0.weight` [k,d], `0.bias` [k], `2.weight` [1,k]. A `2.bias` is refused: an
//!   output bias makes the network non-homogeneous.
//! * Dataset JSON: `{"format":"relucert/data@1","d":D,"m":M,"x":[[..]],"y":[..]}`;
//!   tensors `x` [m,d] and `y` [m] (float or integer ±1).
//!
//! Every reader validates before it trusts: format version, shapes, dtypes, finiteness,
//! labels. Tensor payloads are read from the file's own bytes, so a header that claims
//! more data than the file holds fails before any large allocation. Errors are one line
//! and name the file: see [`IoError`].

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::data::{DataError, Dataset};
use crate::net::{Net, NetError};

/// Format tag of network files.
pub const NET_FORMAT: &str = "relucert/net@1";
/// Format tag of dataset files.
pub const DATA_FORMAT: &str = "relucert/data@1";

/// Largest file the readers accept (4 GiB): guards against reading a device or a
/// mistaken path into memory.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// An error reading or writing a file: the file and what is wrong with it.
#[derive(Debug, Error)]
#[error("{}: {problem}", path.display())]
pub struct IoError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub problem: Problem,
}

/// What went wrong with a file.
#[derive(Debug, Error)]
pub enum Problem {
    /// The operating system refused.
    #[error("{0}")]
    Os(#[from] std::io::Error),
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

fn err(path: &Path, problem: impl Into<Problem>) -> IoError {
    IoError { path: path.to_path_buf(), problem: problem.into() }
}

/// Element type for tensor files.
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 64-bit floats (default): exact round trips.
    #[default]
    F64,
    /// 32-bit floats: half the size, values rounded to f32.
    F32,
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dtype::F64 => "f64",
            Dtype::F32 => "f32",
        })
    }
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
            _ => Err(err(path, Problem::Extension(ext))),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Raw file access

/// Reads a whole file, refusing anything larger than [`MAX_FILE_BYTES`].
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, IoError> {
    let file = std::fs::File::open(path).map_err(|e| err(path, e))?;
    let mut out = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut out).map_err(|e| err(path, e))?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(err(path, Problem::Content(format!("file is larger than {MAX_FILE_BYTES} bytes"))));
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a
/// rename, so a failed run never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".relucert-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| err(path, e))?;
    // Temporary files are created private (0600); give the result ordinary permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0o644);
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|e| err(path, e))?;
    }
    tmp.write_all(bytes).map_err(|e| err(path, e))?;
    tmp.as_file().sync_all().map_err(|e| err(path, e))?;
    tmp.persist(path).map_err(|e| err(path, e.error))?;
    Ok(())
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), IoError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| err(path, Problem::Json(e.to_string())))?;
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Reads and deserialises a JSON file.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, IoError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes).map_err(|e| err(path, Problem::Json(e.to_string())))
}

/// SHA-256 of a file's bytes, as lowercase hex (for reports that name their inputs).
pub fn file_sha256(path: &Path) -> Result<String, IoError> {
    Ok(sha256_hex(&read_bytes(path)?))
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's name and hash, as reports record their inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// The path as given.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
}

impl InputFile {
    /// Records a file by path and hash.
    pub fn of(path: &Path) -> Result<InputFile, IoError> {
        Ok(InputFile { path: path.display().to_string(), sha256: file_sha256(path)? })
    }
}

// ---------------------------------------------------------------------------------------
// JSON documents

#[derive(Serialize, Deserialize)]
struct NetJson {
    format: String,
    d: usize,
    k: usize,
    bias: bool,
    w: Vec<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    b: Option<Vec<f64>>,
    v: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct DataJson {
    format: String,
    d: usize,
    m: usize,
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
}

#[derive(Deserialize)]
struct FormatOnly {
    format: Option<String>,
}

fn check_format(path: &Path, bytes: &[u8], expected: &'static str) -> Result<(), IoError> {
    let tag: FormatOnly = serde_json::from_slice(bytes).map_err(|e| err(path, Problem::Json(e.to_string())))?;
    match tag.format {
        Some(f) if f == expected => Ok(()),
        Some(found) => Err(err(path, Problem::Format { found, expected })),
        None => Err(err(path, Problem::Json(format!("missing \"format\" field (expected {expected:?})")))),
    }
}

fn flatten_rows(path: &Path, what: &str, rows: &[Vec<f64>], ncols: usize) -> Result<Vec<f64>, IoError> {
    let mut out = Vec::with_capacity(rows.len().saturating_mul(ncols).min(1 << 28));
    for (r, row) in rows.iter().enumerate() {
        if row.len() != ncols {
            return Err(err(
                path,
                Problem::Shape { what: format!("{what} row {r}"), expected: format!("[{ncols}]"), got: vec![row.len()] },
            ));
        }
        out.extend_from_slice(row);
    }
    Ok(out)
}

fn expect_len(path: &Path, what: &str, got: usize, expected: usize) -> Result<(), IoError> {
    if got != expected {
        return Err(err(path, Problem::Shape { what: what.into(), expected: format!("[{expected}]"), got: vec![got] }));
    }
    Ok(())
}

fn net_from_json(path: &Path, bytes: &[u8]) -> Result<Net, IoError> {
    check_format(path, bytes, NET_FORMAT)?;
    let j: NetJson = serde_json::from_slice(bytes).map_err(|e| err(path, Problem::Json(e.to_string())))?;
    expect_len(path, "w (rows)", j.w.len(), j.k)?;
    expect_len(path, "v", j.v.len(), j.k)?;
    let w = flatten_rows(path, "w", &j.w, j.d)?;
    let b = match (j.bias, &j.b) {
        (true, Some(b)) => {
            expect_len(path, "b", b.len(), j.k)?;
            Some(b.as_slice())
        }
        (true, None) => return Err(err(path, Problem::Content("\"bias\": true but no \"b\" array".into()))),
        (false, Some(_)) => {
            return Err(err(path, Problem::Content("\"bias\": false but a \"b\" array is present".into())))
        }
        (false, None) => None,
    };
    Net::from_rows(j.d, &w, b, &j.v).map_err(|e| err(path, e))
}

fn net_to_json(net: &Net) -> NetJson {
    let (k, d) = (net.width(), net.dim());
    NetJson {
        format: NET_FORMAT.into(),
        d,
        k,
        bias: net.has_bias(),
        w: (0..k).map(|j| net.w().row(j).iter().copied().collect()).collect(),
        b: net.b().map(|b| b.iter().copied().collect()),
        v: net.v().iter().copied().collect(),
    }
}

fn data_from_json(path: &Path, bytes: &[u8]) -> Result<Dataset, IoError> {
    check_format(path, bytes, DATA_FORMAT)?;
    let j: DataJson = serde_json::from_slice(bytes).map_err(|e| err(path, Problem::Json(e.to_string())))?;
    expect_len(path, "x (rows)", j.x.len(), j.m)?;
    expect_len(path, "y", j.y.len(), j.m)?;
    let x = flatten_rows(path, "x", &j.x, j.d)?;
    Dataset::from_rows(j.d, &x, &j.y).map_err(|e| err(path, e))
}

fn data_to_json(data: &Dataset) -> DataJson {
    DataJson {
        format: DATA_FORMAT.into(),
        d: data.d(),
        m: data.m(),
        x: (0..data.m()).map(|i| data.row(i)).collect(),
        y: data.y().iter().copied().collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Tensor containers: a name → (shape, f64 values) map read from safetensors or npz.

/// A tensor read from a container, converted to f64.
struct Tensor {
    shape: Vec<usize>,
    values: Vec<f64>,
    integer: bool,
}

type Tensors = Vec<(String, Tensor)>;

fn read_safetensors(path: &Path, bytes: &[u8]) -> Result<Tensors, IoError> {
    use safetensors::{Dtype as St, SafeTensors};
    let st = SafeTensors::deserialize(bytes).map_err(|e| err(path, Problem::Safetensors(e.to_string())))?;
    let mut out = Vec::new();
    for (name, view) in st.iter() {
        let data = view.data();
        let (values, integer): (Vec<f64>, bool) = match view.dtype() {
            St::F64 => (data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(), false),
            St::F32 => {
                (data.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64).collect(), false)
            }
            St::I64 => (data.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64).collect(), true),
            St::I32 => (data.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64).collect(), true),
            St::I8 => (data.iter().map(|&c| c as i8 as f64).collect(), true),
            other => return Err(err(path, Problem::Dtype { tensor: name.to_string(), dtype: format!("{other:?}") })),
        };
        out.push((name.to_string(), Tensor { shape: view.shape().to_vec(), values, integer }));
    }
    Ok(out)
}

fn read_npz(path: &Path, bytes: &[u8]) -> Result<Tensors, IoError> {
    use npyz::npz::NpzArchive;
    let npz_err = |e: std::io::Error| err(path, Problem::Npz(e.to_string()));
    let mut archive = NpzArchive::new(std::io::Cursor::new(bytes)).map_err(npz_err)?;
    let names: Vec<String> = archive.array_names().map(str::to_string).collect();
    let mut out = Vec::new();
    for name in names {
        let npy = archive.by_name(&name).map_err(npz_err)?.ok_or_else(|| err(path, Problem::MissingTensor(name.clone())))?;
        let shape: Vec<usize> = npy.shape().iter().map(|&s| s as usize).collect();
        if npy.order() == npyz::Order::Fortran && shape.len() > 1 {
            return Err(err(path, Problem::Content(format!("array {name:?} is in Fortran order; save it C-contiguous"))));
        }
        let descr = npy.dtype().descr().trim_matches('\'').to_string();
        let (values, integer): (Vec<f64>, bool) = match descr.as_str() {
            "<f8" => (npy.into_vec::<f64>().map_err(npz_err)?, false),
            "<f4" => (npy.into_vec::<f32>().map_err(npz_err)?.into_iter().map(f64::from).collect(), false),
            "<i8" => (npy.into_vec::<i64>().map_err(npz_err)?.into_iter().map(|v| v as f64).collect(), true),
            "<i4" => (npy.into_vec::<i32>().map_err(npz_err)?.into_iter().map(f64::from).collect(), true),
            "|i1" => (npy.into_vec::<i8>().map_err(npz_err)?.into_iter().map(f64::from).collect(), true),
            other => return Err(err(path, Problem::Dtype { tensor: name.clone(), dtype: other.to_string() })),
        };
        let n: Option<usize> = shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
        if n != Some(values.len()) {
            return Err(err(path, Problem::Npz(format!("array {name:?} holds {} values but its shape is {shape:?}", values.len()))));
        }
        out.push((name, Tensor { shape, values, integer }));
    }
    Ok(out)
}

fn take(tensors: &mut Tensors, name: &str) -> Option<Tensor> {
    let pos = tensors.iter().position(|(n, _)| n == name)?;
    Some(tensors.swap_remove(pos).1)
}

fn float_tensor(path: &Path, name: &str, t: &Tensor) -> Result<(), IoError> {
    if t.integer {
        return Err(err(path, Problem::Dtype { tensor: name.into(), dtype: "integer".into() }));
    }
    Ok(())
}

fn check_shape(path: &Path, name: &str, t: &Tensor, expected: &[usize]) -> Result<(), IoError> {
    if t.shape != expected {
        return Err(err(path, Problem::Shape { what: format!("tensor {name:?}"), expected: format!("{expected:?}"), got: t.shape.clone() }));
    }
    Ok(())
}

fn net_from_tensors(path: &Path, mut t: Tensors) -> Result<Net, IoError> {
    let torch = t.iter().any(|(n, _)| n.starts_with("0.") || n.starts_with("2."));
    let (wn, bn, vn) = if torch { ("0.weight", "0.bias", "2.weight") } else { ("w", "b", "v") };
    if torch && t.iter().any(|(n, _)| n == "2.bias") {
        return Err(err(path, Problem::SecondLayerBias));
    }
    let w = take(&mut t, wn).ok_or_else(|| err(path, Problem::MissingTensor(wn.into())))?;
    let v = take(&mut t, vn).ok_or_else(|| err(path, Problem::MissingTensor(vn.into())))?;
    let b = take(&mut t, bn);
    if let Some((extra, _)) = t.first() {
        return Err(err(path, Problem::Content(format!("unexpected tensor {extra:?} in a network file (expected {wn}, {bn}, {vn})"))));
    }
    float_tensor(path, wn, &w)?;
    float_tensor(path, vn, &v)?;
    if w.shape.len() != 2 {
        return Err(err(path, Problem::Shape { what: format!("tensor {wn:?}"), expected: "[k, d]".into(), got: w.shape.clone() }));
    }
    let (k, d) = (w.shape[0], w.shape[1]);
    let v_shape: Vec<usize> = if torch { vec![1, k] } else { vec![k] };
    check_shape(path, vn, &v, &v_shape)?;
    if let Some(b) = &b {
        float_tensor(path, bn, b)?;
        check_shape(path, bn, b, &[k])?;
    }
    Net::from_rows(d, &w.values, b.as_ref().map(|b| b.values.as_slice()), &v.values).map_err(|e| err(path, e))
}

fn data_from_tensors(path: &Path, mut t: Tensors) -> Result<Dataset, IoError> {
    let x = take(&mut t, "x").ok_or_else(|| err(path, Problem::MissingTensor("x".into())))?;
    let y = take(&mut t, "y").ok_or_else(|| err(path, Problem::MissingTensor("y".into())))?;
    if let Some((extra, _)) = t.first() {
        return Err(err(path, Problem::Content(format!("unexpected tensor {extra:?} in a dataset file (expected x, y)"))));
    }
    float_tensor(path, "x", &x)?;
    if x.shape.len() != 2 {
        return Err(err(path, Problem::Shape { what: "tensor \"x\"".into(), expected: "[m, d]".into(), got: x.shape.clone() }));
    }
    check_shape(path, "y", &y, &[x.shape[0]])?;
    Dataset::from_rows(x.shape[1], &x.values, &y.values).map_err(|e| err(path, e))
}

fn read_tensors(path: &Path, format: FileFormat, bytes: &[u8]) -> Result<Tensors, IoError> {
    match format {
        FileFormat::Safetensors => read_safetensors(path, bytes),
        FileFormat::Npz => read_npz(path, bytes),
        FileFormat::Json => Err(err(path, Problem::Content("not a tensor file".into()))),
    }
}

fn to_bytes(values: &[f64], dtype: Dtype) -> Vec<u8> {
    match dtype {
        Dtype::F64 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Dtype::F32 => values.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect(),
    }
}

fn write_tensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f64>)], dtype: Dtype) -> Result<(), IoError> {
    let bytes = match FileFormat::from_path(path)? {
        FileFormat::Safetensors => {
            let st_dtype = match dtype {
                Dtype::F64 => safetensors::Dtype::F64,
                Dtype::F32 => safetensors::Dtype::F32,
            };
            let raw: Vec<(String, Vec<usize>, Vec<u8>)> =
                tensors.iter().map(|(n, s, v)| (n.to_string(), s.clone(), to_bytes(v, dtype))).collect();
            let mut views = Vec::new();
            for (name, shape, data) in &raw {
                let view = safetensors::tensor::TensorView::new(st_dtype, shape.clone(), data)
                    .map_err(|e| err(path, Problem::Safetensors(e.to_string())))?;
                views.push((name.clone(), view));
            }
            safetensors::serialize(views, None).map_err(|e| err(path, Problem::Safetensors(e.to_string())))?
        }
        FileFormat::Npz => {
            use npyz::WriterBuilder;
            let mut cursor = std::io::Cursor::new(Vec::new());
            {
                let mut npz = npyz::npz::NpzWriter::new(&mut cursor);
                let npz_err = |e: std::io::Error| err(path, Problem::Npz(e.to_string()));
                for (name, shape, values) in tensors {
                    let shape64: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
                    match dtype {
                        Dtype::F64 => {
                            let mut w = npz.array::<f64>(name, Default::default()).map_err(npz_err)?
                                .default_dtype().shape(&shape64).begin_nd().map_err(npz_err)?;
                            w.extend(values.iter().copied()).map_err(npz_err)?;
                            w.finish().map_err(npz_err)?;
                        }
                        Dtype::F32 => {
                            let mut w = npz.array::<f32>(name, Default::default()).map_err(npz_err)?
                                .default_dtype().shape(&shape64).begin_nd().map_err(npz_err)?;
                            w.extend(values.iter().map(|&v| v as f32)).map_err(npz_err)?;
                            w.finish().map_err(npz_err)?;
                        }
                    }
                }
                npz.zip_writer().finish().map_err(|e| err(path, Problem::Npz(e.to_string())))?;
            }
            cursor.into_inner()
        }
        FileFormat::Json => return Err(err(path, Problem::Content("not a tensor file".into()))),
    };
    write_atomic(path, &bytes)
}

// ---------------------------------------------------------------------------------------
// Public readers and writers

/// Reads a network from `.json`, `.safetensors` or `.npz`, validating everything.
pub fn read_net(path: &Path) -> Result<Net, IoError> {
    let format = FileFormat::from_path(path)?;
    let bytes = read_bytes(path)?;
    match format {
        FileFormat::Json => net_from_json(path, &bytes),
        _ => net_from_tensors(path, read_tensors(path, format, &bytes)?),
    }
}

/// Writes a network (format from the extension; `dtype` applies to tensor files, JSON
/// always holds f64 exactly). The write is atomic.
pub fn write_net(path: &Path, net: &Net, dtype: Dtype) -> Result<(), IoError> {
    match FileFormat::from_path(path)? {
        FileFormat::Json => write_json(path, &net_to_json(net)),
        _ => {
            let (k, d) = (net.width(), net.dim());
            let mut tensors = vec![("w", vec![k, d], row_major(net.w()))];
            if let Some(b) = net.b() {
                tensors.push(("b", vec![k], b.iter().copied().collect()));
            }
            tensors.push(("v", vec![k], net.v().iter().copied().collect()));
            write_tensors(path, &tensors, dtype)
        }
    }
}

/// Reads a dataset from `.json`, `.safetensors` or `.npz`, validating everything.
pub fn read_data(path: &Path) -> Result<Dataset, IoError> {
    let format = FileFormat::from_path(path)?;
    let bytes = read_bytes(path)?;
    match format {
        FileFormat::Json => data_from_json(path, &bytes),
        _ => data_from_tensors(path, read_tensors(path, format, &bytes)?),
    }
}

/// Writes a dataset (format from the extension). The write is atomic.
pub fn write_data(path: &Path, data: &Dataset, dtype: Dtype) -> Result<(), IoError> {
    match FileFormat::from_path(path)? {
        FileFormat::Json => write_json(path, &data_to_json(data)),
        _ => {
            let (m, d) = (data.m(), data.d());
            let tensors = [("x", vec![m, d], row_major(data.x())), ("y", vec![m], data.y().iter().copied().collect())];
            write_tensors(path, &tensors, dtype)
        }
    }
}

/// Reads a direction or single vector: a JSON array of numbers, or a dataset file with
/// exactly one row (its `x` row is returned). Checks length `d` and finiteness.
pub fn read_vector(path: &Path, d: usize) -> Result<Vec<f64>, IoError> {
    let format = FileFormat::from_path(path)?;
    let values = if format == FileFormat::Json {
        let bytes = read_bytes(path)?;
        match serde_json::from_slice::<Vec<f64>>(&bytes) {
            Ok(v) => v,
            Err(_) => one_row(path, data_from_json(path, &bytes)?)?,
        }
    } else {
        one_row(path, read_data(path)?)?
    };
    if values.len() != d {
        return Err(err(path, Problem::Shape { what: "direction".into(), expected: format!("[{d}]"), got: vec![values.len()] }));
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(err(path, Problem::Content(format!("non-finite value {v} at index {i}"))));
    }
    Ok(values)
}

fn one_row(path: &Path, data: Dataset) -> Result<Vec<f64>, IoError> {
    if data.m() != 1 {
        return Err(err(path, Problem::Content(format!("expected exactly one row, found {}", data.m()))));
    }
    Ok(data.row(0))
}

/// Parses a network from in-memory bytes of the given format (used by fuzzing and
/// property tests; `name` only labels errors).
pub fn parse_net(name: &str, format: FileFormat, bytes: &[u8]) -> Result<Net, IoError> {
    let path = Path::new(name);
    match format {
        FileFormat::Json => net_from_json(path, bytes),
        _ => net_from_tensors(path, read_tensors(path, format, bytes)?),
    }
}

/// Parses a dataset from in-memory bytes of the given format.
pub fn parse_data(name: &str, format: FileFormat, bytes: &[u8]) -> Result<Dataset, IoError> {
    let path = Path::new(name);
    match format {
        FileFormat::Json => data_from_json(path, bytes),
        _ => data_from_tensors(path, read_tensors(path, format, bytes)?),
    }
}

/// A matrix's entries in row-major order (the tensor files' layout).
fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    (0..m.nrows()).flat_map(|r| (0..m.ncols()).map(move |c| m[(r, c)])).collect()
}
