//! Persistent host state in a state directory: the TLS identity (`native-cert.pem`,
//! `native-key.pem`) and the paired clients (`punktfunk1-paired.json`).
//!
//! Every write is atomic: temp file in the same directory, fsync, rename, fsync the directory.
//! A file that exists but cannot be read back is reported as [`StateError::Corrupt`] and never
//! silently overwritten: the operator decides what to do with it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use punktfunk_core::native::control::pake::Fingerprint;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::native::tls::{Identity, TlsError};

/// Host certificate file name.
pub const CERT_FILE: &str = "native-cert.pem";
/// Host key file name.
pub const KEY_FILE: &str = "native-key.pem";
/// Paired-clients file name.
pub const PAIRED_FILE: &str = "punktfunk1-paired.json";

/// Errors reading or writing persistent state.
#[derive(Debug, Error)]
pub enum StateError {
    /// An I/O error on a state file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A state file exists but its contents are unusable; it was left untouched.
    #[error("{path} is corrupt ({reason}); it was left untouched — move it away to start fresh")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Generating a new identity failed.
    #[error("identity: {0}")]
    Tls(#[from] TlsError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `data` to `path` atomically (temp file, fsync, rename, fsync directory), mode 0600.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StateError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

/// One paired client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairedClient {
    /// Name from its PairRequest.
    pub name: String,
    /// Certificate fingerprint, lowercase hex.
    pub fingerprint: String,
    /// When it was paired (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_unix: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PairedFile {
    clients: Vec<PairedClient>,
}

/// The host's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Opens (creating, mode 0700) the directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StateError> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(&dir))?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Loads the identity, creating and persisting a new one on first start. Returns the
    /// identity and whether it was created now.
    pub fn load_or_create_identity(&self, names: &[&str]) -> Result<(Identity, bool), StateError> {
        self.load_or_create_identity_in(CERT_FILE, KEY_FILE, names)
    }

    /// As [`load_or_create_identity`](Self::load_or_create_identity) with other file names
    /// (the reference client keeps `client-cert.pem` / `client-key.pem`).
    pub fn load_or_create_identity_in(
        &self,
        cert_file: &str,
        key_file: &str,
        names: &[&str],
    ) -> Result<(Identity, bool), StateError> {
        let cert_path = self.dir.join(cert_file);
        let key_path = self.dir.join(key_file);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                let cert = fs::read(&cert_path).map_err(io_err(&cert_path))?;
                let key = fs::read(&key_path).map_err(io_err(&key_path))?;
                let id = Identity::from_pem(&cert, &key).map_err(|e| StateError::Corrupt {
                    path: cert_path.clone(),
                    reason: e.to_string(),
                })?;
                Ok((id, false))
            }
            (false, false) => {
                let id = Identity::generate(names)?;
                let (c, k) = id.to_pem();
                // Key first: a crash in between leaves a key without a cert, reported below.
                write_atomic(&key_path, k.as_bytes())?;
                write_atomic(&cert_path, c.as_bytes())?;
                Ok((id, true))
            }
            (c, _) => {
                let (path, missing) = if c {
                    (cert_path, KEY_FILE)
                } else {
                    (key_path, CERT_FILE)
                };
                Err(StateError::Corrupt {
                    path,
                    reason: format!("{missing} is missing beside it"),
                })
            }
        }
    }

    /// Loads the paired clients (empty when the file does not exist yet).
    pub fn load_paired(&self) -> Result<PairedStore, StateError> {
        let path = self.dir.join(PAIRED_FILE);
        let file: PairedFile = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => PairedFile::default(),
            Err(e) => return Err(StateError::Io { path, source: e }),
        };
        for c in &file.clients {
            if Fingerprint::from_hex(&c.fingerprint).is_none() {
                return Err(StateError::Corrupt {
                    path,
                    reason: format!("client {:?} has an invalid fingerprint", c.name),
                });
            }
        }
        Ok(PairedStore {
            path,
            clients: file.clients,
        })
    }
}

/// The paired clients, persisted on every change.
#[derive(Debug)]
pub struct PairedStore {
    path: PathBuf,
    clients: Vec<PairedClient>,
}

impl PairedStore {
    /// Whether a client with this fingerprint is paired.
    pub fn contains(&self, fp: &Fingerprint) -> bool {
        self.clients
            .iter()
            .any(|c| Fingerprint::from_hex(&c.fingerprint) == Some(*fp))
    }

    /// All paired clients.
    pub fn clients(&self) -> &[PairedClient] {
        &self.clients
    }

    /// Adds (or renames) a client and writes the file atomically.
    pub fn add(&mut self, name: &str, fp: &Fingerprint, now_unix: u64) -> Result<(), StateError> {
        self.clients
            .retain(|c| Fingerprint::from_hex(&c.fingerprint) != Some(*fp));
        self.clients.push(PairedClient {
            name: name.to_string(),
            fingerprint: fp.to_hex(),
            granted_unix: Some(now_unix),
        });
        self.flush()
    }

    /// Writes the current list atomically.
    pub fn flush(&self) -> Result<(), StateError> {
        let file = PairedFile {
            clients: self.clients.clone(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| StateError::Io {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        write_atomic(&self.path, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_created_once_and_reloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::open(tmp.path().join("st")).unwrap();
        let (a, created) = sd.load_or_create_identity(&["localhost"]).unwrap();
        assert!(created);
        let (b, created) = sd.load_or_create_identity(&["localhost"]).unwrap();
        assert!(!created);
        assert_eq!(a.fingerprint(), b.fingerprint());
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(sd.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn corrupt_identity_is_reported_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::open(tmp.path()).unwrap();
        fs::write(tmp.path().join(CERT_FILE), b"garbage").unwrap();
        fs::write(tmp.path().join(KEY_FILE), b"more garbage").unwrap();
        let err = sd.load_or_create_identity(&["x"]).unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert_eq!(fs::read(tmp.path().join(CERT_FILE)).unwrap(), b"garbage");
        fs::remove_file(tmp.path().join(CERT_FILE)).unwrap();
        assert!(matches!(
            sd.load_or_create_identity(&["x"]),
            Err(StateError::Corrupt { .. })
        ));
        assert_eq!(
            fs::read(tmp.path().join(KEY_FILE)).unwrap(),
            b"more garbage"
        );
    }

    #[test]
    fn paired_store_persists_and_corrupt_file_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::open(tmp.path()).unwrap();
        let mut st = sd.load_paired().unwrap();
        let fp = Fingerprint([7; 32]);
        assert!(!st.contains(&fp));
        st.add("deck", &fp, 1_700_000_000).unwrap();
        st.add("deck2", &fp, 1_700_000_001).unwrap();
        let back = sd.load_paired().unwrap();
        assert!(back.contains(&fp));
        assert_eq!(back.clients().len(), 1);
        assert_eq!(back.clients()[0].name, "deck2");
        fs::write(tmp.path().join(PAIRED_FILE), b"{not json").unwrap();
        assert!(matches!(sd.load_paired(), Err(StateError::Corrupt { .. })));
        assert_eq!(
            fs::read(tmp.path().join(PAIRED_FILE)).unwrap(),
            b"{not json"
        );
        fs::write(
            tmp.path().join(PAIRED_FILE),
            br#"{"clients":[{"name":"x","fingerprint":"zz"}]}"#,
        )
        .unwrap();
        assert!(matches!(sd.load_paired(), Err(StateError::Corrupt { .. })));
    }
}
