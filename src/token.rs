//! Player tokens, exactly as the reference signs them so that existing challenge servers
//! keep verifying them: `GgT-` + URL-safe base64 of the Ed25519 signed message (the
//! 64-byte signature, then the uid as little-endian bytes without trailing zeros).

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

const PREFIX: &str = "GgT-";

/// Signs and verifies player tokens with one Ed25519 key.
#[derive(Clone)]
pub struct TokenSigner {
    key: SigningKey,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(<secret>)")
    }
}

fn uid_bytes(uid: i64) -> Vec<u8> {
    let mut bytes = uid.to_le_bytes().to_vec();
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

impl TokenSigner {
    /// A signer from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> TokenSigner {
        TokenSigner {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// A signer from a base64 seed (standard or URL-safe alphabet).
    pub fn from_base64(seed: &str) -> Result<TokenSigner, String> {
        let bytes = URL_SAFE
            .decode(seed.trim())
            .or_else(|_| STANDARD.decode(seed.trim()))
            .map_err(|e| format!("the token signing key is not base64: {e}"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("the token signing key has {} bytes, not 32", b.len()))?;
        Ok(TokenSigner::from_seed(seed))
    }

    /// The public key challenge servers verify with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The token of user `uid`.
    pub fn sign(&self, uid: i64) -> String {
        let msg = uid_bytes(uid);
        let mut signed = self.key.sign(&msg).to_bytes().to_vec();
        signed.extend_from_slice(&msg);
        format!("{PREFIX}{}", URL_SAFE.encode(signed))
    }

    /// The uid a token was issued to, if the token is genuine.
    pub fn verify(&self, token: &str) -> Option<i64> {
        verify_with(&self.verifying_key(), token)
    }
}

/// The uid a token was issued to under `key`, if the token is genuine.
pub fn verify_with(key: &VerifyingKey, token: &str) -> Option<i64> {
    let signed = URL_SAFE.decode(token.strip_prefix(PREFIX)?).ok()?;
    if signed.len() < 64 || signed.len() > 64 + 8 {
        return None;
    }
    let (sig, msg) = signed.split_at(64);
    let sig = Signature::from_slice(sig).ok()?;
    key.verify(msg, &sig).ok()?;
    let mut bytes = [0u8; 8];
    bytes[..msg.len()].copy_from_slice(msg);
    Some(i64::from_le_bytes(bytes))
}

/// A new random signing seed, URL-safe base64 (for `gs keygen` and first starts).
pub fn new_seed_base64() -> String {
    let seed: [u8; 32] = rand::random();
    URL_SAFE.encode(seed)
}
