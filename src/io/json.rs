//! JSON networks and datasets (see docs/formats.md):
//! `{"format":"relucert/net@1","d":D,"k":K,"bias":true,"w":[[..]],"b":[..],"v":[..]}` and
//! `{"format":"relucert/data@1","d":D,"m":M,"x":[[..]],"y":[..]}`.
//!
//! The declared sizes `d`, `k`, `m` are never used to allocate: matrices are parsed row by
//! row into one flat vector whose every growth is checked against the memory budget, and
//! only then compared with the declared shape. So `"d": 4294967296` in a small file costs
//! nothing, and a file's memory is bounded by its own length.

use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use nalgebra::DMatrix;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::budget::{BudgetError, MemoryBudget};
use super::{err, tags, IoError, IoProblem};
use crate::data::Dataset;
use crate::net::Net;

/// A matrix read from nested JSON arrays: `rows` rows of `cols` numbers, row-major.
#[derive(Debug, Default)]
pub(crate) struct FlatRows {
    pub rows: usize,
    /// Length of every row (`None` when there are no rows).
    pub cols: Option<usize>,
    pub values: Vec<f64>,
}

/// A flat vector of numbers whose growth is checked against the global budget.
#[derive(Debug, Default)]
pub(crate) struct Numbers(pub Vec<f64>);

fn push_checked<E: de::Error>(v: &mut Vec<f64>, x: f64) -> Result<(), E> {
    if v.len() == v.capacity() {
        let new_cap = v.capacity().saturating_mul(2).max(16);
        let bytes = (new_cap as u64).saturating_mul(8);
        MemoryBudget::global().check("a JSON array", bytes).map_err(E::custom)?;
        v.try_reserve_exact(new_cap - v.len())
            .map_err(|_| E::custom(BudgetError::Exceeded { what: "a JSON array".into(), needed: bytes, budget: 0 }))?;
    }
    v.push(x);
    Ok(())
}

/// Appends one JSON array of numbers to a flat vector, returning how many it held.
struct RowSeed<'a>(&'a mut Vec<f64>);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<usize, D::Error> {
        de.deserialize_seq(RowVisitor(self.0))
    }
}

struct RowVisitor<'a>(&'a mut Vec<f64>);

impl<'de> Visitor<'de> for RowVisitor<'_> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of numbers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0usize;
        while let Some(x) = seq.next_element::<f64>()? {
            push_checked(self.0, x)?;
            n += 1;
        }
        Ok(n)
    }
}

impl<'de> Deserialize<'de> for Numbers {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Numbers, D::Error> {
        let mut v = Vec::new();
        RowSeed(&mut v).deserialize(de)?;
        Ok(Numbers(v))
    }
}

impl<'de> Deserialize<'de> for FlatRows {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<FlatRows, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlatRows;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of arrays of numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlatRows, A::Error> {
                let mut out = FlatRows::default();
                while let Some(n) = seq.next_element_seed(RowSeed(&mut out.values))? {
                    match out.cols {
                        None => out.cols = Some(n),
                        Some(c) if c != n => {
                            return Err(de::Error::custom(format_args!(
                                "row {} has {n} numbers but row 0 has {c}",
                                out.rows
                            )))
                        }
                        Some(_) => {}
                    }
                    out.rows += 1;
                }
                Ok(out)
            }
        }
        de.deserialize_seq(V)
    }
}

/// Serialises a matrix as nested arrays, row by row, without copying it.
struct MatRows<'a>(&'a DMatrix<f64>);

/// One row of a matrix, serialised as an array.
struct MatRow<'a>(&'a DMatrix<f64>, usize);

impl Serialize for MatRows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.nrows()).map(|r| MatRow(self.0, r)))
    }
}

impl Serialize for MatRow<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.ncols()).map(|c| self.0[(self.1, c)]))
    }
}

#[derive(Deserialize)]
struct NetJson {
    d: usize,
    k: usize,
    bias: bool,
    w: FlatRows,
    #[serde(default)]
    b: Option<Numbers>,
    v: Numbers,
}

#[derive(Serialize)]
struct NetJsonOut<'a> {
    format: &'static str,
    d: usize,
    k: usize,
    bias: bool,
    w: MatRows<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    b: Option<&'a [f64]>,
    v: &'a [f64],
}

#[derive(Deserialize)]
struct DataJson {
    d: usize,
    m: usize,
    x: FlatRows,
    y: Numbers,
}

#[derive(Serialize)]
struct DataJsonOut<'a> {
    format: &'static str,
    d: usize,
    m: usize,
    x: MatRows<'a>,
    y: &'a [f64],
}

#[derive(Deserialize)]
struct FormatOnly {
    format: Option<String>,
}

fn json_err(path: &Path, e: serde_json::Error) -> IoError {
    err(path, IoProblem::Json(e.to_string()))
}

fn check_format(path: &Path, bytes: &[u8], expected: &'static str) -> Result<(), IoError> {
    let tag: FormatOnly = serde_json::from_slice(bytes).map_err(|e| json_err(path, e))?;
    match tag.format {
        Some(f) if f == expected => Ok(()),
        Some(found) => Err(err(path, IoProblem::Format { found, expected })),
        None => Err(err(path, IoProblem::Json(format!("missing \"format\" field (expected {expected:?})")))),
    }
}

fn expect_len(path: &Path, what: &str, got: usize, expected: usize) -> Result<(), IoError> {
    if got != expected {
        return Err(err(path, IoProblem::Shape { what: what.into(), expected: format!("[{expected}]"), got: vec![got] }));
    }
    Ok(())
}

/// The rows must be `rows` × `cols` as declared (an empty matrix has any width).
fn expect_rows(path: &Path, what: &str, got: &FlatRows, rows: usize, cols: usize) -> Result<(), IoError> {
    expect_len(path, &format!("{what} (rows)"), got.rows, rows)?;
    match got.cols {
        Some(c) if c != cols => Err(err(
            path,
            IoProblem::Shape { what: format!("{what} row 0"), expected: format!("[{cols}]"), got: vec![c] },
        )),
        _ => Ok(()),
    }
}

/// Parses a JSON network.
pub(crate) fn net_from_json(path: &Path, bytes: &[u8]) -> Result<Net, IoError> {
    check_format(path, bytes, tags::NET)?;
    let j: NetJson = serde_json::from_slice(bytes).map_err(|e| json_err(path, e))?;
    expect_len(path, "w (rows)", j.w.rows, j.k)?;
    expect_len(path, "v", j.v.0.len(), j.k)?;
    expect_rows(path, "w", &j.w, j.k, j.d)?;
    let b = match (j.bias, &j.b) {
        (true, Some(b)) => {
            expect_len(path, "b", b.0.len(), j.k)?;
            Some(b.0.as_slice())
        }
        (true, None) => return Err(err(path, IoProblem::Content("\"bias\": true but no \"b\" array".into()))),
        (false, Some(_)) => {
            return Err(err(path, IoProblem::Content("\"bias\": false but a \"b\" array is present".into())))
        }
        (false, None) => None,
    };
    MemoryBudget::global().check_array("the network", &[j.w.values.len()], 8).map_err(|e| err(path, e))?;
    Net::from_rows(j.d, &j.w.values, b, &j.v.0).map_err(|e| err(path, e))
}

/// Writes a network as JSON text, streamed to `w`.
pub(crate) fn write_net_json(w: &mut dyn std::io::Write, net: &Net) -> std::io::Result<()> {
    let (k, d) = (net.width(), net.dim());
    let b: Option<Vec<f64>> = net.b().map(|b| b.iter().copied().collect());
    let v: Vec<f64> = net.v().iter().copied().collect();
    let out = NetJsonOut {
        format: tags::NET,
        d,
        k,
        bias: net.has_bias(),
        w: MatRows(net.w()),
        b: b.as_deref(),
        v: &v,
    };
    serde_json::to_writer_pretty(&mut *w, &out).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}

/// Parses a JSON dataset.
pub(crate) fn data_from_json(path: &Path, bytes: &[u8]) -> Result<Dataset, IoError> {
    check_format(path, bytes, tags::DATA)?;
    let j: DataJson = serde_json::from_slice(bytes).map_err(|e| json_err(path, e))?;
    expect_len(path, "x (rows)", j.x.rows, j.m)?;
    expect_len(path, "y", j.y.0.len(), j.m)?;
    expect_rows(path, "x", &j.x, j.m, j.d)?;
    MemoryBudget::global().check_array("the dataset", &[j.x.values.len()], 8).map_err(|e| err(path, e))?;
    Dataset::from_rows(j.d, &j.x.values, &j.y.0).map_err(|e| err(path, e))
}

/// Writes a dataset as JSON text, streamed to `w`.
pub(crate) fn write_data_json(w: &mut dyn std::io::Write, data: &Dataset) -> std::io::Result<()> {
    let y: Vec<f64> = data.y().iter().copied().collect();
    let out = DataJsonOut { format: tags::DATA, d: data.d(), m: data.m(), x: MatRows(data.x()), y: &y };
    serde_json::to_writer_pretty(&mut *w, &out).map_err(std::io::Error::other)?;
    w.write_all(b"\n")
}

/// A JSON file holding a bare array of numbers, if that is what `bytes` is.
pub(crate) fn bare_vector(bytes: &[u8]) -> Option<Vec<f64>> {
    serde_json::from_slice::<Numbers>(bytes).ok().map(|n| n.0)
}
