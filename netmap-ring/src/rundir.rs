//! The user's runtime directory: where every backend keeps the files that
//! processes of one user share (switch memories, pipe pairs, the simulated
//! NIC's socket). `$NETMAP_RS_DIR`, or `/dev/shm/netmap-rs-<uid>`, mode
//! 0700 and owned by the user, so no other user can read or plant a file.
#![forbid(unsafe_code)]

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why the runtime directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("runtime directory {path}: {source}")]
    Dir { path: PathBuf, source: io::Error },
    #[error("runtime directory {path} belongs to uid {owner}, not to us ({uid}), or is open to others (mode {mode:o}); remove it or set NETMAP_RS_DIR")]
    Permission {
        path: PathBuf,
        owner: u32,
        uid: u32,
        mode: u32,
    },
}

impl RunDirError {
    /// The directory, or a file in it, refuses us.
    pub fn is_permission(&self) -> bool {
        match self {
            RunDirError::Permission { .. } => true,
            RunDirError::Dir { source, .. } => source.kind() == io::ErrorKind::PermissionDenied,
        }
    }
}

/// The runtime directory of this user.
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NETMAP_RS_DIR") {
        return PathBuf::from(dir);
    }
    let uid = rustix::process::getuid().as_raw();
    PathBuf::from(format!("/dev/shm/netmap-rs-{uid}"))
}

/// Creates the runtime directory `dir` (mode 0700) if needed and checks
/// that it is ours and closed to others.
pub fn ensure_dir(dir: &Path) -> Result<(), RunDirError> {
    let dir_err = |source| RunDirError::Dir {
        path: dir.to_owned(),
        source,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(dir_err(e)),
    }
    let meta = std::fs::metadata(dir).map_err(dir_err)?;
    let uid = rustix::process::getuid().as_raw();
    let mode = meta.permissions().mode() & 0o777;
    if meta.uid() != uid || mode & 0o077 != 0 {
        return Err(RunDirError::Permission {
            path: dir.to_owned(),
            owner: meta.uid(),
            uid,
            mode,
        });
    }
    Ok(())
}

/// File-name form of a name (`vale0`, or `if-eth0` for a NIC parent):
/// anything but `[A-Za-z0-9_.-]` becomes `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_keep_only_safe_characters() {
        assert_eq!(file_stem("vale0"), "vale0");
        assert_eq!(file_stem("if-eth0.1"), "if-eth0.1");
        assert_eq!(file_stem("x{1/../y"), "x_1_.._y");
    }

    #[test]
    fn a_directory_open_to_others_is_refused() {
        let base = std::env::temp_dir().join(format!("rundir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        ensure_dir(&base).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure_dir(&base).unwrap_err();
        assert!(err.is_permission(), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
