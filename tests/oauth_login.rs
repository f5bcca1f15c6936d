//! Login through every identity provider against a mock provider, with the real reducer
//! and worker: a full login and a second one (no duplicate user), the login properties
//! and group kept, a wrong or missing state, provider errors, hostile answers,
//! registration switched off, disabled providers, timeouts and proxies.

mod common;
mod http_support;
mod oauth_support;

use oauth_support::{running_tables, Cluster, MockIdp, StateCookie};
use serde_json::{json, Value};

/// One provider's expectations for users alice and bob.
struct Case {
    provider: &'static str,
    alice_key: &'static str,
    alice_group: &'static str,
    bob_key: &'static str,
    bob_group: &'static str,
    /// The login properties' `type`.
    kind: &'static str,
    /// What the page says when the token endpoint refuses the code.
    error_text: &'static str,
}

const CASES: &[Case] = &[
    Case {
        provider: "github",
        alice_key: "github:1001",
        alice_group: "other",
        bob_key: "github:1002",
        bob_group: "other",
        kind: "github",
        error_text: "GitHub Token不存在（bad_verification_code",
    },
    Case {
        provider: "microsoft",
        alice_key: "ms:00000000-alice",
        alice_group: "other",
        bob_key: "ms:00000000-bob",
        bob_group: "other",
        kind: "microsoft",
        error_text: "Microsoft Token不存在（bad_verification_code",
    },
    Case {
        provider: "carsi",
        alice_key: "carsi:carsi-alice",
        alice_group: "pku",
        bob_key: "carsi:carsi-bob",
        bob_group: "other",
        kind: "carsi",
        error_text: "CARSI Token不存在（bad_verification_code",
    },
    Case {
        provider: "iaaa",
        alice_key: "iaaa:2100010001",
        alice_group: "pku",
        bob_key: "iaaa:0000910002",
        bob_group: "other",
        kind: "iaaa",
        error_text: "IAAA认证失败（Token无效）",
    },
    Case {
        provider: "oidc",
        alice_key: "oidc:oidc-alice",
        alice_group: "other",
        bob_key: "oidc:oidc-bob",
        bob_group: "other",
        kind: "oidc",
        error_text: "TestID Token不存在",
    },
];

async fn setup() -> (MockIdp, Cluster) {
    let mock = MockIdp::start().await;
    let cluster = Cluster::start(running_tables(), &mock.env()).await;
    (mock, cluster)
}

/// The full suite for one provider.
async fn provider_suite(case: &Case) {
    let (_mock, cluster) = setup().await;
    let p = case.provider;

    // A new player registers and lands on the terms page.
    let first = cluster.login(p, "alice", StateCookie::Right).await;
    assert_eq!(
        first.location.as_deref(),
        Some("/#/user/terms"),
        "{p}: {first:?}"
    );
    assert!(first.state_cleared, "{p}: the state cookie is spent");
    let token = first.auth_token.clone().expect("auth cookie");
    let info = cluster.game_info(Some(&token)).await;
    assert_eq!(info["user"]["login_key"], case.alice_key, "{p}: {info}");
    assert_eq!(info["user"]["group"], case.alice_group, "{p}");
    assert!(
        info["user"]["token"]
            .as_str()
            .is_some_and(|t| t.is_empty() || t.starts_with("GgT-")),
        "{p}: {info}"
    );
    let (props, group) = cluster.stored(case.alice_key);
    assert_eq!(group, case.alice_group);
    assert_eq!(props["type"], case.kind, "{p}: {props}");
    assert!(props["info"].is_object(), "{p}: {props}");
    assert!(
        !props.to_string().contains("access_token"),
        "{p}: no tokens kept"
    );

    // The same player again: logged in, not registered twice.
    let second = cluster.login(p, "alice", StateCookie::Right).await;
    assert_eq!(second.location.as_deref(), Some("/"), "{p}: {second:?}");
    assert_eq!(second.auth_token.as_deref(), Some(token.as_str()), "{p}");
    assert_eq!(cluster.users_with(case.alice_key), 1, "{p}");

    // Another player with another group decision.
    let bob = cluster.login(p, "bob", StateCookie::Right).await;
    assert_eq!(
        bob.location.as_deref(),
        Some("/#/user/terms"),
        "{p}: {bob:?}"
    );
    assert_eq!(cluster.stored(case.bob_key).1, case.bob_group, "{p}");
    assert_ne!(bob.auth_token, first.auth_token);

    // A wrong or missing state is refused before the provider is asked.
    let wrong = cluster.login(p, "carol", StateCookie::Wrong).await;
    assert!(
        wrong.failed_with("OAuth错误：state不匹配"),
        "{p}: {wrong:?}"
    );
    assert_eq!(wrong.status, 400);
    assert!(wrong.auth_token.is_none());
    let missing = cluster.login(p, "carol", StateCookie::Missing).await;
    assert!(
        missing.failed_with("OAuth错误：state无效"),
        "{p}: {missing:?}"
    );

    // The provider refuses the code.
    let refused = cluster.login(p, "error", StateCookie::Right).await;
    assert!(refused.failed_with(case.error_text), "{p}: {refused:?}");
    assert!(refused.auth_token.is_none());

    // The provider reports an error on the callback (the player declined).
    let start = cluster.get(oauth_support::start_path(p)).await;
    let state = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("oauth_state="))
        .and_then(|c| c.split(';').next())
        .expect("state")
        .to_owned();
    let callback = callback_path(p);
    let declined = cluster
        .callback(
            &format!(
                "{}{callback}?error=access_denied&error_description=The+user+declined&state={state}",
                cluster.base
            ),
            StateCookie::Right,
            &state,
        )
        .await;
    assert!(
        declined.failed_with("登录失败（access_denied: The user declined）"),
        "{p}: {declined:?}"
    );
    // A callback with the right state but no code.
    let no_code = cluster
        .callback(
            &format!("{}{callback}?state={state}", cluster.base),
            StateCookie::Right,
            &state,
        )
        .await;
    assert!(no_code.failed_with("登录失败"), "{p}: {no_code:?}");
    assert!(no_code.auth_token.is_none());

    // Still serving.
    assert_eq!(cluster.game_info(None).await["error"], Value::Null);
    cluster.stop().await;
}

fn callback_path(provider: &str) -> &'static str {
    match provider {
        "github" => "/service/auth/github/login/callback",
        "microsoft" => "/service/auth/microsoft/login/callback",
        "carsi" => "/service/auth/carsi/login/callback",
        "iaaa" => "/service/auth/pku/login",
        "oidc" => "/service/auth/oidc/login/callback",
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_login() {
    provider_suite(&CASES[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_login_with_a_client_assertion() {
    provider_suite(&CASES[1]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carsi_login_with_encrypted_attributes() {
    provider_suite(&CASES[2]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iaaa_login() {
    provider_suite(&CASES[3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_login_with_discovery_and_pkce() {
    provider_suite(&CASES[4]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carsi_group_follows_affiliation_and_domain() {
    let (_mock, cluster) = setup().await;
    // member@tsinghua.edu.cn;student@tsinghua.edu.cn: the student affiliation decides.
    let carol = cluster.login("carsi", "carol", StateCookie::Right).await;
    assert_eq!(
        carol.location.as_deref(),
        Some("/#/user/terms"),
        "{carol:?}"
    );
    let (props, group) = cluster.stored("carsi:carsi-carol");
    assert_eq!(group, "thu");
    assert_eq!(
        props,
        json!({"type": "carsi", "info": {"usertype": "student", "domain": "tsinghua.edu.cn"}})
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_provider_answers_are_login_failures() {
    let (_mock, cluster) = setup().await;
    let cases = [
        ("github", "hostile-id", "GitHub UID不存在"),
        ("github", "hostile-notjson", "GitHub返回了无效的数据"),
        ("github", "hostile-deep", "GitHub返回了无效的数据"),
        ("github", "hostile-token", "GitHub Token不存在"),
        ("github", "hostile-huge", "GitHub返回的数据过大"),
        ("microsoft", "hostile-id", "MS UID不存在"),
        ("carsi", "hostile-b64", "无法解密"),
        ("carsi", "hostile-ct", "无法解密"),
        ("carsi", "hostile-aff", "身份信息无效"),
        ("carsi", "hostile-missing", "Carsi UID不存在"),
        ("carsi", "hostile-huge", "CARSI返回的数据过大"),
        ("iaaa", "hostile-id", "IAAA UID不存在"),
        ("iaaa", "hostile-success", "IAAA认证失败"),
        ("iaaa", "hostile-notjson", "IAAA返回了无效的数据"),
        ("oidc", "hostile-nonce", "ID Token 无效（nonce 不符）"),
        ("oidc", "hostile-iss", "ID Token 无效（issuer 不符）"),
        ("oidc", "hostile-sub", "用户信息不一致"),
    ];
    for (provider, scenario, reason) in cases {
        let out = cluster.login(provider, scenario, StateCookie::Right).await;
        assert!(
            out.failed_with(reason),
            "{provider} {scenario}: {} {}",
            out.status,
            out.body
        );
        assert!(out.auth_token.is_none());
    }
    assert_eq!(cluster.game_info(None).await["error"], Value::Null);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_off_lets_existing_users_in_only() {
    let mock = MockIdp::start().await;
    let mut tables = running_tables();
    // Existing users for alice at every provider.
    for (uid, key) in [
        (3, "github:1001"),
        (6, "ms:00000000-alice"),
        (2, "carsi:carsi-alice"),
        (4, "iaaa:2100010001"),
        (5, "oidc:oidc-alice"),
    ] {
        let user = tables.user.iter_mut().find(|u| u.id == uid).expect("user");
        user.login_key = key.to_owned();
    }
    let mut env = mock.env();
    env.push(("GS_AUTH__REGISTRATION_ENABLED".into(), "false".into()));
    let cluster = Cluster::start(tables, &env).await;
    for case in CASES {
        let p = case.provider;
        let alice = cluster.login(p, "alice", StateCookie::Right).await;
        assert_eq!(alice.location.as_deref(), Some("/"), "{p}: {alice:?}");
        let info = cluster.game_info(alice.auth_token.as_deref()).await;
        assert_eq!(info["user"]["login_key"], case.alice_key, "{p}");
        let bob = cluster.login(p, "bob", StateCookie::Right).await;
        assert!(bob.failed_with("目前不允许注册新账户"), "{p}: {bob:?}");
        assert!(bob.auth_token.is_none());
        assert_eq!(cluster.users_with(case.bob_key), 0, "{p}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_providers_answer_404() {
    let mock = MockIdp::start().await;
    // Only GitHub is configured here.
    let env: Vec<(String, String)> = mock
        .env()
        .into_iter()
        .filter(|(k, _)| k.starts_with("GS_OAUTH_GITHUB__"))
        .collect();
    let cluster = Cluster::start(running_tables(), &env).await;
    for path in [
        "/service/auth/microsoft/login",
        "/service/auth/microsoft/login/callback?code=x&state=y",
        "/service/auth/carsi/login",
        "/service/auth/carsi/callback",
        "/service/auth/carsi/logout",
        "/service/auth/pku/redirect",
        "/service/auth/pku/login?token=x",
        "/service/auth/oidc/login",
        "/service/auth/oidc/callback",
    ] {
        let res = cluster.get(path).await;
        assert_eq!(res.status().as_u16(), 404, "{path}");
        assert!(
            res.text().await.unwrap().contains("此登录方式未启用"),
            "{path}"
        );
    }
    assert_eq!(
        cluster
            .get("/service/auth/github/login")
            .await
            .status()
            .as_u16(),
        302
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carsi_logout_clears_the_cookies() {
    let (_mock, cluster) = setup().await;
    let res = cluster.get("/service/auth/carsi/logout").await;
    assert_eq!(res.status().as_u16(), 200);
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("auth_token=;") && c.contains("Max-Age=0")));
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": 1, "msg": ""})
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_slower_than_the_timeout_fails_cleanly() {
    let mock = MockIdp::start().await;
    let mut env = mock.env();
    env.push(("GS_HTTP_CLIENT__TIMEOUT_S".into(), "1".into()));
    let cluster = Cluster::start(running_tables(), &env).await;
    let started = std::time::Instant::now();
    let out = cluster.login("github", "slow", StateCookie::Right).await;
    assert!(out.failed_with("GitHub响应超时"), "{out:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_requests_go_through_the_proxy_for_their_host() {
    let mock = MockIdp::start().await;
    let m = mock.base.clone();
    let mut env: Vec<(String, String)> = mock
        .env()
        .into_iter()
        .filter(|(k, _)| !k.ends_with("__TOKEN_URL") && !k.ends_with("__USER_URL"))
        .collect();
    // These hosts do not exist: only the proxy (the mock, which serves absolute-form
    // requests by path) can answer them.
    env.push((
        "GS_OAUTH_GITHUB__TOKEN_URL".into(),
        "http://github.invalid/github/token".into(),
    ));
    env.push((
        "GS_OAUTH_GITHUB__USER_URL".into(),
        "http://api.github.invalid/github/user".into(),
    ));
    env.push((
        "GS_HTTP_CLIENT__PROXIES".into(),
        format!("*github.invalid={m}"),
    ));
    let cluster = Cluster::start(running_tables(), &env).await;
    let out = cluster.login("github", "alice", StateCookie::Right).await;
    assert_eq!(out.location.as_deref(), Some("/#/user/terms"), "{out:?}");
    assert!(mock.seen.proxied.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    cluster.stop().await;
}
