//! Raw file access: reading a file into memory (regular files only, bounded by size and
//! by the memory budget), atomic writes, JSON helpers and content hashes.
//!
//! Readers never open what is not a regular file: the path's metadata is checked first,
//! the file is opened non-blocking (so a FIFO swapped in meanwhile cannot block), and the
//! open handle is checked again. A file's length is compared with the caller's limit and
//! with [`MemoryBudget::global`] before a byte is read.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::budget::MemoryBudget;
use super::{err, IoError, IoProblem};

/// Largest file the readers accept (4 GiB): guards against reading a device or a
/// mistaken path into memory.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// What kind of non-regular file a path names, for the error message.
fn kind_of(ft: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens a regular file for reading and returns it with its length, refusing FIFOs,
/// devices, directories and sockets from their metadata, before any read.
pub fn open_regular(path: &Path) -> Result<(File, u64), IoError> {
    let meta = std::fs::metadata(path).map_err(|e| err(path, e))?;
    if !meta.is_file() {
        return Err(err(path, IoProblem::NotRegular(kind_of(meta.file_type()))));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Non-blocking, so that a FIFO put in the file's place after the check above
        // cannot block `open`; reads of a regular file ignore the flag.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| err(path, e))?;
    let meta = file.metadata().map_err(|e| err(path, e))?;
    if !meta.is_file() {
        return Err(err(path, IoProblem::NotRegular(kind_of(meta.file_type()))));
    }
    Ok((file, meta.len()))
}

/// Reads a whole regular file, refusing anything larger than [`MAX_FILE_BYTES`] or the
/// memory budget (both from its metadata, before reading).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, IoError> {
    read_bytes_limited(path, MAX_FILE_BYTES)
}

/// [`read_bytes`] with a tighter size limit `max` (bytes), for readers that know how
/// large a valid file can be.
pub fn read_bytes_limited(path: &Path, max: u64) -> Result<Vec<u8>, IoError> {
    let (file, len) = open_regular(path)?;
    read_open(path, file, len, max.min(MAX_FILE_BYTES))
}

/// Reads an opened regular file of metadata length `len`, refusing more than `max` bytes.
pub(crate) fn read_open(path: &Path, file: File, len: u64, max: u64) -> Result<Vec<u8>, IoError> {
    if len > max {
        return Err(err(path, IoProblem::TooLarge { size: len, max }));
    }
    MemoryBudget::global().check("reading the file", len).map_err(|e| err(path, e))?;
    let mut out = Vec::new();
    let cap = usize::try_from(len).map_err(|_| err(path, IoProblem::TooLarge { size: len, max }))?;
    out.try_reserve_exact(cap).map_err(|_| err(path, IoProblem::TooLarge { size: len, max }))?;
    // The file may grow after the metadata was read: never read past the limit.
    file.take(max.saturating_add(1)).read_to_end(&mut out).map_err(|e| err(path, e))?;
    if out.len() as u64 > max {
        return Err(err(path, IoProblem::TooLarge { size: out.len() as u64, max }));
    }
    Ok(out)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a
/// rename, so a failed run never leaves half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes a file atomically from a streaming writer `fill` (buffered), so large outputs
/// need not be built in memory first. Same guarantees as [`write_atomic`].
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), IoError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
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
    let file = tmp.as_file().try_clone().map_err(|e| err(path, e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
    fill(&mut w).map_err(|e| err(path, e))?;
    w.flush().map_err(|e| err(path, e))?;
    drop(w);
    tmp.as_file().sync_all().map_err(|e| err(path, e))?;
    tmp.persist(path).map_err(|e| err(path, e.error))?;
    Ok(())
}

/// Serialises `value` as pretty JSON and writes it atomically (streamed: the text is
/// never held in memory whole).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), IoError> {
    write_atomic_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
}

/// Moves a finished temporary file `tmp` (in `path`'s folder) onto `path`: ordinary
/// permissions (those of the file it replaces, else 0644), synced, then renamed.
pub(crate) fn persist_file(tmp: &Path, path: &Path) -> Result<(), IoError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0o644);
        std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(mode)).map_err(|e| err(path, e))?;
    }
    File::open(tmp).and_then(|f| f.sync_all()).map_err(|e| err(path, e))?;
    std::fs::rename(tmp, path).map_err(|e| err(path, e))
}

/// Reads and deserialises a JSON file.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, IoError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes).map_err(|e| err(path, IoProblem::Json(e.to_string())))
}

/// SHA-256 of a file's bytes, as lowercase hex (for reports that name their inputs).
/// The file is streamed, never held in memory whole.
pub fn file_sha256(path: &Path) -> Result<String, IoError> {
    let (mut file, len) = open_regular(path)?;
    if len > MAX_FILE_BYTES {
        return Err(err(path, IoProblem::TooLarge { size: len, max: MAX_FILE_BYTES }));
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(err(path, e)),
        };
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
