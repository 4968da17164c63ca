//! Output paths, checked before any work starts: an output never overwrites an input,
//! and a report (always JSON) is never written under a tensor file's name.

use std::path::{Path, PathBuf};

use relucert::io::FileFormat;

use super::CliError;

/// A file named on the command line, with the flag that named it (for messages).
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    /// The flag, e.g. `--data` or `-o`.
    pub flag: &'a str,
    /// The path as given.
    pub path: &'a Path,
}

/// Shorthand for a [`Named`] path.
pub fn named<'a>(flag: &'a str, path: &'a Path) -> Named<'a> {
    Named { flag, path }
}

/// Where a path leads: the canonical path of an existing file, or the canonical parent
/// directory joined with the file name for one not yet written. `None` when neither can
/// be resolved (a missing parent: then writing fails later with its own error, and the
/// path cannot be an existing input).
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// Whether two resolved paths are one file: the same canonical path, or (on Unix) the
/// same device and inode, which also catches hard links.
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
    }
    false
}

/// Refuses any output that is the same file as an input, or as another output, naming
/// both; call it first in a command, before reading or computing anything.
pub fn refuse_overwrite(outputs: &[Named<'_>], inputs: &[Named<'_>]) -> Result<(), CliError> {
    let inputs: Vec<(Named<'_>, PathBuf)> = inputs.iter().filter_map(|n| Some((*n, resolve(n.path)?))).collect();
    let resolved: Vec<Option<PathBuf>> = outputs.iter().map(|n| resolve(n.path)).collect();
    for (i, (a, ra)) in outputs.iter().zip(&resolved).enumerate() {
        for (b, rb) in outputs.iter().zip(&resolved).skip(i + 1) {
            if let (Some(ra), Some(rb)) = (ra, rb) {
                if same_file(ra, rb) {
                    return Err(CliError::Usage(format!(
                        "refusing to write {} {} and {} {}: they are the same file",
                        a.flag,
                        a.path.display(),
                        b.flag,
                        b.path.display()
                    )));
                }
            }
        }
    }
    for out in outputs {
        let Some(o) = resolve(out.path) else { continue };
        if let Some((input, _)) = inputs.iter().find(|(_, i)| same_file(&o, i)) {
            return Err(CliError::OverwritesInput {
                output: format!("{} {}", out.flag, out.path.display()),
                input: format!("{} {}", input.flag, input.path.display()),
            });
        }
    }
    Ok(())
}

/// Refuses a report output whose name says another format: reports are JSON, so the
/// file must end in `.json`.
pub fn json_report(flag: &str, path: &Path) -> Result<(), CliError> {
    match FileFormat::from_path(path) {
        Ok(FileFormat::Json) => Ok(()),
        _ => Err(CliError::Usage(format!("{flag} {}: this report is JSON; give the file a .json name", path.display()))),
    }
}

/// Checks a command's `-o REPORT` of a report on `--net NET --data DATA`, when given:
/// a `.json` name ([`json_report`]) that is neither input ([`refuse_overwrite`]).
pub fn report_out(out: Option<&Path>, net: &Path, data: &Path) -> Result<(), CliError> {
    if let Some(out) = out {
        json_report("-o", out)?;
        refuse_overwrite(&[named("-o", out)], &[named("--net", net), named("--data", data)])?;
    }
    Ok(())
}

/// `<out><suffix>`, e.g. `n.json.report.json` beside `n.json`.
pub fn companion(out: &Path, suffix: &str) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_through_other_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("a.json"), "{}").unwrap();
        let a = d.join("a.json");
        let other = d.join("sub").join("..").join("a.json");
        let err = refuse_overwrite(&[named("-o", &other)], &[named("--data", &a)]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("-o") && msg.contains("--data") && msg.contains("a.json"), "{msg}");
        // A new file beside an input is fine; so is a missing input.
        refuse_overwrite(&[named("-o", &d.join("b.json"))], &[named("--data", &a)]).unwrap();
        refuse_overwrite(&[named("-o", &a)], &[named("--data", &d.join("nope.json"))]).unwrap();
        // Two outputs may not be one file either.
        let two = refuse_overwrite(&[named("-o", &d.join("r.json")), named("--proof", &d.join("sub/../r.json"))], &[]);
        assert!(two.unwrap_err().to_string().contains("--proof"));
        #[cfg(unix)]
        {
            std::fs::hard_link(&a, d.join("h.json")).unwrap();
            std::os::unix::fs::symlink(&a, d.join("s.json")).unwrap();
            for alias in ["h.json", "s.json"] {
                assert!(refuse_overwrite(&[named("-o", &d.join(alias))], &[named("--net", &a)]).is_err(), "{alias}");
            }
        }
    }

    #[test]
    fn reports_need_a_json_name() {
        assert!(json_report("-o", Path::new("x.json")).is_ok());
        for bad in ["x.safetensors", "x.npz", "x.st", "x", "x.txt"] {
            assert!(json_report("-o", Path::new(bad)).is_err(), "{bad}");
        }
    }
}
