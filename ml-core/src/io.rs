//! Versioned, checksummed files written atomically.
//!
//! A stored file is one header line, `MLSDK <kind> <version> <length> <sha256>`,
//! followed by the payload. Reading checks all five, so a truncated, corrupted,
//! foreign or newer file is refused with a clear error instead of being half
//! understood.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

const MAGIC: &str = "MLSDK";

/// Wrap a payload in the header.
pub fn seal(kind: &str, version: u32, payload: &[u8]) -> Vec<u8> {
    let digest = hex(&Sha256::digest(payload));
    let mut out = format!("{MAGIC} {kind} {version} {} {digest}\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Check the header and return `(version, payload)`.
///
/// # Errors
/// [`Error::Corrupt`] for a foreign, truncated or altered file;
/// [`Error::UnsupportedVersion`] for a version above `max_version`.
pub fn unseal<'a>(what: &'static str, kind: &str, max_version: u32, bytes: &'a [u8]) -> Result<(u32, &'a [u8])> {
    let corrupt = |reason: &str| Error::Corrupt {
        what,
        reason: reason.to_string(),
    };
    let nl = bytes
        .iter()
        .take(256)
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt("no header line"))?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| corrupt("header is not text"))?;
    let parts: Vec<&str> = header.split(' ').collect();
    if parts.len() != 5 || parts[0] != MAGIC {
        return Err(corrupt("not an ml-sdk file"));
    }
    if parts[1] != kind {
        return Err(corrupt(&format!("holds a '{}', expected a '{kind}'", parts[1])));
    }
    let version: u32 = parts[2].parse().map_err(|_| corrupt("bad version"))?;
    if version > max_version {
        return Err(Error::UnsupportedVersion {
            what,
            found: version,
            supported: max_version,
        });
    }
    let len: usize = parts[3].parse().map_err(|_| corrupt("bad length"))?;
    let payload = &bytes[nl + 1..];
    if payload.len() != len {
        return Err(corrupt(&format!(
            "payload is {} bytes, header says {len} (truncated?)",
            payload.len()
        )));
    }
    if hex(&Sha256::digest(payload)) != parts[4] {
        return Err(corrupt("checksum mismatch"));
    }
    Ok((version, payload))
}

/// Read a whole file, refusing files over `limit` bytes.
///
/// The size is checked while reading, not taken from the file's metadata,
/// so a device or pipe that never ends (`/dev/zero`) is refused too.
///
/// # Errors
/// [`Error::Io`], or [`Error::LimitExceeded`] when the file is over the limit.
pub fn read_limited(what: &'static str, path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |source| Error::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    };
    let too_large = || Error::LimitExceeded {
        what: format!("{what} '{}'", path.display()),
        limit: crate::limits::bytes(limit),
        hint: "is it the right file?".into(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// `path`'s hidden sibling `.NAME.TAG-PID-N`, unique to this process and call:
/// on the same filesystem as `path`, so a rename moves it into place.
fn hidden_sibling(path: &Path, tag: &str) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.{tag}-{}-{}", std::process::id(), unique()))
}

/// Files written for a directory that appear there only when the work that
/// produced them succeeds: written into a hidden sibling directory, moved
/// into the target by [`StagedDir::commit`], removed if dropped uncommitted.
#[derive(Debug)]
pub struct StagedDir {
    staging: PathBuf,
    target: PathBuf,
}

impl StagedDir {
    /// Stage files for `target` (created on commit if missing).
    ///
    /// # Errors
    /// [`Error::Io`] when the staging directory cannot be made, or when
    /// `target` exists and is not a directory.
    pub fn new(target: &Path) -> Result<Self> {
        if target.exists() && !target.is_dir() {
            return Err(Error::Io {
                op: "write into",
                path: target.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "it is a file, not a directory"),
            });
        }
        let staging = hidden_sibling(target, "staging");
        std::fs::create_dir_all(&staging).map_err(|source| Error::Io {
            op: "write into",
            path: target.to_path_buf(),
            source,
        })?;
        Ok(Self {
            staging,
            target: target.to_path_buf(),
        })
    }

    /// Where to write the files now.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Where a staged file will be once committed.
    pub fn final_path(&self, staged: &Path) -> PathBuf {
        staged
            .strip_prefix(&self.staging)
            .map_or_else(|_| staged.to_path_buf(), |rel| self.target.join(rel))
    }

    /// Move every staged file into the target, replacing files of the same
    /// name; the staging directory is removed.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn commit(self) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                op: "move into place",
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.target).map_err(io(&self.target))?;
        let mut stack = vec![self.staging.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let from = entry.map_err(io(&dir))?.path();
                let to = self.final_path(&from);
                if from.is_dir() {
                    std::fs::create_dir_all(&to).map_err(io(&to))?;
                    stack.push(from);
                } else {
                    std::fs::rename(&from, &to).map_err(io(&to))?;
                }
            }
        }
        // The emptied staging directory goes with `self` (see Drop).
        Ok(())
    }
}

impl Drop for StagedDir {
    /// Whatever is still staged (everything, unless committed) goes.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// Write a file atomically: to a temporary file in the same directory, synced,
/// then renamed over the target. Readers see the old file or the new one, never
/// a partial one.
///
/// # Errors
/// [`Error::Io`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        op: "write",
        path: path.to_path_buf(),
        source,
    };
    let tmp = hidden_sibling(path, "tmp");
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Write `bytes` to `dir/file` atomically, creating `dir`: how every
/// artifact kept in a directory (a model, a checkpoint, a policy, a key) is
/// saved. Returns the file's path.
///
/// # Errors
/// [`Error::Io`].
pub fn save_in_dir(dir: &Path, file: &str, bytes: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        op: "create directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(file);
    write_atomic(&path, bytes)?;
    Ok(path)
}

/// The file an artifact path names: `path/file` when `path` is a
/// directory, `path` itself otherwise.
pub fn file_in(path: &Path, file: &str) -> PathBuf {
    if path.is_dir() {
        path.join(file)
    } else {
        path.to_path_buf()
    }
}

/// Read the artifact `path` names ([`file_in`]), at most `limit` bytes
/// ([`read_limited`]).
///
/// # Errors
/// As [`read_limited`].
pub fn read_in(what: &'static str, path: &Path, file: &str, limit: u64) -> Result<Vec<u8>> {
    read_limited(what, &file_in(path, file), limit)
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, hexadecimal (used for data digests in run provenance).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn staged_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("charts");
        {
            let staged = StagedDir::new(&target).unwrap();
            std::fs::write(staged.path().join("a.svg"), b"a").unwrap();
            // Dropped without commit: nothing left, not even the staging directory.
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let staged = StagedDir::new(&target).unwrap();
        std::fs::create_dir(staged.path().join("sub")).unwrap();
        std::fs::write(staged.path().join("sub/b.svg"), b"b").unwrap();
        let file = staged.path().join("a.svg");
        std::fs::write(&file, b"a").unwrap();
        assert_eq!(staged.final_path(&file), target.join("a.svg"));
        staged.commit().unwrap();
        assert_eq!(std::fs::read(target.join("a.svg")).unwrap(), b"a");
        assert_eq!(std::fs::read(target.join("sub/b.svg")).unwrap(), b"b");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(dir.path().join("file"), b"x").unwrap();
        assert!(StagedDir::new(&dir.path().join("file")).is_err());
    }

    use super::*;

    #[test]
    fn round_trip_and_every_kind_of_damage() {
        let sealed = seal("model", 1, b"{\"a\":1}");
        assert_eq!(
            unseal("model file", "model", 1, &sealed).unwrap(),
            (1, &b"{\"a\":1}"[..])
        );
        assert!(matches!(
            unseal("m", "model", 1, &sealed[..sealed.len() - 1]),
            Err(Error::Corrupt { .. })
        ));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        assert!(matches!(unseal("m", "model", 1, &flipped), Err(Error::Corrupt { .. })));
        assert!(matches!(
            unseal("m", "model", 0, &sealed),
            Err(Error::UnsupportedVersion { found: 1, .. })
        ));
        assert!(matches!(unseal("m", "other", 1, &sealed), Err(Error::Corrupt { .. })));
        assert!(matches!(
            unseal("m", "model", 1, b"garbage"),
            Err(Error::Corrupt { .. })
        ));
        assert!(matches!(unseal("m", "model", 1, b""), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
