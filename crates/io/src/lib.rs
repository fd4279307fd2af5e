//! Fovea's one way to write a file: atomically.
//!
//! Every file the project writes (checkpoints, `metrics.csv`, `run.json`, SVG and PNG
//! pictures, reports, downloads) goes first to a uniquely named temporary file in the
//! target's own folder and is renamed over the target only once it is complete. So:
//!
//! - a reader sees either the old file or the whole new one, never a part;
//! - a failure (full disk, refused download, a panic) leaves the old file untouched and no
//!   temporary file behind;
//! - concurrent writers of one target, in one process or several, never share a temporary
//!   file: the last to finish wins with its whole content.
//!
//! Errors keep their [`std::io::ErrorKind`] and name the target path.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Writes `bytes` to `path`, replacing any old file only once all of them are on disk.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.persist()
}

/// Streams a file into place: `fill` writes the content, and the file replaces `path`
/// only if `fill` returns `Ok`. On `Err` (which `fill` may return to refuse what it wrote)
/// the old file stays and the temporary file is deleted; the error is returned as is.
pub fn write_atomic_with<T>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    let mut f = AtomicFile::create(path)?;
    let out = fill(&mut f)?;
    f.persist()?;
    Ok(out)
}

/// A file being written beside its target: [`persist`](AtomicFile::persist) moves it into
/// place; dropping it instead deletes it and leaves the target as it was.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: NamedTempFile<BufWriter<File>>,
    target: PathBuf,
}

impl AtomicFile {
    /// Starts a new file that will replace `path`, as a hidden, uniquely named temporary
    /// file (`.{name}.XXXXXX.tmp`) in `path`'s folder, which must exist.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let target = path.to_path_buf();
        let name = target.file_name().ok_or_else(|| {
            let e = io::Error::new(io::ErrorKind::InvalidInput, "not a file path");
            named(e, "cannot write", &target)
        })?;
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let prefix = format!(".{}.", name.to_string_lossy());
        // Opened here rather than by tempfile so that errors are the system's own, and the
        // mode is `File::create`'s (0666 less the umask), not a temporary file's 0600.
        let tmp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .make_in(dir, |p| {
                let f = OpenOptions::new().write(true).create_new(true).open(p)?;
                Ok(BufWriter::with_capacity(1 << 16, f))
            })
            .map_err(|e| named(e, "cannot write", &target))?;
        Ok(AtomicFile { tmp, target })
    }

    /// The path this file will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes the content to disk and renames it over the target.
    pub fn persist(mut self) -> io::Result<()> {
        let target = self.target;
        let out = self.tmp.as_file_mut();
        out.flush()
            .and_then(|_| out.get_ref().sync_all())
            .map_err(|e| named(e, "cannot write", &target))?;
        // On failure the `PersistError` holds the temporary file, which is deleted as it drops.
        self.tmp
            .persist(&target)
            .map(drop)
            .map_err(|e| named(e.error, "cannot replace", &target))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tmp
            .as_file_mut()
            .write(buf)
            .map_err(|e| named(e, "cannot write", &self.target))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.tmp
            .as_file_mut()
            .write_all(buf)
            .map_err(|e| named(e, "cannot write", &self.target))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp
            .as_file_mut()
            .flush()
            .map_err(|e| named(e, "cannot write", &self.target))
    }
}

/// An I/O error on a named file: what failed, where, and the system's reason.
#[derive(Debug)]
struct PathError {
    what: &'static str,
    path: PathBuf,
    source: io::Error,
    /// how to fix it, when the failure says
    fix: &'static str,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}{}",
            self.what,
            self.path.display(),
            self.source,
            self.fix
        )
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The error with the same kind, its message prefixed by what failed on which path.
fn named(e: io::Error, what: &'static str, path: &Path) -> io::Error {
    // Failing to create the file means the folder is missing, is a file, or is read-only.
    let fix = match e.kind() {
        io::ErrorKind::NotFound
        | io::ErrorKind::PermissionDenied
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::ReadOnlyFilesystem => {
            "; write into a folder that exists and that you can write to"
        }
        _ => "",
    };
    io::Error::new(
        e.kind(),
        PathError {
            what,
            path: path.to_path_buf(),
            source: e,
            fix,
        },
    )
}

/// An error of this crate's functions told without its path or the generic fix (`cannot
/// write: No space left on device`), for callers whose own error already names the file and
/// says what to do; other errors as they are.
pub fn reason(e: &io::Error) -> String {
    match e.get_ref().and_then(|r| r.downcast_ref::<PathError>()) {
        Some(p) => format!("{}: {}", p.what, p.source),
        None => e.to_string(),
    }
}
