//! The client key: generated, used and stored only on the client.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tfhe::core_crypto::prelude::*;
use zeroize::{Zeroize, Zeroizing};

use crate::params::{PARAMS_2048_TUNIFORM17, Parameters};
use crate::wire::{self, Kind};
use crate::{Error, Result};

/// File name of the client key inside a key directory.
pub const CLIENT_KEY_FILE: &str = "client.key";

/// A key fingerprint: the first 16 bytes of SHA-256 over a domain tag and the
/// secret key. It names the key in every message so that ciphertexts of
/// another key are refused instead of decrypting to noise.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint(pub [u8; 16]);

impl KeyFingerprint {
    /// Refuse `found` (read from `what`) unless it is this fingerprint.
    ///
    /// # Errors
    /// [`Error::KeyMismatch`].
    pub fn check(&self, what: &'static str, found: [u8; 16]) -> Result<()> {
        if found != self.0 {
            return Err(Error::KeyMismatch {
                what,
                found: ml_core::io::hex(&found),
                expected: self.to_string(),
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self)
    }
}

impl std::fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&ml_core::io::hex(&self.0))
    }
}

/// The client's secret key: a binary LWE secret of the parameter set's
/// dimension. It never leaves the client except through
/// [`ClientKey::save`]; its memory is zeroized on drop. It is deliberately
/// not `Clone`, and its `Debug` shows only the fingerprint.
pub struct ClientKey {
    params: &'static Parameters,
    secret: LweSecretKeyOwned<u64>,
    fingerprint: KeyFingerprint,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("params", &self.params.name)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Drop for ClientKey {
    fn drop(&mut self) {
        self.secret.as_mut().zeroize();
    }
}

impl ClientKey {
    /// A fresh key from the operating system's entropy (tfhe's seeder: RDSEED
    /// where the CPU has it, else `/dev/random`) through tfhe's CSPRNG. It is
    /// the GLWE secret of the parameter set (k·N = 2048 binary coefficients)
    /// seen as an LWE key, so that a later key switch and bootstrap can use it.
    pub fn generate() -> Self {
        let params = &PARAMS_2048_TUNIFORM17;
        let mut seeder = new_seeder();
        let mut generator = SecretRandomGenerator::<DefaultRandomGenerator>::new(seeder.seed());
        let glwe = allocate_and_generate_new_binary_glwe_secret_key::<u64, _>(
            GlweDimension(1),
            PolynomialSize(params.lwe_dimension),
            &mut generator,
        );
        Self::from_secret(params, glwe.into_lwe_secret_key())
    }

    fn from_secret(params: &'static Parameters, secret: LweSecretKeyOwned<u64>) -> Self {
        let mut h = Sha256::new();
        h.update(b"ml-he client key v1\0");
        h.update(params.id.to_le_bytes());
        for &v in secret.as_ref() {
            h.update([v as u8]);
        }
        let digest = h.finalize();
        let mut fp = [0u8; 16];
        fp.copy_from_slice(&digest[..16]);
        Self {
            params,
            secret,
            fingerprint: KeyFingerprint(fp),
        }
    }

    /// The key's fingerprint.
    pub fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }

    /// The parameter set.
    pub fn params(&self) -> &'static Parameters {
        self.params
    }

    pub(crate) fn secret(&self) -> &LweSecretKeyOwned<u64> {
        &self.secret
    }

    /// The key in the wire format (a [`Kind::ClientKey`] message: the secret's
    /// bits packed eight to a byte). The buffer is zeroized when dropped.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut body = Zeroizing::new(vec![0u8; self.params.lwe_dimension.div_ceil(8)]);
        for (i, &v) in self.secret.as_ref().iter().enumerate() {
            body[i / 8] |= ((v & 1) as u8) << (i % 8);
        }
        Zeroizing::new(wire::encode(
            Kind::ClientKey,
            self.params.id,
            self.fingerprint.0,
            [0; 16],
            &body,
        ))
    }

    /// Read a key written by [`ClientKey::to_bytes`], checking its format,
    /// parameters and fingerprint.
    ///
    /// # Errors
    /// [`Error::Format`], [`Error::Version`], [`Error::Parameters`],
    /// [`Error::KeyMismatch`] (the stored fingerprint does not match the key).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const W: &str = "client key";
        let msg = wire::decode(W, Kind::ClientKey, bytes, 1 << 20)?;
        let params = Parameters::require(W, msg.params_id)?;
        if msg.body.len() != params.lwe_dimension.div_ceil(8) {
            return Err(Error::format(
                W,
                format!("{} key bytes, expected {}", msg.body.len(), params.lwe_dimension / 8),
            ));
        }
        let mut bits: Vec<u64> = (0..params.lwe_dimension)
            .map(|i| u64::from((msg.body[i / 8] >> (i % 8)) & 1))
            .collect();
        let secret = LweSecretKey::from_container(std::mem::take(&mut bits));
        let key = Self::from_secret(params, secret);
        key.fingerprint.check(W, msg.key_fingerprint)?;
        Ok(key)
    }

    /// Write the key to `dir/client.key` (creating `dir`), readable by its
    /// owner only (mode 0600 on Unix) from the moment it exists, and
    /// atomically: a reader never sees a partial key.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let path = dir.join(CLIENT_KEY_FILE);
        let tmp = dir.join(format!(".{CLIENT_KEY_FILE}.{}.tmp", std::process::id()));
        let bytes = self.to_bytes();
        let result = (|| {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut f = options.open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io("write", &path))?;
        Ok(path)
    }

    /// Read `dir/client.key` (or the file itself when `path` is a file).
    ///
    /// # Errors
    /// [`Error::Io`] and the errors of [`ClientKey::from_bytes`].
    pub fn load(path: &Path) -> Result<Self> {
        let file = ml_core::io::file_in(path, CLIENT_KEY_FILE);
        let bytes = Zeroizing::new(std::fs::read(&file).map_err(|source| Error::Io {
            op: "read",
            path: file.clone(),
            source,
        })?);
        Self::from_bytes(&bytes)
    }
}
