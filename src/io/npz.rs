//! NumPy `.npz` files (a zip of `.npy` arrays): reading into the tensor map and writing.
//! See docs/formats.md.
//!
//! Reading does not trust the archive: each array's `.npy` header is parsed by
//! [`super::npy`] (bounded length, no nesting), the shape's size is computed with checked
//! arithmetic and must match the entry's uncompressed size in the zip directory exactly,
//! and the bytes are checked against the memory budget before the entry is decompressed.
//! Decompression reads exactly the declared number of bytes, so an archive that claims a
//! small array but inflates to gigabytes is never inflated past its claim.

use std::io::{Read, Seek};
use std::path::Path;

use super::budget::{array_bytes, MemoryBudget};
use super::npy::{parse_header, parse_prefix};
use super::file::write_atomic_with;
use super::tensors::{FileDtype, OutTensor, Tensor, Tensors};
use super::{err, IoError, IoProblem};

fn npz_err(path: &Path, msg: impl std::fmt::Display) -> IoError {
    err(path, IoProblem::Npz(msg.to_string()))
}

/// Reads every `.npy` array of an npz archive, converted to f64.
pub(crate) fn read<R: Read + Seek>(path: &Path, reader: R) -> Result<Tensors, IoError> {
    let mut archive = npyz::npz::NpzArchive::new(reader).map_err(|e| npz_err(path, e))?;
    let zip = archive.zip_archive();
    let budget = MemoryBudget::global();
    let mut out: Tensors = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|e| npz_err(path, e))?;
        let Some(name) = npyz::npz::array_name_from_file_name(entry.name()).map(str::to_string) else {
            continue;
        };
        if out.iter().any(|(n, _)| *n == name) {
            return Err(npz_err(path, format!("array {name:?} appears twice")));
        }
        let declared = entry.size();
        let arr = |m: String| npz_err(path, format!("array {name:?}: {m}"));
        // The prefix: magic, version, header length.
        let mut prefix = [0u8; 12];
        let got = read_up_to(&mut entry, &mut prefix).map_err(|e| arr(e.to_string()))?;
        let (hlen, plen) = parse_prefix(&prefix[..got]).map_err(arr)?;
        let data_offset = plen + hlen;
        if (data_offset as u64) > declared {
            return Err(arr(format!("header of {data_offset} bytes exceeds the entry's {declared} bytes")));
        }
        let mut text = Vec::with_capacity(hlen);
        text.extend_from_slice(&prefix[plen.min(got)..got]);
        let rest = (hlen as u64).saturating_sub(text.len() as u64);
        (&mut entry).take(rest).read_to_end(&mut text).map_err(|e| arr(e.to_string()))?;
        if text.len() != hlen {
            return Err(arr("truncated .npy header".into()));
        }
        text.truncate(hlen);
        let header = parse_header(&text, data_offset).map_err(arr)?;
        let elem = header.elem.map_err(|descr| err(path, IoProblem::Dtype { tensor: name.clone(), dtype: descr }))?;
        if header.fortran_order && header.shape.len() > 1 {
            return Err(npz_err(path, format!("array {name:?} is in Fortran order; save it C-contiguous")));
        }
        let n = header.shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
        let raw = n.and_then(|n| array_bytes(&[n], elem.size()));
        let (Some(n), Some(raw)) = (n, raw) else {
            return Err(arr(format!("shape {:?} overflows", header.shape)));
        };
        if (data_offset as u64).checked_add(raw) != Some(declared) {
            return Err(arr(format!(
                "shape {:?} needs {raw} bytes of data but the entry holds {} (uncompressed size {declared})",
                header.shape,
                declared - data_offset as u64
            )));
        }
        budget
            .check_total(&format!("array {name:?}"), &[Some(raw), array_bytes(&[n], 8)])
            .map_err(|e| err(path, e))?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(raw as usize).map_err(|_| arr(format!("cannot allocate {raw} bytes")))?;
        (&mut entry).take(raw).read_to_end(&mut bytes).map_err(|e| arr(e.to_string()))?;
        if bytes.len() as u64 != raw {
            return Err(arr(format!("holds {} bytes of data, expected {raw}", bytes.len())));
        }
        // Read to the end of the entry (nothing is left): this verifies its CRC.
        let mut tail = [0u8; 1];
        if read_up_to(&mut entry, &mut tail).map_err(|e| arr(e.to_string()))? != 0 {
            return Err(arr("data continues past its declared size".into()));
        }
        let mut values = Vec::new();
        values.try_reserve_exact(n).map_err(|_| arr(format!("cannot allocate {n} values")))?;
        elem.decode(&bytes, &mut values);
        out.push((name, Tensor { shape: header.shape, values, integer: elem.integer() }));
    }
    Ok(out)
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Writes tensors as an npz archive (as `np.savez` writes them), atomically and
/// streaming the values into the file.
pub(crate) fn write_file(path: &Path, tensors: &[OutTensor<'_>], dtype: FileDtype) -> Result<(), IoError> {
    use npyz::WriterBuilder;
    write_atomic_with(path, |file| {
        let mut npz = npyz::npz::NpzWriter::new(file);
        for (name, shape, src) in tensors {
            let shape64: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
            match dtype {
                FileDtype::F64 => {
                    let mut w = npz.array::<f64>(name, Default::default())?.default_dtype().shape(&shape64).begin_nd()?;
                    w.extend(src.iter())?;
                    w.finish()?;
                }
                FileDtype::F32 => {
                    let mut w = npz.array::<f32>(name, Default::default())?.default_dtype().shape(&shape64).begin_nd()?;
                    w.extend(src.iter().map(|v| v as f32))?;
                    w.finish()?;
                }
            }
        }
        npz.zip_writer().finish().map_err(std::io::Error::other)?;
        Ok(())
    })
}
