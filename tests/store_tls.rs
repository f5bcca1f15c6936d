//! `[database] tls` against the local servers, without reconfiguring them: MariaDB here has
//! no TLS, so `require` and `verify` must fail at once with a clear message while `prefer`
//! and `off` connect; Debian's PostgreSQL has TLS on with its self-signed "snakeoil"
//! certificate for `localhost`, so `require` connects encrypted (checked in
//! `pg_stat_ssl`), `off` connects in plain text, and `verify` fails unless that certificate
//! is given as `ca_file` and the URL names `localhost`. Each test adapts to what the
//! server reports (TLS on or off) and asserts the matching outcome.

mod store_support;

use std::time::Duration;

use gs::store::{DbTls, Store, StoreError, TlsMode};
use sqlx::{Connection, Row};
use store_support::{mysql_server, postgres_server, Kind, TestDb};

/// Longer than any local connection takes; a TLS mismatch must never wait for a timeout.
const NO_HANG: Duration = Duration::from_secs(10);

fn tls(mode: TlsMode) -> DbTls {
    DbTls {
        mode,
        ca_file: None,
    }
}

async fn connect(url: &str, tls: &DbTls) -> Result<Store, StoreError> {
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(NO_HANG, Store::connect_with(url, tls))
        .await
        .unwrap_or_else(|_| panic!("connecting with tls = {:?} hung", tls.mode));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "connecting with tls = {:?} took {:?}",
        tls.mode,
        started.elapsed()
    );
    result
}

/// How many of the server's connections to `db` are encrypted, and how many there are.
async fn pg_ssl_counts(db: &str) -> (i64, i64) {
    let mut c = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_server()))
        .await
        .expect("PostgreSQL");
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
         JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.datname = $1",
    )
    .bind(db)
    .fetch_one(&mut c)
    .await
    .expect("pg_stat_ssl");
    (row.get(0), row.get(1))
}

/// Closes `store` and waits until the server has no connection to `db` left, so that the
/// next mode's count sees only its own connections.
async fn close_and_wait(store: Store, db: &str) {
    store.close().await;
    let deadline = std::time::Instant::now() + NO_HANG;
    while pg_ssl_counts(db).await.1 > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "connections to {db} stay open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The server's `ssl` setting and certificate file.
async fn pg_tls_setting() -> (bool, String) {
    let mut c = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_server()))
        .await
        .expect("PostgreSQL");
    let on: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let cert: String = sqlx::query_scalar("SHOW ssl_cert_file")
        .fetch_one(&mut c)
        .await
        .unwrap();
    (on == "on", cert)
}

#[tokio::test]
async fn mariadb_without_tls_refuses_require_and_verify_at_once() {
    let db = TestDb::new(Kind::MySql).await;
    let mut c = sqlx::MySqlConnection::connect(&mysql_server())
        .await
        .expect("MariaDB");
    let have_ssl: String = sqlx::query("SHOW VARIABLES LIKE 'have_ssl'")
        .fetch_one(&mut c)
        .await
        .map(|r| r.get::<String, _>(1))
        .unwrap_or_else(|_| "NO".into());
    let server_has_tls = have_ssl == "YES";
    println!("MariaDB have_ssl = {have_ssl}");

    for mode in [TlsMode::Off, TlsMode::Prefer] {
        let store = connect(&db.url, &tls(mode)).await.expect("connects");
        store.ping().await.expect("answers");
        store.close().await;
    }
    let required = connect(&db.url, &tls(TlsMode::Require)).await;
    if server_has_tls {
        required
            .expect("a server with TLS accepts require")
            .close()
            .await;
    } else {
        let e = required.expect_err("require without TLS on the server fails");
        assert!(matches!(e, StoreError::Tls { .. }), "{e:?}");
        let m = e.to_string();
        assert!(
            m.contains("server does not support TLS")
                && m.contains("tls = \"require\" needs a server with TLS enabled")
                && m.contains(&db.name().to_string()),
            "{m}"
        );
    }
    // verify also checks the certificate: without TLS, or with a certificate no public
    // CA signed (a local server's), it fails with the verify hint.
    let e = connect(&db.url, &tls(TlsMode::Verify))
        .await
        .expect_err("verify against the local server fails");
    assert!(matches!(e, StoreError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("tls = \"verify\" needs"), "{e}");
}

#[tokio::test]
async fn postgres_tls_modes_reach_the_server() {
    let db = TestDb::new(Kind::Postgres).await;
    let (server_tls, cert_file) = pg_tls_setting().await;
    println!("PostgreSQL ssl = {server_tls}, ssl_cert_file = {cert_file}");

    // off: plain text even though the server offers TLS.
    let store = connect(&db.url, &tls(TlsMode::Off)).await.expect("off");
    store.ping().await.unwrap();
    let (encrypted, total) = pg_ssl_counts(db.name()).await;
    assert!(
        total >= 1 && encrypted == 0,
        "off: {encrypted} of {total} encrypted"
    );
    close_and_wait(store, db.name()).await;

    // prefer: TLS when the server has it.
    let store = connect(&db.url, &tls(TlsMode::Prefer))
        .await
        .expect("prefer");
    store.ping().await.unwrap();
    let (encrypted, total) = pg_ssl_counts(db.name()).await;
    assert!(total >= 1, "prefer: no connection seen");
    assert_eq!(
        encrypted == total,
        server_tls,
        "prefer: {encrypted} of {total} encrypted"
    );
    close_and_wait(store, db.name()).await;

    let required = connect(&db.url, &tls(TlsMode::Require)).await;
    if server_tls {
        let store = required.expect("require against a server with TLS");
        store.ping().await.unwrap();
        let (encrypted, total) = pg_ssl_counts(db.name()).await;
        assert!(
            total >= 1 && encrypted == total,
            "require: {encrypted} of {total} encrypted"
        );
        close_and_wait(store, db.name()).await;
    } else {
        let e = required.expect_err("require without TLS on the server fails");
        assert!(e.to_string().contains("server does not support TLS"), "{e}");
    }

    // verify without a CA file: a local server's certificate is signed by no public CA.
    let e = connect(&db.url, &tls(TlsMode::Verify))
        .await
        .expect_err("verify without ca_file fails against a self-signed certificate");
    assert!(matches!(e, StoreError::Tls { .. }), "{e:?}");
    assert!(
        e.to_string().contains("tls = \"verify\" needs") && e.to_string().contains("ca_file"),
        "{e}"
    );
}

/// `verify` with the server's own certificate as `ca_file`: accepted when the URL names
/// the host in the certificate, refused for another name of the same server.
#[tokio::test]
async fn postgres_verify_checks_the_ca_file_and_the_host_name() {
    let (server_tls, cert_file) = pg_tls_setting().await;
    let default_server = postgres_server() == "postgres://postgres@127.0.0.1:5432";
    let readable = std::fs::read_to_string(&cert_file).is_ok_and(|t| t.contains("CERTIFICATE"));
    if !(server_tls && default_server && readable) {
        println!(
            "SKIPPED: needs the local PostgreSQL with TLS on and its certificate readable \
             (ssl = {server_tls}, cert `{cert_file}` readable = {readable}, default server = {default_server})"
        );
        return;
    }
    let db = TestDb::new(Kind::Postgres).await;
    let with_ca = DbTls {
        mode: TlsMode::Verify,
        ca_file: Some(cert_file.clone().into()),
    };
    // Debian's snakeoil certificate names `localhost`.
    let by_name = db.url.replace("@127.0.0.1:", "@localhost:");
    let store = connect(&by_name, &with_ca)
        .await
        .expect("verify with the server's certificate as ca_file, by its name");
    store.ping().await.unwrap();
    let (encrypted, total) = pg_ssl_counts(db.name()).await;
    assert!(
        total >= 1 && encrypted == total,
        "verify: {encrypted} of {total} encrypted"
    );
    close_and_wait(store, db.name()).await;

    // The same server by IP address: the certificate does not name it.
    let e = connect(&db.url, &with_ca)
        .await
        .expect_err("verify refuses a certificate for another host name");
    assert!(matches!(e, StoreError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("naming the URL's host"), "{e}");
}

#[tokio::test]
async fn sqlite_ignores_prefer_and_refuses_required_tls() {
    let db = TestDb::new(Kind::Sqlite).await;
    for mode in [TlsMode::Off, TlsMode::Prefer] {
        let store = connect(&db.url, &tls(mode)).await.expect("sqlite");
        store.ping().await.unwrap();
        store.close().await;
    }
    for mode in [TlsMode::Require, TlsMode::Verify] {
        let e = connect(&db.url, &tls(mode)).await.expect_err("refused");
        assert!(matches!(e, StoreError::SqliteTls(_)), "{e:?}");
        assert!(e.to_string().contains("SQLite"), "{e}");
    }
}
