//! Secrets: a string type that never shows in `Debug`, the checks of the token-signing key
//! and the glitter token, and the secrets kept (generated once) under the data directory.

use super::{Config, ConfigError, Origin};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng;
use std::fmt;
use std::io::Write;
use std::path::Path;

/// A secret string whose `Debug` never shows it, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(super) String);

impl Secret {
    /// Wraps a secret value (tests and generated secrets).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; only for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A token-signing key must be URL-safe base64 of exactly 32 bytes (padding optional).
pub(super) fn check_signing_key(key: &str) -> Result<(), String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(key.trim().trim_end_matches('='))
        .map_err(|e| format!("expected URL-safe base64 of a 32-byte Ed25519 seed: {e}"))?;
    if bytes.len() != 32 {
        return Err(format!(
            "expected URL-safe base64 of a 32-byte Ed25519 seed, found {} bytes",
            bytes.len()
        ));
    }
    Ok(())
}

/// 32 random bytes as URL-safe base64.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a secret kept under the data dir, creating it (readable by the owner only)
/// the first time. `create_new` makes two processes starting at once agree on one value.
pub(super) fn kept_secret(
    path: &Path,
    check: fn(&str) -> Result<(), String>,
    key: &str,
) -> Result<String, ConfigError> {
    let io = |what: &str, source: std::io::Error, help: &str| ConfigError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
        help: help.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            let secret = random_secret();
            file.write_all(secret.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| {
                    io(
                        "cannot write the generated secret",
                        e,
                        "check the permissions of paths.data",
                    )
                })?;
            tracing::info!(key, file = %path.display(), "generated a new secret");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                io(
                    "cannot read the secret",
                    e,
                    "check the permissions of paths.data",
                )
            })?;
            let secret = text.trim().to_string();
            check(&secret).map_err(|reason| ConfigError::BadValue {
                key: key.to_string(),
                origin: Origin::SecretFile(path.to_path_buf()),
                reason: format!("{reason}\n  help: delete the file to have a new one generated (tokens signed with the old one stop working)"),
            })?;
            Ok(secret)
        }
        Err(e) => Err(io(
            "cannot create the secret file",
            e,
            "check the permissions of paths.data",
        )),
    }
}

/// A glitter token just has to be non-empty.
pub(super) fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        Err("the file is empty".into())
    } else {
        Ok(())
    }
}

impl Config {
    /// The token-signing seed's 32 bytes.
    pub fn token_signing_seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        // Checked by `load`, so decoding cannot fail here; a zero seed is never returned
        // for a loaded config.
        if let Ok(bytes) = URL_SAFE_NO_PAD.decode(
            self.secrets
                .token_signing_key
                .expose()
                .trim_end_matches('='),
        ) {
            if bytes.len() == 32 {
                seed.copy_from_slice(&bytes);
            }
        }
        seed
    }
}
