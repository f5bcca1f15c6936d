//! The HTTP server's limits over real sockets (issue 10, finding 8): a half-sent head, an
//! idle keep-alive connection and a stalled body are closed after their timeouts, and
//! beyond the connection limit new connections wait until a slot frees.

mod common;
mod http_support;

use http_support::{start, Setup};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn worker() -> http_support::TestWorker {
    start(Setup {
        env: vec![
            ("GS_API__HEADER_TIMEOUT_S", "1"),
            ("GS_API__BODY_TIMEOUT_S", "1"),
            ("GS_API__MAX_CONNECTIONS", "8"),
        ],
        ..Setup::contest("running")
    })
    .await
}

async fn connect(w: &http_support::TestWorker) -> TcpStream {
    TcpStream::connect(w.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&got).into_owned(),
                    Some(started.elapsed()),
                )
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_idle_connections_and_stalled_bodies_are_closed() {
    let w = worker().await;

    let mut half = connect(&w).await;
    half.write_all(b"GET /service/template/faq HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, closed) = until_closed(&mut half, Duration::from_secs(5)).await;
    let closed = closed.expect("a half-sent head is closed");
    println!("half-sent head closed after {closed:?}");
    assert!(closed < Duration::from_secs(3), "{closed:?}");

    let mut idle = connect(&w).await;
    idle.write_all(b"GET /service/template/none HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    let closed = closed.expect("an idle keep-alive connection is closed");
    println!("idle keep-alive connection closed after {closed:?}");
    assert!(closed < Duration::from_secs(3), "{closed:?}");

    let mut stalled = connect(&w).await;
    stalled
        .write_all(
            b"POST /service/anticheat/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
        )
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut stalled, Duration::from_secs(6)).await;
    println!(
        "stalled body: closed after {closed:?}, answered {:?}",
        answer.lines().next()
    );
    assert!(closed.is_some(), "a stalled body is given up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_limit_new_connections_wait_for_a_slot() {
    let w = worker().await;
    // Eight connections that say nothing hold every slot until the header timeout.
    let mut holders = Vec::new();
    for _ in 0..8 {
        holders.push(connect(&w).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let res = tokio::time::timeout(
        Duration::from_secs(8),
        w.get("/service/template/none", None),
    )
    .await
    .expect("served once the silent connections timed out");
    let waited = started.elapsed();
    println!("the ninth connection was served after {waited:?}");
    assert_eq!(res.status().as_u16(), 404);
    assert!(
        waited >= Duration::from_millis(500),
        "served at once despite the limit: {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "{waited:?}");
    drop(holders);
}
