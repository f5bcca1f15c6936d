//! Tests of loading the configuration: defaults, file then environment, and the errors
//! that name the key and where its value came from.

use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A temp dir holding a config file whose paths point inside the dir.
fn setup(body: &str) -> (tempfile::TempDir, PathBuf, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gs.toml");
    std::fs::write(&file, body).unwrap();
    let d = dir.path().display().to_string();
    let base = env(&[
        ("GS_PATHS__DATA", &format!("{d}/data")),
        ("GS_PATHS__TEMPLATES", &format!("{d}/data/templates")),
        ("GS_PATHS__ATTACHMENTS", &format!("{d}/data/attachments")),
        ("GS_PATHS__WRITEUPS", &format!("{d}/data/writeups")),
        ("GS_PATHS__MEDIA", &format!("{d}/data/media")),
        ("GS_PATHS__ANTICHEAT_LOG", &format!("{d}/data/anticheat")),
    ]);
    (dir, file, base)
}

fn err(body: &str, extra: &[(&str, &str)]) -> String {
    let (_dir, file, mut e) = setup(body);
    e.extend(env(extra));
    Config::load_with_env(Some(&file), &e)
        .unwrap_err()
        .to_string()
}

#[test]
fn metrics_and_ctftime_keys() {
    let (_dir, file, e) = setup("");
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert!(c.metrics.enabled && c.ctftime.enabled);
    assert_eq!(c.metrics.path, "/metrics");
    assert_eq!(c.ctftime.path, "/service/ctftime.json");
    assert_eq!(c.ctftime.board, "score_all");
    assert!(c.metrics.allows("127.0.0.1".parse().unwrap()));
    assert!(c.metrics.allows("::1".parse().unwrap()));
    assert!(c.metrics.allows("::ffff:127.0.0.5".parse().unwrap()));
    assert!(!c.metrics.allows("10.1.2.3".parse().unwrap()));
    let (_dir, file, e) = setup(
        "[metrics]\nallow = [\"10.0.0.0/8\", \"192.168.1.7\"]\npath = \"/internal/m\"\n[ctftime]\nboard = \"score_pku\"\n",
    );
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert!(c.metrics.allows("10.1.2.3".parse().unwrap()));
    assert!(c.metrics.allows("192.168.1.7".parse().unwrap()));
    assert!(!c.metrics.allows("192.168.1.8".parse().unwrap()));
    assert!(!c.metrics.allows("127.0.0.1".parse().unwrap()));
    assert_eq!(c.metrics.path, "/internal/m");
    assert_eq!(c.ctftime.board, "score_pku");
    let e = err("[metrics]\nallow = [\"10.0.0.0/33\"]\n", &[]);
    assert!(
        e.contains("metrics.allow") && e.contains("10.0.0.0/33"),
        "{e}"
    );
    let e = err("", &[("GS_METRICS__PATH", "metrics")]);
    assert!(e.contains("metrics.path"), "{e}");
    let e = err("[ctftime]\nboard = \"first_all\"\n", &[]);
    assert!(
        e.contains("ctftime.board") && e.contains("score_all"),
        "{e}"
    );
    let e = err("[metrics]\nport = 1\n", &[]);
    assert!(e.contains("metrics.port"), "{e}");
}

#[test]
fn defaults_and_generated_secrets() {
    let (dir, file, e) = setup("");
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert_eq!(c.database.url, "sqlite://data/gs.db");
    assert_eq!(c.api.listen, "127.0.0.1:8010".parse().unwrap());
    assert_eq!(c.api.workers, 1);
    assert_eq!(c.admin.listen, "127.0.0.1:5000".parse().unwrap());
    assert_eq!(c.admin.uids, vec![1]);
    assert_eq!(c.admin.timezone, "Asia/Shanghai");
    assert!(c.auth.manual_enabled);
    assert_eq!(c.glitter.action_addr, "ipc://data/action.sock");
    assert!(dir.path().join("data/anticheat").is_dir());
    // Secrets are generated once, kept, and reused.
    assert_ne!(c.token_signing_seed(), [0u8; 32]);
    assert!(!c.glitter.token.expose().is_empty());
    let again = Config::load_with_env(Some(&file), &e).unwrap();
    assert_eq!(again.secrets.token_signing_key, c.secrets.token_signing_key);
    assert_eq!(again.glitter.token, c.glitter.token);
    assert_ne!(c.glitter.token, c.secrets.token_signing_key);
    // Never printed.
    let shown = format!("{c:?}");
    assert!(!shown.contains(c.glitter.token.expose()));
    assert!(!shown.contains(c.secrets.token_signing_key.expose()));
}

#[test]
fn file_then_env() {
    let body =
        "[database]\nurl = \"mysql://u:p@h/db\"\n[api]\nworkers = 3\nlisten = \"0.0.0.0:9000\"\n\
                [admin]\nuids = [1, 2, 3]\ndestructive_uids = [1]\ntimezone = \"UTC\"\n";
    let (_dir, file, mut e) = setup(body);
    e.extend(env(&[
        ("GS_API__WORKERS", "2"),
        ("GS_ADMIN__UIDS", "1,2"),
        ("GS_ADMIN__DESTRUCTIVE_UIDS", "[2]"),
        ("GS_AUTH__MANUAL_ENABLED", "false"),
        ("GS_GLITTER__TOKEN", "tok"),
        ("OTHER", "ignored"),
    ]));
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert_eq!(c.database.url, "mysql://u:p@h/db");
    assert_eq!(c.api.workers, 2);
    assert_eq!(c.api.listen, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(c.admin.uids, vec![1, 2]);
    assert_eq!(c.admin.destructive_uids, vec![2]);
    assert_eq!(c.admin.timezone, "UTC");
    assert!(!c.auth.manual_enabled);
    assert_eq!(c.glitter.token.expose(), "tok");
    assert_eq!(c.file.as_deref(), Some(file.as_path()));
}

#[test]
fn unknown_keys_name_key_and_origin() {
    let m = err("[api]\nlisten = \"127.0.0.1:1\"\nworkerz = 2\n", &[]);
    assert!(
        m.contains("`api.workerz`") && m.contains("gs.toml") && m.contains("listen, workers"),
        "{m}"
    );
    let m = err("[apii]\nworkers = 2\n", &[]);
    assert!(
        m.contains("`apii.workers`") && m.contains("[database]"),
        "{m}"
    );
    let m = err("workers = 2\n", &[]);
    assert!(m.contains("`workers`") && m.contains("gs.toml"), "{m}");
    let m = err("", &[("GS_API__PORT", "1")]);
    assert!(
        m.contains("`api.port`") && m.contains("GS_API__PORT"),
        "{m}"
    );
    let m = err("", &[("GS_DATABASE_URL", "x")]);
    assert!(
        m.contains("GS_DATABASE_URL") && m.contains("GS_<SECTION>__<KEY>"),
        "{m}"
    );
}

#[test]
fn malformed_values_name_key_and_origin() {
    let m = err("[api]\nworkers = \"two\"\n", &[]);
    assert!(
        m.contains("`api.workers`") && m.contains("gs.toml") && m.contains("integer"),
        "{m}"
    );
    let m = err("", &[("GS_API__WORKERS", "two")]);
    assert!(
        m.contains("`api.workers`") && m.contains("GS_API__WORKERS"),
        "{m}"
    );
    let m = err("", &[("GS_API__WORKERS", "0")]);
    assert!(m.contains("`api.workers`") && m.contains("1 to 256"), "{m}");
    let m = err("[api]\nlisten = \"localhost\"\n", &[]);
    assert!(
        m.contains("`api.listen`") && m.contains("127.0.0.1:8010"),
        "{m}"
    );
    let m = err("", &[("GS_ADMIN__UIDS", "1,x")]);
    assert!(
        m.contains("`admin.uids`") && m.contains("GS_ADMIN__UIDS"),
        "{m}"
    );
    let m = err("[admin]\nuids = [2]\n", &[]);
    assert!(
        m.contains("`admin.destructive_uids`") && m.contains("user 1 is not an admin"),
        "{m}"
    );
    let m = err("[admin]\ntimezone = \"Mars/Olympus\"\n", &[]);
    assert!(
        m.contains("`admin.timezone`") && m.contains("Mars/Olympus"),
        "{m}"
    );
    let m = err("[auth]\nmanual_enabled = \"yes\"\n", &[]);
    assert!(
        m.contains("`auth.manual_enabled`") && m.contains("true or false"),
        "{m}"
    );
    let m = err("", &[("GS_AUTH__BACKEND_SCHEME", "ftp")]);
    assert!(
        m.contains("`auth.backend_scheme`") && m.contains("http or https"),
        "{m}"
    );
    let m = err("[database]\nurl = \"oracle://x:secret@h\"\n", &[]);
    assert!(m.contains("`database.url`") && !m.contains("secret"), "{m}");
    let m = err("[glitter]\naction_addr = \"127.0.0.1:5601\"\n", &[]);
    assert!(
        m.contains("`glitter.action_addr`") && m.contains("tcp://"),
        "{m}"
    );
    let m = err("[secrets]\ntoken_signing_key = \"c2hvcnQ\"\n", &[]);
    assert!(
        m.contains("`secrets.token_signing_key`") && m.contains("5 bytes"),
        "{m}"
    );
    let m = err("[admin\n", &[]);
    assert!(
        m.contains("gs.toml") && m.contains("not valid TOML") && m.contains("line 1"),
        "{m}"
    );
}

#[test]
fn bad_kept_secret_says_how_to_fix() {
    let (dir, file, e) = setup("");
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/token_signing_key"), "not base64!").unwrap();
    let m = Config::load_with_env(Some(&file), &e)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("secrets.token_signing_key")
            && m.contains("token_signing_key`")
            && m.contains("delete"),
        "{m}"
    );
}

#[test]
fn missing_config_file_is_an_error() {
    let m = Config::load_with_env(Some(Path::new("/nonexistent/gs.toml")), &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(m.contains("/nonexistent/gs.toml"), "{m}");
}

#[test]
fn oauth_sections_from_file_and_env() {
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/oauth_test_rsa.pem"
    );
    let body = format!(
        "[http_client]\ntimeout_s = 7\nproxies = {{ \"*github.com\" = \"http://127.0.0.1:7890\" }}\n\
         [oauth.github]\nclient_id = \"gh\"\nclient_secret = \"s3cret\"\n\
         [oauth.microsoft]\nclient_id = \"ms\"\nprivate_key_file = \"{key}\"\n\
         thumbprint = \"DB:71:72:09:94:EE:18:E5:55:EB:91:AA:38:5B:69:18:C6:FD:8F:42\"\n\
         [oauth.oidc]\nenabled = false\n"
    );
    let (_dir, file, mut e) = setup(&body);
    e.extend(env(&[
        ("GS_OAUTH_CARSI__CLIENT_ID", "c"),
        ("GS_OAUTH_CARSI__CLIENT_SECRET", "cs"),
        ("GS_OAUTH_CARSI__BASE_URL", "https://carsi.example/"),
        ("GS_OAUTH_CARSI__PRIVATE_KEY_FILE", key),
        ("GS_OAUTH_CARSI__AFFILIATIONS", "student,faculty"),
        ("GS_OAUTH_CARSI__DOMAIN_GROUPS", "a.edu.cn=pku,b.edu.cn=thu"),
        ("GS_HTTP_CLIENT__CONNECT_TIMEOUT_S", "2"),
    ]));
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    let gh = c.oauth.github.as_ref().unwrap();
    assert_eq!(gh.client_id, "gh");
    assert_eq!(gh.token_url, "https://github.com/login/oauth/access_token");
    assert_eq!(gh.group, "other");
    assert_eq!(c.oauth.microsoft.as_ref().unwrap().thumbprint.len(), 20);
    let carsi = c.oauth.carsi.as_ref().unwrap();
    assert_eq!(carsi.base_url, "https://carsi.example");
    assert_eq!(carsi.affiliations, vec!["student", "faculty"]);
    assert_eq!(carsi.domain_groups.len(), 2);
    assert!(carsi.check_state);
    assert!(c.oauth.oidc.is_none() && c.oauth.iaaa.is_none());
    assert_eq!(
        (c.http_client.timeout_s, c.http_client.connect_timeout_s),
        (7, 2)
    );
    assert!(c.http_client.proxies[0].matches("api.github.com"));
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("s3cret") && !shown.contains("PRIVATE KEY"),
        "{shown}"
    );
}

#[test]
fn oauth_errors_name_the_key() {
    let m = err("[oauth.github]\nclient_id = \"x\"\n", &[]);
    assert!(
        m.contains("`oauth.github.client_secret`") && m.contains("required"),
        "{m}"
    );
    let m = err("[oauth.gitlab]\nclient_id = \"x\"\n", &[]);
    assert!(
        m.contains("`oauth.gitlab.client_id`") && m.contains("[oauth.github]"),
        "{m}"
    );
    let m = err("[oauth.github]\nclient_idd = \"x\"\n", &[]);
    assert!(
        m.contains("`oauth.github.client_idd`") && m.contains("client_secret"),
        "{m}"
    );
    let m = err("[oauth]\ngithub = 1\n", &[]);
    assert!(m.contains("`oauth.github`"), "{m}");
    let m = err(
        "",
        &[
            ("GS_OAUTH_GITHUB__GROUP", "aliens"),
            ("GS_OAUTH_GITHUB__CLIENT_ID", "x"),
            ("GS_OAUTH_GITHUB__CLIENT_SECRET", "y"),
        ],
    );
    assert!(
        m.contains("`oauth.github.group`") && m.contains("pku, thu"),
        "{m}"
    );
    let m = err(
        "[oauth.github]\nclient_id = \"x\"\nclient_secret = \"y\"\ntoken_url = \"ftp://x\"\n",
        &[],
    );
    assert!(
        m.contains("`oauth.github.token_url`") && m.contains("https://"),
        "{m}"
    );
    let m = err("[http_client]\nproxies = { \"*\" = \"gopher://x\" }\n", &[]);
    assert!(m.contains("`http_client.proxies`"), "{m}");
    let m = err("", &[("GS_HTTP_CLIENT__TIMEOUT_S", "0")]);
    assert!(
        m.contains("`http_client.timeout_s`") && m.contains("1 to 3600"),
        "{m}"
    );
    let m = err("[oauth.carsi]\nclient_id = \"x\"\nclient_secret = \"y\"\nbase_url = \"https://c\"\nprivate_key_file = \"/nonexistent.pem\"\n", &[]);
    assert!(
        m.contains("`oauth.carsi.private_key_file`") && m.contains("/nonexistent.pem"),
        "{m}"
    );
    let (dir, file, e) = setup("");
    let bad = dir.path().join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBtYXRlcmlhbA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(&file, format!("[oauth.microsoft]\nclient_id = \"x\"\nthumbprint = \"{}\"\nprivate_key_file = \"{}\"\n", "ab".repeat(20), bad.display())).unwrap();
    let m = Config::load_with_env(Some(&file), &e)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("`oauth.microsoft.private_key_file`")
            && m.contains("not an RSA private key")
            && !m.contains("c2VjcmV0"),
        "{m}"
    );
    let m = err(
        "[oauth.microsoft]\nclient_id = \"x\"\nthumbprint = \"abc\"\n",
        &[],
    );
    assert!(
        m.contains("`oauth.microsoft.thumbprint`") && m.contains("40 hex"),
        "{m}"
    );
    let m = err("[oauth.oidc]\nissuer = \"https://id.example\"\nclient_id = \"x\"\nclient_secret = \"y\"\ndiscovery = false\n", &[]);
    assert!(
        m.contains("`oauth.oidc.authorization_endpoint`") && m.contains("discovery = false"),
        "{m}"
    );
    let m = err("[oauth.oidc]\nissuer = \"https://id.example\"\nclient_id = \"x\"\nclient_secret = \"y\"\nscope = \"email\"\n", &[]);
    assert!(
        m.contains("`oauth.oidc.scope`") && m.contains("openid"),
        "{m}"
    );
}

#[test]
fn signing_key_accepts_padding() {
    let key = URL_SAFE_NO_PAD.encode([7u8; 32]);
    assert!(check_signing_key(&key).is_ok());
    assert!(check_signing_key(&format!("{key}=")).is_ok());
    assert!(check_signing_key("").is_err());
}

#[test]
fn database_tls_keys() {
    use crate::store::TlsMode;
    let (_dir, file, e) = setup("");
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert_eq!(c.database.tls.mode, TlsMode::Prefer);
    assert_eq!(c.database.tls.ca_file, None);
    for (name, mode) in TlsMode::ALL {
        let (_dir, file, e) = setup(&format!(
            "[database]\nurl = \"postgres://u:p@h/db\"\ntls = \"{name}\"\n"
        ));
        let c = Config::load_with_env(Some(&file), &e).unwrap();
        assert_eq!(c.database.tls.mode, mode, "{name}");
    }
    // The environment too, and a CA file with verify.
    let (dir, file, mut e) = setup("[database]\nurl = \"mysql://u:p@h/db\"\n");
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    e.extend(env(&[
        ("GS_DATABASE__TLS", "verify"),
        ("GS_DATABASE__CA_FILE", &ca.display().to_string()),
    ]));
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert_eq!(c.database.tls.mode, TlsMode::Verify);
    assert_eq!(c.database.tls.ca_file.as_deref(), Some(ca.as_path()));

    // An unknown mode names the key, the value and the modes that exist.
    let m = err("[database]\ntls = \"yes\"\n", &[]);
    assert!(
        m.contains("`database.tls`")
            && m.contains("`yes`")
            && m.contains("off, prefer, require, verify"),
        "{m}"
    );
    let m = err("", &[("GS_DATABASE__TLS", "REQUIRE")]);
    assert!(
        m.contains("`database.tls`") && m.contains("GS_DATABASE__TLS"),
        "{m}"
    );
    let m = err("[database]\ntls = true\n", &[]);
    assert!(m.contains("`database.tls`") && m.contains("string"), "{m}");
    // SQLite: off and prefer are ignored, require and verify refused.
    for ok in ["off", "prefer"] {
        let (_dir, file, e) = setup(&format!("[database]\ntls = \"{ok}\"\n"));
        Config::load_with_env(Some(&file), &e).unwrap();
    }
    let m = err("[database]\ntls = \"require\"\n", &[]);
    assert!(m.contains("`database.tls`") && m.contains("SQLite"), "{m}");
    // A missing or certificate-less CA file is an error at start-up, naming the file.
    let pg = "[database]\nurl = \"postgres://u:p@h/db\"\ntls = \"verify\"\n";
    let m = err(&format!("{pg}ca_file = \"/nonexistent/ca.pem\"\n"), &[]);
    assert!(
        m.contains("`database.ca_file`") && m.contains("/nonexistent/ca.pem"),
        "{m}"
    );
    let (dir, file, e) = setup("");
    let not_pem = dir.path().join("key.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    std::fs::write(&file, format!("{pg}ca_file = \"{}\"\n", not_pem.display())).unwrap();
    let m = Config::load_with_env(Some(&file), &e)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("`database.ca_file`") && m.contains("no PEM certificate"),
        "{m}"
    );
    // A CA file means nothing without verify: refused rather than silently ignored.
    let m = err(
        "[database]\nurl = \"postgres://u:p@h/db\"\ntls = \"require\"\nca_file = \"/etc/hostname\"\n",
        &[],
    );
    assert!(
        m.contains("`database.ca_file`") && m.contains("verify"),
        "{m}"
    );
    // TLS parameters in the URL would contradict the keys: refused, password hidden.
    let m = err(
        "[database]\nurl = \"postgres://u:secret@h/db?sslmode=disable\"\n",
        &[],
    );
    assert!(
        m.contains("`database.url`")
            && m.contains("sslmode")
            && m.contains("database.tls")
            && !m.contains("secret"),
        "{m}"
    );
}

#[test]
fn sqlite_synchronous_is_full_unless_set_to_normal() {
    use crate::store::SqliteSync;
    let (_dir, file, e) = setup("");
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert_eq!(c.database.sqlite_synchronous, SqliteSync::Full);
    let (_dir, file, e) = setup("[database]\nsqlite_synchronous = \"normal\"\n");
    let c = Config::load_with_env(Some(&file), &e).unwrap();
    assert_eq!(c.database.sqlite_synchronous, SqliteSync::Normal);
    let msg = err("", &[("GS_DATABASE__SQLITE_SYNCHRONOUS", "off")]);
    assert!(
        msg.contains("sqlite_synchronous") && msg.contains("`off`"),
        "{msg}"
    );
}
