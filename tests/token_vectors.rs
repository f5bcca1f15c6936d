//! The player token vectors of shared/golden/tokens.json, byte for byte.

mod common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gs::token::TokenSigner;

#[test]
fn tokens_match_the_reference_byte_for_byte() {
    let v = common::golden_json("tokens.json");
    let signer =
        TokenSigner::from_base64(v["signing_key"].as_str().expect("key")).expect("valid key");
    assert_eq!(
        STANDARD.encode(signer.verifying_key().as_bytes()),
        v["verify_key"].as_str().expect("vk")
    );
    let tokens = v["tokens"].as_array().expect("tokens");
    assert!(!tokens.is_empty());
    for t in tokens {
        let uid = t["uid"].as_i64().expect("uid");
        let token = t["token"].as_str().expect("token");
        assert_eq!(signer.sign(uid), token, "uid {uid}");
        assert_eq!(signer.verify(token), Some(uid));
    }
    for bad in v["invalid"].as_array().expect("invalid") {
        assert_eq!(signer.verify(bad.as_str().expect("str")), None, "{bad}");
    }
}
