//! Persistent GameStream host state in a directory:
//!
//! - `gamestream-host.pem` / `gamestream-host.key` (PKCS#8 DER): the host identity, made
//!   once, pinned by every paired client;
//! - `gamestream-uniqueid`: the host's stable `uniqueid`;
//! - `gamestream-paired`: paired clients, one line each: `<hex(name)> <hex(DER)>`.
//!
//! Every file is written atomically: a temporary file in the same directory, fsync, rename,
//! fsync of the directory. A crash leaves either the old or the new content.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::hex;
use super::pairing::{ClientCert, HostIdentity, PairingError};

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system error on this path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A stored identity does not load.
    #[error("stored host identity: {0}")]
    Identity(#[from] PairingError),
    /// A line of the paired-clients file is malformed.
    #[error("paired-clients file line {0} is malformed")]
    Corrupt(usize),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `data` to `path` atomically (temp file, fsync, rename, directory fsync).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(data).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err(path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(())
}

/// One paired client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairedClient {
    /// Name given when the PIN was entered.
    pub name: String,
    /// Its certificate.
    pub cert: ClientCert,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the state directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Loads the host identity, generating and saving one on first use.
    pub fn host_identity(&self) -> Result<HostIdentity, StoreError> {
        let cert = self.path("gamestream-host.pem");
        let key = self.path("gamestream-host.key");
        if cert.exists() && key.exists() {
            let pem = fs::read_to_string(&cert).map_err(io_err(&cert))?;
            let der = fs::read(&key).map_err(io_err(&key))?;
            return Ok(HostIdentity::from_pem(&pem, &der)?);
        }
        let id = HostIdentity::generate()?;
        write_atomic(&key, id.key_pkcs8())?;
        write_atomic(&cert, id.cert_pem().as_bytes())?;
        Ok(id)
    }

    /// The host's stable `uniqueid` (a random UUID made on first use).
    pub fn unique_id(&self) -> Result<String, StoreError> {
        let path = self.path("gamestream-uniqueid");
        if let Ok(s) = fs::read_to_string(&path) {
            let s = s.trim();
            if !s.is_empty() {
                return Ok(s.to_owned());
            }
        }
        let mut b = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode_upper(&b).to_lowercase();
        let id = format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        );
        write_atomic(&path, id.as_bytes())?;
        Ok(id)
    }

    /// All paired clients (none if the file does not exist yet).
    pub fn paired_clients(&self) -> Result<Vec<PairedClient>, StoreError> {
        let path = self.path("gamestream-paired");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut out = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let (name, der) = line.split_once(' ').ok_or(StoreError::Corrupt(i + 1))?;
            let name = hex::decode(name)
                .ok()
                .and_then(|n| String::from_utf8(n).ok());
            let der = hex::decode(der).ok();
            let (Some(name), Some(der)) = (name, der) else {
                return Err(StoreError::Corrupt(i + 1));
            };
            let cert = ClientCert::from_der(&der).map_err(|_| StoreError::Corrupt(i + 1))?;
            out.push(PairedClient { name, cert });
        }
        Ok(out)
    }

    /// Replaces the paired-clients file with `clients`.
    pub fn save_paired_clients(&self, clients: &[PairedClient]) -> Result<(), StoreError> {
        let mut text = String::new();
        for c in clients {
            text.push_str(&hex::encode_upper(c.name.as_bytes()));
            text.push(' ');
            text.push_str(&hex::encode_upper(c.cert.der()));
            text.push('\n');
        }
        write_atomic(&self.path("gamestream-paired"), text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_clients_persist() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("state")).unwrap();
        let id = store.host_identity().unwrap();
        assert_eq!(
            store.host_identity().unwrap().cert_der(),
            id.cert_der(),
            "stable across loads"
        );
        let uid = store.unique_id().unwrap();
        assert_eq!(uid.len(), 36);
        assert_eq!(store.unique_id().unwrap(), uid);
        assert!(store.paired_clients().unwrap().is_empty());
        let cert = ClientCert::from_der(id.cert_der()).unwrap();
        let clients = vec![PairedClient {
            name: "living room tv".into(),
            cert,
        }];
        store.save_paired_clients(&clients).unwrap();
        assert_eq!(
            Store::open(dir.path().join("state"))
                .unwrap()
                .paired_clients()
                .unwrap(),
            clients
        );
        fs::write(dir.path().join("state/gamestream-paired"), "zz 00\n").unwrap();
        assert!(matches!(
            store.paired_clients(),
            Err(StoreError::Corrupt(1))
        ));
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("state"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
            .collect();
        assert!(leftovers.is_empty(), "no temp files left behind");
    }
}
