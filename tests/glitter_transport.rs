//! Glitter over real sockets: request/reply over ipc:// and tcp://, many calls in flight,
//! pub/sub, forged traffic refused while good traffic keeps being served, and measurements.

use std::io::{Read, Write};
#[cfg(unix)]
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gs::glitter::{
    Action, ActionClient, ActionReply, ActionServer, Event, EventKind, EventPublisher,
    EventSubscriber, GlitterError, PushMessage, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use serde_json::json;
use zeromq::prelude::*;

const TOKEN: &str = "test-token-7c1d9a";

#[cfg(unix)]
/// A fresh ipc:// address given as a path *relative to the working directory*, in a
/// directory that does not exist yet (the server must create it).
fn relative_ipc_addr(name: &str) -> (tempfile::TempDir, String) {
    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let abs = base.path().join("nested").join(name);
    let cwd = std::env::current_dir().unwrap();
    let rel = relative_to(&abs, &cwd);
    assert!(rel.is_relative());
    (base, format!("ipc://{}", rel.display()))
}

#[cfg(unix)]
fn relative_to(target: &Path, from: &Path) -> PathBuf {
    let (t, f): (Vec<_>, Vec<_>) = (target.components().collect(), from.components().collect());
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    rel
}

fn agree(uid: i64) -> Action {
    Action::AgreeTerm { uid }
}

/// Replies to every action with its uid as state counter and the action as data.
fn spawn_echo(mut server: ActionServer, count: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some((action, responder)) = server.recv().await {
            count.fetch_add(1, Ordering::SeqCst);
            let counter = match &action {
                Action::AgreeTerm { uid } => *uid as u64,
                _ => 0,
            };
            let data = serde_json::to_value(&action).unwrap();
            responder
                .reply(ActionReply::ok(counter).with_data(data))
                .await
                .unwrap();
        }
    })
}

async fn check_round_trip(addr: &str) {
    let server = ActionServer::bind(addr, TOKEN).await.unwrap();
    let endpoint = server.endpoint().to_owned();
    let count = Arc::new(AtomicUsize::new(0));
    let _echo = spawn_echo(server, count.clone());
    let client = ActionClient::connect(&endpoint, TOKEN).await.unwrap();
    let flag = Action::SubmitFlag {
        uid: 3,
        challenge_key: "web".into(),
        flag: "flag{ünï}".into(),
        meta: Default::default(),
    };
    let reply = client.call(flag.clone()).await.unwrap();
    assert!(reply.is_ok());
    assert_eq!(reply.data.unwrap(), serde_json::to_value(&flag).unwrap());
    assert_eq!(client.call(agree(9)).await.unwrap().state_counter, 9);
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[cfg(unix)]
#[tokio::test]
async fn glitter_request_reply_over_relative_ipc() {
    let (_dir, addr) = relative_ipc_addr("action.sock");
    check_round_trip(&addr).await;
}

#[tokio::test]
async fn glitter_request_reply_over_tcp() {
    check_round_trip("tcp://127.0.0.1:0").await;
}

#[cfg(unix)]
#[tokio::test]
async fn glitter_stale_socket_file_is_replaced_and_removed() {
    let (dir, addr) = relative_ipc_addr("stale.sock");
    let path = PathBuf::from(addr.strip_prefix("ipc://").unwrap());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // leaves a stale file
    let server = ActionServer::bind(&addr, TOKEN).await.unwrap();
    // A second reducer on the same path is refused while the first lives.
    let err = ActionServer::bind(&addr, TOKEN).await.unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    drop(server);
    assert!(!path.exists(), "socket file removed on drop");
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glitter_hundred_calls_in_flight_are_paired_by_request_id() {
    let mut server = ActionServer::bind("tcp://127.0.0.1:0", TOKEN)
        .await
        .unwrap();
    let client = ActionClient::connect(server.endpoint(), TOKEN)
        .await
        .unwrap();
    const N: i64 = 100;
    // The server holds every request until all 100 are in flight, then answers in reverse.
    let reducer = tokio::spawn(async move {
        let mut held = Vec::new();
        while held.len() < N as usize {
            held.push(server.recv().await.unwrap());
        }
        for (action, responder) in held.into_iter().rev() {
            let Action::AgreeTerm { uid } = action else {
                panic!("{action:?}")
            };
            responder
                .reply(ActionReply::ok(uid as u64).with_data(json!(uid)))
                .await
                .unwrap();
        }
        server
    });
    let calls: Vec<_> = (1..=N)
        .map(|uid| {
            let client = client.clone();
            tokio::spawn(async move { (uid, client.call(agree(uid)).await) })
        })
        .collect();
    for call in calls {
        let (uid, reply) = call.await.unwrap();
        let reply = reply.unwrap();
        assert_eq!(reply.state_counter, uid as u64);
        assert_eq!(reply.data, Some(json!(uid)));
    }
    reducer.await.unwrap();
}

#[tokio::test]
async fn glitter_dropped_responder_answers_with_error_and_timeouts_fire() {
    let mut server = ActionServer::bind("tcp://127.0.0.1:0", TOKEN)
        .await
        .unwrap();
    let client = ActionClient::connect_with(
        server.endpoint(),
        TOKEN,
        Duration::from_millis(300),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let reducer = tokio::spawn(async move {
        let (_a, responder) = server.recv().await.unwrap();
        drop(responder);
        let (_a, held) = server.recv().await.unwrap(); // never answered in time
        tokio::time::sleep(Duration::from_millis(600)).await;
        let _ = held.reply(ActionReply::ok(1)).await; // late: must be ignored by the client
        server
    });
    let reply = client.call(agree(1)).await.unwrap();
    assert!(reply.error_msg.unwrap().contains("dropped"));
    let err = client.call(agree(2)).await.unwrap_err();
    assert!(matches!(err, GlitterError::Timeout(_)), "{err}");
    let server = reducer.await.unwrap();
    drop(server);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glitter_client_reconnects_after_reducer_restart() {
    let (_dir, addr) = relative_ipc_addr("restart.sock");
    let count = Arc::new(AtomicUsize::new(0));
    let echo = spawn_echo(
        ActionServer::bind(&addr, TOKEN).await.unwrap(),
        count.clone(),
    );
    let client =
        ActionClient::connect_with(&addr, TOKEN, Duration::from_secs(2), Duration::from_secs(2))
            .await
            .unwrap();
    assert_eq!(client.call(agree(1)).await.unwrap().state_counter, 1);
    echo.abort();
    let _ = echo.await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _echo = spawn_echo(
        ActionServer::bind(&addr, TOKEN).await.unwrap(),
        count.clone(),
    );
    // The first call may land on the dead connection; the second must succeed.
    let mut ok = false;
    for _ in 0..3 {
        if let Ok(r) = client.call(agree(2)).await {
            assert_eq!(r.state_counter, 2);
            ok = true;
            break;
        }
    }
    assert!(ok, "client did not reconnect");
}

async fn subscribe_and_warm_up(publisher: &EventPublisher, addr: &str) -> EventSubscriber {
    let mut sub = EventSubscriber::connect(addr).await.unwrap();
    // Slow joiner: publish SYNCs until the subscription has reached the publisher.
    loop {
        publisher.publish(&Event::sync(0, 0)).await.unwrap();
        if let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(20), sub.recv()).await {
            assert_eq!(e.kind, EventKind::Sync);
            break;
        }
    }
    // Drain warm-up SYNCs still in flight.
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(50), sub.recv()).await {}
    sub
}

async fn check_pub_sub(addr: &str) {
    let publisher = EventPublisher::bind(addr).await.unwrap();
    let endpoint = publisher.endpoint().to_owned();
    let mut a = subscribe_and_warm_up(&publisher, &endpoint).await;
    let mut b = subscribe_and_warm_up(&publisher, &endpoint).await;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(50), a.recv()).await {}
    let mut sent = Vec::new();
    for (i, kind) in EventKind::ALL.iter().enumerate() {
        let e = match kind {
            EventKind::Push => Event::push(
                i as u64,
                PushMessage {
                    payload: json!({"n": i}),
                    to_groups: None,
                    to_uids: Some(vec![1]),
                },
            ),
            _ => Event::new(*kind, i as u64 + 1, i as i64),
        };
        publisher.publish(&e).await.unwrap();
        sent.push(e);
    }
    for sub in [&mut a, &mut b] {
        for e in &sent {
            let got = tokio::time::timeout(Duration::from_secs(2), sub.recv())
                .await
                .unwrap();
            assert_eq!(&got.unwrap(), e);
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn glitter_pub_sub_over_ipc() {
    let (_dir, addr) = relative_ipc_addr("event.sock");
    check_pub_sub(&addr).await;
}

#[tokio::test]
async fn glitter_pub_sub_over_tcp() {
    check_pub_sub("tcp://127.0.0.1:0").await;
}

/// A captured copy of everything logged, to check what is (not) written.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;
    fn make_writer(&'a self) -> LogBuf {
        self.clone()
    }
}

async fn raw_call(dealer: &mut zeromq::DealerSocket, frames: Vec<Bytes>) -> Vec<Bytes> {
    dealer
        .send(zeromq::ZmqMessage::try_from(frames).unwrap())
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(2), dealer.recv()).await;
    reply
        .expect("a reply to a refused request")
        .unwrap()
        .into_vec()
}

fn request(token: &str, id: &str, protocol: &str, body: &str) -> Vec<Bytes> {
    vec![
        Bytes::new(),
        Bytes::copy_from_slice(protocol.as_bytes()),
        Bytes::copy_from_slice(token.as_bytes()),
        Bytes::copy_from_slice(id.as_bytes()),
        Bytes::copy_from_slice(body.as_bytes()),
    ]
}

fn error_of(reply: &[Bytes]) -> (String, String) {
    assert_eq!(reply.len(), 4, "{reply:?}");
    let r: ActionReply = serde_json::from_slice(&reply[3]).unwrap();
    assert_eq!(r.state_counter, 0);
    (
        String::from_utf8(reply[2].to_vec()).unwrap(),
        r.error_msg.expect("an error"),
    )
}

/// ZMTP 3 greeting + READY(DEALER) as raw bytes, to forge frames below any library.
fn zmtp_handshake() -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    let mut mechanism = b"NULL".to_vec();
    mechanism.resize(20, 0);
    g.extend_from_slice(&mechanism);
    g.resize(64, 0);
    let mut ready = vec![5];
    ready.extend_from_slice(b"READY");
    ready.push(11);
    ready.extend_from_slice(b"Socket-Type");
    ready.extend_from_slice(&6u32.to_be_bytes());
    ready.extend_from_slice(b"DEALER");
    g.push(0x04);
    g.push(ready.len() as u8);
    g.extend_from_slice(&ready);
    g
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glitter_forged_and_malformed_traffic_is_refused_and_server_keeps_serving() {
    let logs = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _log = tracing::subscriber::set_global_default(subscriber);

    let server = ActionServer::bind("tcp://127.0.0.1:0", TOKEN)
        .await
        .unwrap();
    let endpoint = server.endpoint().to_owned();
    let count = Arc::new(AtomicUsize::new(0));
    let _echo = spawn_echo(server, count.clone());
    let good = ActionClient::connect(&endpoint, TOKEN).await.unwrap();
    let mut probe = 1000;
    let mut still_serving = || {
        let good = good.clone();
        probe += 1;
        let uid = probe;
        async move {
            let r = good
                .call(agree(uid))
                .await
                .expect("good request after forged traffic");
            assert_eq!(r.state_counter, uid as u64);
        }
    };

    let mut dealer = zeromq::DealerSocket::new();
    dealer.connect(&endpoint).await.unwrap();
    let hello_body = |v: &str| {
        serde_json::to_string(&Action::WorkerHello {
            worker_id: "w".into(),
            protocol_version: v.into(),
        })
        .unwrap()
    };
    let agree_body = r#"{"type":"AGREE_TERM","uid":5}"#;
    let cases: Vec<(&str, Vec<Bytes>, &str)> = vec![
        (
            "no token",
            {
                let mut f = request(TOKEN, "1", PROTOCOL_VERSION, agree_body);
                f.remove(2);
                f
            },
            "malformed request",
        ),
        (
            "wrong token",
            request("guess", "2", PROTOCOL_VERSION, agree_body),
            "invalid token",
        ),
        (
            "empty token",
            request("", "3", PROTOCOL_VERSION, agree_body),
            "invalid token",
        ),
        (
            "garbage",
            vec![Bytes::from_static(b"\x00\xff\x13garbage")],
            "malformed request",
        ),
        (
            "old protocol",
            request(TOKEN, "4", "glitter.alpha.v2", agree_body),
            "protocol version mismatch",
        ),
        (
            "hello of another version",
            request(TOKEN, "5", PROTOCOL_VERSION, &hello_body("gs-glitter/0")),
            "protocol version mismatch: worker",
        ),
        (
            "unknown type",
            request(
                TOKEN,
                "6",
                PROTOCOL_VERSION,
                r#"{"type":"GRANT_ADMIN","uid":1}"#,
            ),
            "unknown action type",
        ),
        (
            "bad json",
            request(
                TOKEN,
                "7",
                PROTOCOL_VERSION,
                "{\"type\": \"AGREE_TERM\", uid",
            ),
            "not JSON",
        ),
        (
            "bad fields",
            request(
                TOKEN,
                "8",
                PROTOCOL_VERSION,
                r#"{"type":"AGREE_TERM","uid":"1"}"#,
            ),
            "malformed AGREE_TERM",
        ),
    ];
    for (name, frames, expected) in cases {
        let id = frames
            .get(3)
            .map(|b| String::from_utf8_lossy(b).into_owned());
        let reply = raw_call(&mut dealer, frames).await;
        let (reply_id, msg) = error_of(&reply);
        assert!(msg.starts_with("glitter: "), "{name}: {msg}");
        assert!(msg.contains(expected), "{name}: {msg}");
        if name != "garbage" && name != "no token" {
            assert_eq!(Some(reply_id), id, "{name}: the request id is echoed");
        }
        still_serving().await;
    }
    // A good hello passes the transport.
    let ok = raw_call(
        &mut dealer,
        request(TOKEN, "9", PROTOCOL_VERSION, &hello_body(PROTOCOL_VERSION)),
    )
    .await;
    let r: ActionReply = serde_json::from_slice(&ok[3]).unwrap();
    assert!(r.is_ok(), "{r:?}");

    // Oversized: a 2 MiB frame from a real ZeroMQ peer; the guard drops the connection.
    let mut big = zeromq::DealerSocket::new();
    big.connect(&endpoint).await.unwrap();
    let huge = "x".repeat(2 * MAX_FRAME_BYTES);
    big.send(zeromq::ZmqMessage::try_from(request(TOKEN, "10", PROTOCOL_VERSION, &huge)).unwrap())
        .await
        .unwrap();
    // No reply: either nothing comes or the dropped connection surfaces as an error.
    let answer = tokio::time::timeout(Duration::from_millis(500), big.recv()).await;
    assert!(!matches!(answer, Ok(Ok(_))), "{answer:?}");
    still_serving().await;

    // Below any library: a header announcing a 1 TiB frame (aborts an unguarded zeromq
    // server), and a stream of noise instead of a greeting.
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(&zmtp_handshake()).unwrap();
        s.write_all(&[0x02]).unwrap();
        s.write_all(&(1u64 << 40).to_be_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink); // ends when the guard closes the connection
        let mut noise = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = noise.write_all(&[0x5a; 4096]);
    })
    .await
    .unwrap();
    still_serving().await;

    // Only the good requests reached the reducer: 11 probes + 1 hello.
    assert_eq!(count.load(Ordering::SeqCst), 12);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("refused action request"), "{text}");
    assert!(text.contains("exceeds"), "{text}");
    assert!(!text.contains(TOKEN), "the token must never be logged");
}

#[tokio::test]
async fn glitter_flooding_unauthenticated_peer_stops_getting_replies() {
    let server = ActionServer::bind("tcp://127.0.0.1:0", TOKEN)
        .await
        .unwrap();
    let endpoint = server.endpoint().to_owned();
    let _echo = spawn_echo(server, Arc::new(AtomicUsize::new(0)));
    let mut dealer = zeromq::DealerSocket::new();
    dealer.connect(&endpoint).await.unwrap();
    for i in 0..40 {
        let f = request("guess", &i.to_string(), PROTOCOL_VERSION, "{}");
        dealer
            .send(zeromq::ZmqMessage::try_from(f).unwrap())
            .await
            .unwrap();
    }
    let mut replies = 0;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(300), dealer.recv()).await {
        replies += 1;
    }
    assert_eq!(replies, 16);
    let good = ActionClient::connect(&endpoint, TOKEN).await.unwrap();
    assert!(good.call(agree(1)).await.unwrap().is_ok());
}

#[tokio::test]
async fn glitter_bad_arguments_are_reported() {
    assert!(ActionServer::bind("tcp://127.0.0.1:0", "").await.is_err());
    assert!(ActionServer::bind("inproc://x", TOKEN).await.is_err());
    assert!(ActionClient::connect("tcp://127.0.0.1:1", "")
        .await
        .is_err());
    let e = EventPublisher::bind("udp://1.2.3.4:5").await.unwrap_err();
    assert!(e.to_string().contains("udp://1.2.3.4:5"), "{e}");
    let r = ActionClient::connect_with(
        "tcp://127.0.0.1:1",
        TOKEN,
        Duration::from_millis(200),
        Duration::from_millis(200),
    )
    .await;
    assert!(r.is_err(), "nothing listens on port 1");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Measurement, not a check: `cargo test --release --test glitter_transport -- --ignored --nocapture`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn glitter_measure_latency_and_throughput() {
    let (_dir, event_addr) = relative_ipc_addr("bench-event.sock");
    let publisher = EventPublisher::bind(&event_addr).await.unwrap();
    let mut sub = subscribe_and_warm_up(&publisher, &event_addr).await;
    let mut lat = Vec::new();
    for i in 0..20_000u64 {
        let e = Event::new(EventKind::NewSubmission, i, i as i64);
        let t0 = Instant::now();
        publisher.publish(&e).await.unwrap();
        let got = sub.recv().await.unwrap();
        lat.push(t0.elapsed());
        assert_eq!(got.state_counter, i);
    }
    lat.sort();
    println!(
        "event publish→receive over ipc (20000, one at a time): p50 {:?} p99 {:?} max {:?}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );

    let t0 = Instant::now();
    for i in 0..50_000u64 {
        publisher
            .publish(&Event::new(EventKind::UpdateUser, i, 1))
            .await
            .unwrap();
    }
    let mut n = 0;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await {
        n += 1;
    }
    println!(
        "event burst over ipc: 50000 published, {n} received in {:?}",
        t0.elapsed() - Duration::from_millis(200)
    );

    let (_dir2, action_addr) = relative_ipc_addr("bench-action.sock");
    let server = ActionServer::bind(&action_addr, TOKEN).await.unwrap();
    let _echo = spawn_echo(server, Arc::new(AtomicUsize::new(0)));
    let client = ActionClient::connect(&action_addr, TOKEN).await.unwrap();
    let mut rtt = Vec::new();
    for i in 0..10_000 {
        let t0 = Instant::now();
        client.call(agree(i)).await.unwrap();
        rtt.push(t0.elapsed());
    }
    rtt.sort();
    println!(
        "action round trip over ipc (sequential, 10000): p50 {:?} p99 {:?}",
        percentile(&rtt, 0.5),
        percentile(&rtt, 0.99)
    );
    for in_flight in [1usize, 16, 64] {
        let total = 40_000usize;
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..in_flight)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for i in 0..total / in_flight {
                        client.call(agree(i as i64)).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "action throughput over ipc, {in_flight} in flight: {:.0} calls/s",
            total as f64 / secs
        );
    }
}
