//! Cryptography around the game: the admin panel's second-factor cookie (HMAC), and the
//! RSA the identity providers need: reading PEM keys, RS256-signed JWTs (Microsoft's client
//! assertion) and PKCS#1 v1.5 decryption (CARSI's attributes), plus base64url helpers.
//!
//! RSA is slow CPU work (milliseconds), so callers on the async runtime run these
//! functions through `tokio::task::spawn_blocking`. Private operations are blinded.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use rand::rngs::SysRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rsa::{Pkcs1v15Encrypt, PrivateKey};
use serde_json::Value;
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

/// Name of the admin panel's second-factor cookie.
pub const ADMIN_2FA_COOKIE: &str = "admin_2fa";

/// The `admin_2fa` cookie value for a login: hex HMAC-SHA256 keyed by the glitter token
/// over `"admin_2fa:" + auth_token`. The admin panel lives in the reducer process, which
/// knows the same token, so it can recompute and compare this value.
pub fn admin_2fa_value(glitter_token: &str, auth_token: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(glitter_token.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"admin_2fa:");
    mac.update(auth_token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// An RSA private key whose `Debug` never shows it.
#[derive(Clone)]
pub struct RsaKey(Arc<PrivateKey>);

impl fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaKey(<redacted>)")
    }
}

/// Reads a PEM RSA private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`). The error never contains key material.
pub fn parse_private_key(pem: &str) -> Result<RsaKey, String> {
    let pem = pem.trim();
    let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
        PrivateKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())?
    } else {
        PrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?
    };
    Ok(RsaKey(Arc::new(key)))
}

/// URL-safe base64 without padding, as JWTs use it.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64 in any of its common forms (standard or URL-safe, padded or not,
/// with line breaks); `None` if it is none of them.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
}

/// A compact JWS: `header.claims.signature`, signed RS256 (PKCS#1 v1.5 over SHA-256).
pub fn jwt_rs256(key: &RsaKey, header: &Value, claims: &Value) -> Result<String, String> {
    let header = serde_json::to_vec(header).map_err(|e| e.to_string())?;
    let claims = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    let signing_input = format!("{}.{}", b64url(&header), b64url(&claims));
    let signer = SigningKey::<Sha256>::new((*key.0).clone());
    let signature = signer
        .try_sign_with_rng(&mut SysRng, signing_input.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok(format!("{signing_input}.{}", b64url(&signature.to_bytes())))
}

/// Decrypts base64 `text` encrypted to `key` with PKCS#1 v1.5 padding, as UTF-8.
/// Every failure (bad base64, wrong length, bad padding, not UTF-8) is an error.
pub fn decrypt_pkcs1v15(key: &RsaKey, text: &str) -> Result<String, &'static str> {
    let bytes = decode_base64(text).ok_or("not base64")?;
    let plain = key
        .0
        .decrypt_blinded(&mut SysRng, Pkcs1v15Encrypt, &bytes)
        .map_err(|_| "cannot be decrypted with the configured key")?;
    String::from_utf8(plain).map_err(|_| "not UTF-8 once decrypted")
}

/// The payload of a compact JWT as JSON, without checking its signature.
pub fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    let bytes = decode_base64(payload)?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_2fa_is_hex_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let v = admin_2fa_value("tok", "abc");
        assert_eq!(v.len(), 64);
        assert_ne!(v, admin_2fa_value("tok", "abd"));
        assert_ne!(v, admin_2fa_value("tok2", "abc"));
    }
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    use rsa::traits::PublicKeyParts;
    use rsa::PublicKey;

    fn key() -> RsaKey {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/oauth_test_rsa.pem"
        ))
        .expect("test key");
        parse_private_key(&pem).expect("parses")
    }

    #[test]
    fn signs_verifiable_jwts_and_decrypts() {
        let key = key();
        let token = jwt_rs256(
            &key,
            &serde_json::json!({"alg": "RS256", "typ": "JWT"}),
            &serde_json::json!({"sub": "x"}),
        )
        .unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let public = PublicKey::from(&*key.0);
        let verifier = VerifyingKey::<Sha256>::new(public.clone());
        let sig = Signature::try_from(decode_base64(sig).unwrap().as_slice()).unwrap();
        verifier.verify(input.as_bytes(), &sig).unwrap();
        assert_eq!(jwt_claims(&token).unwrap()["sub"], "x");

        let ct = public
            .encrypt(
                &mut SysRng,
                Pkcs1v15Encrypt,
                "student@pku.edu.cn".as_bytes(),
            )
            .unwrap();
        assert_eq!(
            decrypt_pkcs1v15(&key, &STANDARD.encode(&ct)).unwrap(),
            "student@pku.edu.cn"
        );
        // Hostile input is an error, never a panic.
        assert!(decrypt_pkcs1v15(&key, "!!!").is_err());
        assert!(decrypt_pkcs1v15(&key, &STANDARD.encode(b"short")).is_err());
        assert!(decrypt_pkcs1v15(&key, &STANDARD.encode(vec![0xffu8; public.size()])).is_err());
        assert!(decrypt_pkcs1v15(&key, &STANDARD.encode(vec![0u8; 4096])).is_err());
        assert!(jwt_claims("a.!!.c").is_none());
        assert!(jwt_claims("").is_none());
        assert!(format!("{key:?}").contains("redacted"));
        assert!(
            parse_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }
}
