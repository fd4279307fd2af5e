//! Atomic writes: concurrent writers, refused and failed writes, errors that name the path.

use fovea_io::{reason, write_atomic, write_atomic_with, AtomicFile};
use std::io::{self, Write};
use std::path::Path;

/// The names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writer `w`'s content: large enough to take several `write` calls, and different from
/// every other writer's in every byte and in length.
fn content(w: usize) -> Vec<u8> {
    let len = 200_000 + w * 1_009;
    (0..len).map(|i| (w * 31 + i % 7) as u8).collect()
}

#[test]
fn concurrent_writers_leave_one_whole_content_and_no_temp_file() {
    const WRITERS: usize = 8;
    const ROUNDS: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("shared.bin");
    std::fs::write(&target, b"old").unwrap();
    let contents: Vec<Vec<u8>> = (0..WRITERS).map(content).collect();
    let barrier = std::sync::Barrier::new(WRITERS + 1);
    std::thread::scope(|s| {
        for (w, bytes) in contents.iter().enumerate() {
            let (target, barrier) = (&target, &barrier);
            s.spawn(move || {
                barrier.wait();
                for round in 0..ROUNDS {
                    if (w + round) % 2 == 0 {
                        write_atomic(target, bytes).unwrap();
                    } else {
                        write_atomic_with(target, |out| {
                            for chunk in bytes.chunks(4096) {
                                out.write_all(chunk)?;
                            }
                            Ok(())
                        })
                        .unwrap();
                    }
                }
            });
        }
        // Readers in the meantime only ever see a whole content, old or new.
        barrier.wait();
        for _ in 0..200 {
            let seen = std::fs::read(&target).unwrap();
            assert!(
                seen == b"old" || contents.contains(&seen),
                "a reader saw {} bytes that are no writer's whole content",
                seen.len()
            );
        }
    });
    let last = std::fs::read(&target).unwrap();
    assert!(
        contents.contains(&last),
        "the final file ({} bytes) is not exactly one writer's content",
        last.len()
    );
    assert_eq!(
        entries(dir.path()),
        ["shared.bin"],
        "temporary files were left"
    );
}

#[test]
fn a_refused_streaming_write_leaves_the_old_file_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("data.idx");
    std::fs::write(&target, b"the user's file").unwrap();
    let err = write_atomic_with(&target, |out| {
        out.write_all(&[7u8; 100_000])?;
        Err::<(), _>(io::Error::other("checksum does not match"))
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "checksum does not match");
    assert_eq!(std::fs::read(&target).unwrap(), b"the user's file");
    assert_eq!(entries(dir.path()), ["data.idx"]);
}

#[test]
fn a_dropped_atomic_file_leaves_the_old_file_and_a_persisted_one_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("model.safetensors");
    std::fs::write(&target, b"old").unwrap();

    let mut f = AtomicFile::create(&target).unwrap();
    assert_eq!(f.target(), target);
    f.write_all(b"half of a new").unwrap();
    assert_eq!(
        entries(dir.path()).len(),
        2,
        "the temporary file sits beside the target"
    );
    drop(f);
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    assert_eq!(entries(dir.path()), ["model.safetensors"]);

    let mut f = AtomicFile::create(&target).unwrap();
    f.write_all(b"new").unwrap();
    f.persist().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
    assert_eq!(entries(dir.path()), ["model.safetensors"]);
}

#[test]
fn a_panicking_writer_leaves_the_old_file_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("run.json");
    std::fs::write(&target, b"{}").unwrap();
    let result = std::panic::catch_unwind(|| {
        write_atomic_with(&target, |out| -> io::Result<()> {
            out.write_all(b"{\"epoch\":")?;
            panic!("interrupted mid-write");
        })
    });
    assert!(result.is_err());
    assert_eq!(std::fs::read(&target).unwrap(), b"{}");
    assert_eq!(entries(dir.path()), ["run.json"]);
}

#[test]
fn writing_into_a_missing_folder_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("no-such-folder").join("metrics.csv");
    let err = write_atomic(&target, b"epoch,loss\n").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let msg = err.to_string();
    assert!(
        msg.contains(&target.display().to_string()),
        "the error does not name {}: {msg}",
        target.display()
    );
    // Told without the path, for callers whose own error names the file: the system's
    // reason alone, not the temporary file's name either.
    let why = reason(&err);
    assert!(
        why.starts_with("cannot write: ") && !why.contains("no-such-folder"),
        "{why}"
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn replacing_a_folder_fails_naming_it_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("vis");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.png"), b"png").unwrap();
    let err = write_atomic(&target, b"not a folder").unwrap_err();
    assert!(
        err.to_string().contains(&target.display().to_string()),
        "the error does not name {}: {err}",
        target.display()
    );
    assert_eq!(entries(dir.path()), ["vis"]);
    assert_eq!(entries(&target), ["keep.png"]);
}

#[test]
fn a_path_without_a_file_name_is_refused() {
    let err = write_atomic(Path::new("/"), b"x").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("not a file path"), "{err}");
}

#[cfg(unix)]
#[test]
fn new_files_get_ordinary_permissions_not_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.html");
    write_atomic(&target, b"<html>").unwrap();
    let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    // The umask may take away group/other write, but the owner can read and write as
    // with `File::create`, and the 0600 of a plain temporary file is not kept unless
    // the umask asks for it.
    assert_eq!(mode & 0o600, 0o600, "mode {mode:o}");
    let umask_allows_others = {
        let probe = dir.path().join("probe");
        std::fs::File::create(&probe).unwrap();
        std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(
        mode, umask_allows_others,
        "mode {mode:o} differs from File::create's"
    );
}
