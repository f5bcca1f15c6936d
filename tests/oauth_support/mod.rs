//! Shared by the OAuth tests: one mock identity provider on 127.0.0.1:0 speaking the
//! GitHub, Microsoft, CARSI, IAAA and OpenID Connect protocols (checking what the
//! backend sends), the real reducer and one worker configured for it, and a "browser"
//! that walks through a login (start → provider → callback) with or without the state.
//!
//! The mock's answer depends on the code (the scenario): `alice`, `bob`, `carol` are
//! users; `error` makes the token endpoint refuse; `slow` sleeps 20 s first; `hostile-*`
//! return malformed data.
#![allow(dead_code)]

use crate::http_support::{test_config, WISH_VERSION};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use gs::rows::{Dump, Tables};
use gs::store::Store;
use md5::{Digest, Md5};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::Verifier;
use rsa::{Pkcs1v15Encrypt, PrivateKey, PublicKey};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The test RSA key (Microsoft certificate key and CARSI attribute key).
pub const KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/oauth_test_rsa.pem"
);
/// SHA-1 thumbprint of a certificate for that key.
pub const THUMBPRINT: &str = "DB71720994EE18E555EB91AA385B6918C6FD8F42";
/// How long the `slow` scenario keeps the token endpoint waiting.
pub const SLOW: Duration = Duration::from_secs(20);

/// What the mock has seen.
#[derive(Default)]
pub struct Seen {
    /// Token requests received.
    pub token_requests: AtomicU64,
    /// Token requests in flight.
    pub in_flight: AtomicU64,
    /// Requests that arrived through the proxy (absolute-form, foreign Host).
    pub proxied: AtomicU64,
}

struct MockState {
    base: String,
    public: PublicKey,
    /// OIDC: code → (code_challenge, nonce).
    oidc_codes: Mutex<HashMap<String, (String, String)>>,
    next: AtomicU64,
    seen: Arc<Seen>,
}

/// The running mock provider.
pub struct MockIdp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Counters.
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type St = State<Arc<MockState>>;
type Q = Query<HashMap<String, String>>;

fn scenario(code: &str) -> &str {
    code.split('~').next().unwrap_or(code)
}

use gs::clock::now_s;

/// Redirects to `redirect_uri` with the code (the scenario) and the state.
fn back(q: &HashMap<String, String>, code: &str) -> Response {
    let mut url = reqwest::Url::parse(&q["redirect_uri"]).expect("redirect_uri is a URL");
    url.query_pairs_mut().append_pair("code", code);
    if let Some(s) = q.get("state") {
        url.query_pairs_mut().append_pair("state", s);
    }
    Redirect::to(url.as_str()).into_response()
}

fn refuse(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// Common token-endpoint scenarios; `None` means "issue a token".
async fn token_scenario(st: &MockState, headers: &HeaderMap, code: &str) -> Option<Response> {
    st.seen.token_requests.fetch_add(1, Ordering::SeqCst);
    if headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.ends_with(".invalid"))
    {
        st.seen.proxied.fetch_add(1, Ordering::SeqCst);
    }
    match scenario(code) {
        "error" => Some(refuse(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
        )),
        "slow" => {
            st.seen.in_flight.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(SLOW).await;
            st.seen.in_flight.fetch_sub(1, Ordering::SeqCst);
            None
        }
        "hostile-notjson" => Some((StatusCode::OK, "<html>oops</html>").into_response()),
        "hostile-deep" => Some((StatusCode::OK, "[".repeat(100_000)).into_response()),
        "hostile-token" => Some(Json(json!({"access_token": {"a": [1, 2]}})).into_response()),
        _ => None,
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

/// Common user-endpoint scenarios for a token `<prefix><scenario>`.
fn user_scenario(token: &str) -> Option<Response> {
    if token.ends_with("hostile-huge") {
        let body = format!("{{\"id\":1,\"pad\":\"{}\"}}", "x".repeat(2 << 20));
        return Some((StatusCode::OK, body).into_response());
    }
    None
}

// --- GitHub ---------------------------------------------------------------------------

async fn gh_authorize(q: Q) -> Response {
    assert_eq!(q.get("client_id").map(String::as_str), Some("gh-id"));
    back(&q, q.get("scenario").map_or("alice", String::as_str))
}

async fn gh_token(
    State(st): St,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if f.get("client_id").map(String::as_str) != Some("gh-id")
        || f.get("client_secret").map(String::as_str) != Some("gh-secret")
        || !f
            .get("redirect_uri")
            .is_some_and(|r| r.ends_with("/service/auth/github/login/callback"))
    {
        return refuse("incorrect_client_credentials", "bad client or redirect_uri");
    }
    let code = f.get("code").cloned().unwrap_or_default();
    if let Some(res) = token_scenario(&st, &headers, &code).await {
        return res;
    }
    Json(json!({"access_token": format!("gho_{}", scenario(&code)), "token_type": "bearer"}))
        .into_response()
}

async fn gh_user(headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Requires authentication"})),
        )
            .into_response();
    };
    if let Some(res) = user_scenario(&token) {
        return res;
    }
    match token.as_str() {
        "gho_alice" => Json(json!({"id": 1001, "login": "alice", "name": "Alice"})),
        "gho_bob" => Json(json!({"id": 1002, "login": "bob", "name": "Bob"})),
        "gho_slow" => Json(json!({"id": 1009, "login": "slowpoke", "name": "Slow"})),
        "gho_hostile-id" => Json(json!({"id": {"$gt": ""}, "login": ["x"]})),
        _ => Json(json!({"message": "Bad credentials"})),
    }
    .into_response()
}

// --- Microsoft ------------------------------------------------------------------------

async fn ms_authorize(q: Q) -> Response {
    assert_eq!(q.get("client_id").map(String::as_str), Some("ms-id"));
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(q.get("scope").map(String::as_str), Some("User.Read"));
    back(&q, q.get("scenario").map_or("alice", String::as_str))
}

/// Checks the client assertion as Microsoft would; `Err` is the reason.
fn check_assertion(st: &MockState, tenant: &str, jwt: &str) -> Result<(), String> {
    let (input, sig) = jwt.rsplit_once('.').ok_or("not a JWT")?;
    let (header, claims) = input.split_once('.').ok_or("not a JWT")?;
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let x5t = URL_SAFE_NO_PAD.encode(hex::decode(THUMBPRINT).unwrap());
    if header["alg"] != "RS256" || header["x5t"] != x5t.as_str() {
        return Err(format!("bad header {header}"));
    }
    let sig = Signature::try_from(
        URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|e| e.to_string())?
            .as_slice(),
    )
    .map_err(|e| e.to_string())?;
    VerifyingKey::<Sha256>::new(st.public.clone())
        .verify(input.as_bytes(), &sig)
        .map_err(|e| format!("signature: {e}"))?;
    let aud = format!("{}/ms/{tenant}/oauth2/v2.0/token", st.base);
    let now = now_s();
    let ok = claims["aud"] == aud.as_str()
        && claims["iss"] == "ms-id"
        && claims["sub"] == "ms-id"
        && claims["jti"].as_str().is_some_and(|j| j.len() == 36)
        && claims["exp"].as_i64().is_some_and(|e| e > now)
        && claims["nbf"].as_i64().is_some_and(|n| n <= now);
    if ok {
        Ok(())
    } else {
        Err(format!("bad claims {claims}"))
    }
}

async fn ms_token(
    State(st): St,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let assertion = f.get("client_assertion").cloned().unwrap_or_default();
    if f.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        || f.get("grant_type").map(String::as_str) != Some("authorization_code")
        || f.contains_key("client_secret")
    {
        return refuse("invalid_request", "bad form");
    }
    if let Err(why) = check_assertion(&st, &tenant, &assertion) {
        return refuse("invalid_client", &format!("AADSTS700027: {why}"));
    }
    let code = f.get("code").cloned().unwrap_or_default();
    if let Some(res) = token_scenario(&st, &headers, &code).await {
        return res;
    }
    Json(json!({"access_token": format!("ms_{}", scenario(&code)), "token_type": "Bearer"}))
        .into_response()
}

async fn ms_me(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    if let Some(res) = user_scenario(&token) {
        return res;
    }
    match token.as_str() {
        "ms_alice" => Json(json!({"id": "00000000-alice", "displayName": "Alice", "userPrincipalName": "alice@outlook.com"})),
        "ms_bob" => Json(json!({"id": "00000000-bob", "displayName": "Bob"})),
        "ms_hostile-id" => Json(json!({"id": null})),
        _ => Json(json!({"error": {"code": "InvalidAuthenticationToken"}})),
    }
    .into_response()
}

// --- CARSI ----------------------------------------------------------------------------

async fn carsi_authorize(q: Q) -> Response {
    assert_eq!(q.get("client_id").map(String::as_str), Some("carsi-id"));
    back(&q, q.get("scenario").map_or("alice", String::as_str))
}

async fn carsi_token(
    State(st): St,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if f.get("client_secret").map(String::as_str) != Some("carsi-secret")
        || f.get("grant_type").map(String::as_str) != Some("authorization_code")
    {
        return refuse("invalid_client", "bad client");
    }
    let code = f.get("code").cloned().unwrap_or_default();
    if let Some(res) = token_scenario(&st, &headers, &code).await {
        return res;
    }
    Json(json!({"access_token": format!("carsi_{}", scenario(&code))})).into_response()
}

async fn carsi_resource(State(st): St, q: Q) -> Response {
    let enc = |text: &str| {
        let ct = st
            .public
            .encrypt(&mut rand::rngs::SysRng, Pkcs1v15Encrypt, text.as_bytes())
            .unwrap();
        STANDARD.encode(ct)
    };
    if q.get("client_id").map(String::as_str) != Some("carsi-id") {
        return Json(json!({"error": "invalid_client"})).into_response();
    }
    let token = q.get("access_token").cloned().unwrap_or_default();
    if let Some(res) = user_scenario(&token) {
        return res;
    }
    let (uid, aff) = match token.as_str() {
        "carsi_alice" => (enc("carsi-alice"), enc("student@pku.edu.cn")),
        "carsi_bob" => (enc("carsi-bob"), enc("faculty@pku.edu.cn")),
        "carsi_carol" => (
            enc("carsi-carol"),
            enc("member@tsinghua.edu.cn;student@tsinghua.edu.cn"),
        ),
        "carsi_hostile-b64" => ("%%%not base64%%%".to_owned(), enc("student@pku.edu.cn")),
        "carsi_hostile-ct" => (STANDARD.encode([0x5au8; 256]), enc("student@pku.edu.cn")),
        "carsi_hostile-aff" => (enc("carsi-x"), enc("nobody")),
        "carsi_hostile-missing" => return Json(json!({"carsi-persistent-uid": 5})).into_response(),
        _ => return Json(json!({"error": "invalid_token"})).into_response(),
    };
    Json(json!({"carsi-persistent-uid": uid, "carsi-affiliation": aff})).into_response()
}

// --- IAAA -----------------------------------------------------------------------------

async fn iaaa_oauth(q: Q) -> Response {
    assert_eq!(q.get("appID").map(String::as_str), Some("iaaa-id"));
    assert!(q.contains_key("appName"));
    let back = &q["redirectUrl"];
    let sep = if back.contains('?') { '&' } else { '?' };
    let token = q.get("scenario").map_or("alice", String::as_str);
    Redirect::to(&format!("{back}{sep}token={token}&_rand=0.5")).into_response()
}

async fn iaaa_validate(State(st): St, headers: HeaderMap, q: Q) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let mut md5 = Md5::new();
    md5.update(
        format!(
            "remoteAddr={}&appId={}&token={}iaaa-key",
            get("remoteAddr"),
            get("appId"),
            get("token")
        )
        .as_bytes(),
    );
    if hex::encode(md5.finalize()) != get("msgAbs") {
        return Json(json!({"success": false, "errCode": "E02", "errMsg": "签名错误"}))
            .into_response();
    }
    if get("remoteAddr") != "127.0.0.1" {
        return Json(json!({"success": false, "errCode": "E03", "errMsg": "IP不匹配"}))
            .into_response();
    }
    let token = get("token");
    if scenario(&token) != "error" {
        if let Some(res) = token_scenario(&st, &headers, &token).await {
            return res;
        }
    }
    match scenario(&token) {
        "alice" => Json(json!({"success": true, "errCode": "0", "errMsg": "认证成功", "userInfo": {
            "name": "Alice", "status": "在校", "identityId": "2100010001", "deptId": "00048",
            "dept": "信息科学技术学院", "identityType": "学生", "detailType": "本科生", "identityStatus": "在校"}})),
        "bob" => Json(json!({"success": true, "userInfo": {"name": "Bob", "identityId": "0000910002", "identityType": "职工"}})),
        "hostile-id" => Json(json!({"success": true, "userInfo": {"identityId": [1]}})),
        "hostile-success" => Json(json!({"success": "true", "userInfo": {"identityId": "1"}})),
        _ => Json(json!({"success": false, "errCode": "E01", "errMsg": "Token无效"})),
    }
    .into_response()
}

// --- OpenID Connect -------------------------------------------------------------------

async fn oidc_discovery(State(st): St) -> Json<Value> {
    let b = format!("{}/oidc", st.base);
    Json(json!({
        "issuer": b,
        "authorization_endpoint": format!("{b}/authorize"),
        "token_endpoint": format!("{b}/token"),
        "userinfo_endpoint": format!("{b}/userinfo"),
        "response_types_supported": ["code"],
    }))
}

async fn oidc_authorize(State(st): St, q: Q) -> Response {
    assert_eq!(q.get("client_id").map(String::as_str), Some("oidc-id"));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let n = st.next.fetch_add(1, Ordering::SeqCst);
    let code = format!("{}~{n}", q.get("scenario").map_or("alice", String::as_str));
    st.oidc_codes.lock().unwrap().insert(
        code.clone(),
        (q["code_challenge"].clone(), q["nonce"].clone()),
    );
    back(&q, &code)
}

async fn oidc_token(
    State(st): St,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let basic = format!("Basic {}", STANDARD.encode("oidc-id:oidc-secret"));
    if headers.get("authorization").and_then(|h| h.to_str().ok()) != Some(basic.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let code = f.get("code").cloned().unwrap_or_default();
    let Some((challenge, nonce)) = st.oidc_codes.lock().unwrap().remove(&code) else {
        if scenario(&code) == "error" {
            return refuse("invalid_grant", "code unknown");
        }
        return refuse("invalid_grant", "code unknown or used");
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != challenge {
        return refuse("invalid_grant", "PKCE verification failed");
    }
    if let Some(res) = token_scenario(&st, &headers, &code).await {
        return res;
    }
    let s = scenario(&code);
    let claims = json!({
        "iss": if s == "hostile-iss" { "https://evil.example".to_owned() } else { format!("{}/oidc", st.base) },
        "aud": ["other", "oidc-id"],
        "sub": format!("oidc-{s}"),
        "nonce": if s == "hostile-nonce" { "forged".to_owned() } else { nonce },
        "exp": now_s() + 300,
        "iat": now_s(),
    });
    let id_token = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    Json(json!({"access_token": format!("oidc_{s}"), "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}

async fn oidc_userinfo(headers: HeaderMap) -> Response {
    let token = bearer(&headers).unwrap_or_default();
    match token.strip_prefix("oidc_") {
        Some("hostile-sub") => Json(json!({"sub": "someone-else"})).into_response(),
        Some(s) => Json(
            json!({"sub": format!("oidc-{s}"), "name": s, "email": format!("{s}@example.org")}),
        )
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token"})),
        )
            .into_response(),
    }
}

impl MockIdp {
    /// Starts the mock on 127.0.0.1:0.
    pub async fn start() -> MockIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let pem = std::fs::read_to_string(KEY_FILE).expect("test key");
        let private = PrivateKey::from_pkcs8_pem(&pem).expect("test key parses");
        let seen = Arc::new(Seen::default());
        let state = Arc::new(MockState {
            base: base.clone(),
            public: PublicKey::from(&private),
            oidc_codes: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            seen: seen.clone(),
        });
        let app = Router::new()
            .route("/github/authorize", get(gh_authorize))
            .route("/github/token", post(gh_token))
            .route("/github/user", get(gh_user))
            .route("/ms/{tenant}/oauth2/v2.0/authorize", get(ms_authorize))
            .route("/ms/{tenant}/oauth2/v2.0/token", post(ms_token))
            .route("/ms/graph/me", get(ms_me))
            .route("/carsi/api/authorize", get(carsi_authorize))
            .route("/carsi/api/token", post(carsi_token))
            .route("/carsi/api/resource", get(carsi_resource))
            .route("/iaaa/oauth.jsp", get(iaaa_oauth))
            .route("/iaaa/svc/token/validate.do", get(iaaa_validate))
            .route(
                "/oidc/.well-known/openid-configuration",
                get(oidc_discovery),
            )
            .route("/oidc/authorize", get(oidc_authorize))
            .route("/oidc/token", post(oidc_token))
            .route("/oidc/userinfo", get(oidc_userinfo))
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockIdp { base, seen, task }
    }

    /// `GS_*` settings enabling every provider against this mock.
    pub fn env(&self) -> Vec<(String, String)> {
        let m = &self.base;
        [
            ("GS_OAUTH_GITHUB__CLIENT_ID", "gh-id".to_owned()),
            ("GS_OAUTH_GITHUB__CLIENT_SECRET", "gh-secret".into()),
            (
                "GS_OAUTH_GITHUB__AUTHORIZE_URL",
                format!("{m}/github/authorize"),
            ),
            ("GS_OAUTH_GITHUB__TOKEN_URL", format!("{m}/github/token")),
            ("GS_OAUTH_GITHUB__USER_URL", format!("{m}/github/user")),
            ("GS_OAUTH_MICROSOFT__CLIENT_ID", "ms-id".into()),
            ("GS_OAUTH_MICROSOFT__PRIVATE_KEY_FILE", KEY_FILE.into()),
            ("GS_OAUTH_MICROSOFT__THUMBPRINT", THUMBPRINT.into()),
            ("GS_OAUTH_MICROSOFT__AUTHORITY", format!("{m}/ms")),
            ("GS_OAUTH_MICROSOFT__GRAPH_URL", format!("{m}/ms/graph/me")),
            ("GS_OAUTH_CARSI__CLIENT_ID", "carsi-id".into()),
            ("GS_OAUTH_CARSI__CLIENT_SECRET", "carsi-secret".into()),
            ("GS_OAUTH_CARSI__BASE_URL", format!("{m}/carsi")),
            ("GS_OAUTH_CARSI__PRIVATE_KEY_FILE", KEY_FILE.into()),
            ("GS_OAUTH_IAAA__APP_ID", "iaaa-id".into()),
            ("GS_OAUTH_IAAA__KEY", "iaaa-key".into()),
            ("GS_OAUTH_IAAA__BASE_URL", format!("{m}/iaaa")),
            ("GS_OAUTH_IAAA__IDENTITY_TYPES", "学生".into()),
            ("GS_OAUTH_OIDC__NAME", "TestID".into()),
            ("GS_OAUTH_OIDC__ISSUER", format!("{m}/oidc")),
            ("GS_OAUTH_OIDC__CLIENT_ID", "oidc-id".into()),
            ("GS_OAUTH_OIDC__CLIENT_SECRET", "oidc-secret".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// The start path of a provider.
pub fn start_path(provider: &str) -> &'static str {
    match provider {
        "github" => "/service/auth/github/login",
        "microsoft" => "/service/auth/microsoft/login",
        "carsi" => "/service/auth/carsi/login",
        "iaaa" => "/service/auth/pku/redirect",
        "oidc" => "/service/auth/oidc/login",
        other => panic!("no provider {other}"),
    }
}

/// How the browser treats the state cookie at the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateCookie {
    /// Sends the cookie it got.
    Right,
    /// Sends another value.
    Wrong,
    /// Sends none.
    Missing,
}

/// What the callback answered.
#[derive(Debug)]
pub struct Outcome {
    /// HTTP status.
    pub status: u16,
    /// `Location`, if a redirect.
    pub location: Option<String>,
    /// The `auth_token` cookie set, if any.
    pub auth_token: Option<String>,
    /// Whether the state cookie was cleared.
    pub state_cleared: bool,
    /// The body (the info page on failure).
    pub body: String,
}

impl Outcome {
    /// Whether this is the `登录失败` page mentioning `reason`.
    pub fn failed_with(&self, reason: &str) -> bool {
        self.location.is_none() && self.body.contains("登录失败") && self.body.contains(reason)
    }
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        c.strip_prefix(&format!("{name}="))
            .and_then(|rest| rest.split(';').next())
            .map(str::to_owned)
    })
}

/// The reducer and one worker on a fresh SQLite database, as `gs serve` runs them.
pub struct Cluster {
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client that does not follow redirects.
    pub http: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The golden `running` contest's tables.
pub fn running_tables() -> Tables {
    let dump: Dump =
        serde_json::from_value(crate::common::golden_json("running.contest.json")).expect("dump");
    dump.tables
}

impl Cluster {
    /// Starts on `tables` with these `GS_*` settings.
    pub async fn start(tables: Tables, env: &[(String, String)]) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all: Vec<(&str, &str)> = vec![
            ("GS_API__LISTEN", &listen),
            ("GS_AUTH__BACKEND_HOSTNAME", &listen),
        ];
        all.extend(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let config = Arc::new(test_config(dir.path(), &all));
        let store = Store::connect(&config.database.url).await.expect("db");
        store.migrate().await.expect("migrate");
        store.import(&Dump { tables }, false).await.expect("import");
        store.close().await;
        let (stop, stopped) = watch::channel(false);
        let (_task_tx, task_rx) = mpsc::channel(4);
        let mut reducer_stop = stopped.clone();
        let reducer = tokio::spawn(gs::serve::run_reducer(
            config.clone(),
            task_rx,
            async move {
                let _ = reducer_stop.wait_for(|s| *s).await;
            },
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let worker = tokio::spawn(gs::serve::run_worker(config.clone(), 0, stopped));
        let cluster = Cluster {
            dir,
            base: format!("http://{listen}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            stop,
            tasks: vec![reducer, worker],
        };
        cluster.wait_serving().await;
        cluster
    }

    async fn wait_serving(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Some((_, v)) = self.try_wish("game_info", None).await {
                if v.get("error") == Some(&Value::Null) {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the worker did not serve the game within 20 s");
    }

    async fn try_wish(&self, endpoint: &str, auth: Option<&str>) -> Option<(u16, Value)> {
        let mut req = self
            .http
            .post(format!("{}/service/wish/{endpoint}", self.base))
            .header("X-Wish-Version", WISH_VERSION)
            .json(&json!({}));
        if let Some(t) = auth {
            req = req.header("Cookie", format!("auth_token={t}"));
        }
        let res = req.send().await.ok()?;
        let status = res.status().as_u16();
        Some((status, res.json().await.unwrap_or(Value::Null)))
    }

    /// `game_info` as the holder of `auth`.
    pub async fn game_info(&self, auth: Option<&str>) -> Value {
        self.try_wish("game_info", auth)
            .await
            .expect("game_info answers")
            .1
    }

    /// A GET of a path of the backend.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    /// Walks through a login with `provider` as user `scenario`.
    pub async fn login(&self, provider: &str, scenario: &str, state: StateCookie) -> Outcome {
        let res = self.get(start_path(provider)).await;
        assert_eq!(res.status().as_u16(), 302, "start of {provider}");
        let cookies = set_cookies(&res);
        let line = cookies
            .iter()
            .find(|c| c.starts_with("oauth_state="))
            .expect("state cookie set");
        assert!(
            line.contains("Max-Age=600")
                && line.contains("HttpOnly")
                && line.contains("SameSite=Lax"),
            "{line}"
        );
        let state_value = cookie_value(&cookies, "oauth_state").expect("state");
        let to_provider = res.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        // The provider's login page sends the player back to the callback.
        let res = self
            .http
            .get(format!("{to_provider}&scenario={scenario}"))
            .send()
            .await
            .expect("provider");
        assert_eq!(
            res.status().as_u16(),
            303,
            "provider {provider} redirects back"
        );
        let callback = res.headers()["location"]
            .to_str()
            .expect("callback")
            .to_owned();
        assert!(callback.starts_with(&self.base), "{callback}");
        self.callback(&callback, state, &state_value).await
    }

    /// Calls a callback URL as the browser would.
    pub async fn callback(&self, url: &str, state: StateCookie, state_value: &str) -> Outcome {
        let mut req = self.http.get(url);
        match state {
            StateCookie::Right => req = req.header("Cookie", format!("oauth_state={state_value}")),
            StateCookie::Wrong => {
                req = req.header("Cookie", "oauth_state=SomethingElse0123456789abcdefABCDEF")
            }
            StateCookie::Missing => {}
        }
        let res = req.send().await.expect("callback");
        let cookies = set_cookies(&res);
        Outcome {
            status: res.status().as_u16(),
            location: res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            auth_token: cookie_value(&cookies, "auth_token").filter(|t| !t.is_empty()),
            state_cleared: cookies
                .iter()
                .any(|c| c.starts_with("oauth_state=;") && c.contains("Max-Age=0")),
            body: res.text().await.unwrap_or_default(),
        }
    }

    /// How many users have `login_key` in the database.
    pub fn users_with(&self, login_key: &str) -> i64 {
        let db = rusqlite::Connection::open(self.dir.path().join("gs.db")).expect("open db");
        db.query_row(
            "SELECT COUNT(*) FROM user WHERE login_key = ?1",
            [login_key],
            |r| r.get(0),
        )
        .expect("count")
    }

    /// The stored login properties and group of `login_key`.
    pub fn stored(&self, login_key: &str) -> (Value, String) {
        let db = rusqlite::Connection::open(self.dir.path().join("gs.db")).expect("open db");
        let (props, group): (String, String) = db
            .query_row(
                "SELECT login_properties, \"group\" FROM user WHERE login_key = ?1",
                [login_key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("user row");
        (serde_json::from_str(&props).expect("JSON"), group)
    }

    /// Stops both tasks and checks they stopped cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            match tokio::time::timeout(Duration::from_secs(10), t).await {
                Ok(Ok(Ok(()))) => {}
                other => panic!("a task did not stop cleanly: {other:?}"),
            }
        }
    }
}
