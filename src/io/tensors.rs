//! Tensor files in general: the name → tensor map that safetensors and `.npz` readers
//! produce, how a network or dataset is assembled from it (and validated), and the
//! element type of written tensors. See docs/formats.md.
//!
//! Networks: `w` [k,d], `b` [k] (absent when bias-free), `v` [k]; or PyTorch
//! `nn.Sequential(nn.Linear(d,k), nn.ReLU(), nn.Linear(k,1,bias=False))` names
//! `0.weight` [k,d], `0.bias` [k], `2.weight` [1,k]. A `2.bias` is refused: an output
//! bias makes the network non-homogeneous. Datasets: `x` [m,d], `y` [m] (float or
//! integer ±1).

use std::fmt;
use std::path::Path;

use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

use super::{err, IoError, IoProblem};
use crate::data::Dataset;
use crate::net::Net;

/// Element type of written tensor files (JSON always holds f64 exactly).
#[cfg_attr(all(feature = "cli", not(doc)), derive(clap::ValueEnum))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileDtype {
    /// 64-bit floats (default): exact round trips.
    #[default]
    F64,
    /// 32-bit floats: half the size, values rounded to f32.
    F32,
}

impl fmt::Display for FileDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileDtype::F64 => "f64",
            FileDtype::F32 => "f32",
        })
    }
}

/// A tensor read from a container, converted to f64.
pub(crate) struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
    pub integer: bool,
}

/// The tensors of one file, in file order.
pub(crate) type Tensors = Vec<(String, Tensor)>;

fn take(tensors: &mut Tensors, name: &str) -> Option<Tensor> {
    let pos = tensors.iter().position(|(n, _)| n == name)?;
    Some(tensors.swap_remove(pos).1)
}

fn float_tensor(path: &Path, name: &str, t: &Tensor) -> Result<(), IoError> {
    if t.integer {
        return Err(err(path, IoProblem::Dtype { tensor: name.into(), dtype: "integer".into() }));
    }
    Ok(())
}

fn check_shape(path: &Path, name: &str, t: &Tensor, expected: &[usize]) -> Result<(), IoError> {
    if t.shape != expected {
        return Err(err(
            path,
            IoProblem::Shape { what: format!("tensor {name:?}"), expected: format!("{expected:?}"), got: t.shape.clone() },
        ));
    }
    Ok(())
}

/// Assembles and validates a network from a file's tensors.
pub(crate) fn net_from_tensors(path: &Path, mut t: Tensors) -> Result<Net, IoError> {
    let torch = t.iter().any(|(n, _)| n.starts_with("0.") || n.starts_with("2."));
    let (wn, bn, vn) = if torch { ("0.weight", "0.bias", "2.weight") } else { ("w", "b", "v") };
    if torch && t.iter().any(|(n, _)| n == "2.bias") {
        return Err(err(path, IoProblem::SecondLayerBias));
    }
    let w = take(&mut t, wn).ok_or_else(|| err(path, IoProblem::MissingTensor(wn.into())))?;
    let v = take(&mut t, vn).ok_or_else(|| err(path, IoProblem::MissingTensor(vn.into())))?;
    let b = take(&mut t, bn);
    if let Some((extra, _)) = t.first() {
        return Err(err(
            path,
            IoProblem::Content(format!("unexpected tensor {extra:?} in a network file (expected {wn}, {bn}, {vn})")),
        ));
    }
    float_tensor(path, wn, &w)?;
    float_tensor(path, vn, &v)?;
    if w.shape.len() != 2 {
        return Err(err(path, IoProblem::Shape { what: format!("tensor {wn:?}"), expected: "[k, d]".into(), got: w.shape.clone() }));
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

/// Assembles and validates a dataset from a file's tensors.
pub(crate) fn data_from_tensors(path: &Path, mut t: Tensors) -> Result<Dataset, IoError> {
    let x = take(&mut t, "x").ok_or_else(|| err(path, IoProblem::MissingTensor("x".into())))?;
    let y = take(&mut t, "y").ok_or_else(|| err(path, IoProblem::MissingTensor("y".into())))?;
    if let Some((extra, _)) = t.first() {
        return Err(err(path, IoProblem::Content(format!("unexpected tensor {extra:?} in a dataset file (expected x, y)"))));
    }
    float_tensor(path, "x", &x)?;
    if x.shape.len() != 2 {
        return Err(err(path, IoProblem::Shape { what: "tensor \"x\"".into(), expected: "[m, d]".into(), got: x.shape.clone() }));
    }
    check_shape(path, "y", &y, &[x.shape[0]])?;
    Dataset::from_rows(x.shape[1], &x.values, &y.values).map_err(|e| err(path, e))
}

/// The values of a tensor to write, read lazily from the network or dataset in
/// row-major order (so writing never copies a matrix).
#[derive(Clone, Copy)]
pub(crate) enum Src<'a> {
    /// A matrix, written row by row.
    Mat(&'a DMatrix<f64>),
    /// A vector.
    Vec(&'a DVector<f64>),
}

impl Src<'_> {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Src::Mat(m) => m.len(),
            Src::Vec(v) => v.len(),
        }
    }

    /// The values in row-major order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = f64> + '_> {
        match *self {
            Src::Mat(m) => Box::new((0..m.nrows()).flat_map(move |r| (0..m.ncols()).map(move |c| m[(r, c)]))),
            Src::Vec(v) => Box::new(v.iter().copied()),
        }
    }

    /// The values as little-endian bytes of the given element type.
    pub fn to_bytes(&self, dtype: FileDtype) -> Vec<u8> {
        match dtype {
            FileDtype::F64 => self.iter().flat_map(|v| v.to_le_bytes()).collect(),
            FileDtype::F32 => self.iter().flat_map(|v| (v as f32).to_le_bytes()).collect(),
        }
    }
}

/// A tensor to write: name, shape, values.
pub(crate) type OutTensor<'a> = (&'static str, Vec<usize>, Src<'a>);

/// The tensors of a network, in file order.
pub(crate) fn net_tensors(net: &Net) -> Vec<OutTensor<'_>> {
    let (k, d) = (net.width(), net.dim());
    let mut tensors = vec![("w", vec![k, d], Src::Mat(net.w()))];
    if let Some(b) = net.b() {
        tensors.push(("b", vec![k], Src::Vec(b)));
    }
    tensors.push(("v", vec![k], Src::Vec(net.v())));
    tensors
}

/// The tensors of a dataset, in file order.
pub(crate) fn data_tensors(data: &Dataset) -> Vec<OutTensor<'_>> {
    vec![("x", vec![data.m(), data.d()], Src::Mat(data.x())), ("y", vec![data.m()], Src::Vec(data.y()))]
}
