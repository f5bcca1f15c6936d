//! A worker serving the `running` golden contest for load tests with an external client
//! (e.g. wrk); ignored by default. `GS_BENCH_PORT` (8099) and `GS_BENCH_SECS` (60).
//!
//! ```text
//! cargo test --release --test http_bench -- --ignored --nocapture &
//! wrk -t1 -c64 -d10s -s tests/http_bench.lua http://127.0.0.1:8099/service/wish/board/score_all
//! ```

mod common;
mod http_support;

use http_support::{build_game, contest_tables, test_config, TOKEN};
use std::sync::Arc;

#[test]
#[ignore = "a load-test server, run by hand"]
fn serve_for_benchmark() {
    let port: u16 = std::env::var("GS_BENCH_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8099);
    let secs: u64 = std::env::var("GS_BENCH_SECS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(60);
    // Two worker threads: the target machine of the brief has two cores.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Arc::new(test_config(dir.path(), &[]));
        let _server = gs::glitter::ActionServer::bind(&config.glitter.action_addr, TOKEN)
            .await
            .expect("bind");
        let client = gs::glitter::ActionClient::connect(&config.glitter.action_addr, TOKEN)
            .await
            .expect("connect");
        let shared = Arc::new(gs::worker::WorkerShared::new(config, 0, client));
        shared.install(build_game(contest_tables("running")), 1);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind http");
        println!("serving on 127.0.0.1:{port} for {secs} s");
        gs::worker::http::serve(
            shared,
            listener,
            tokio::time::sleep(std::time::Duration::from_secs(secs)),
        )
        .await
        .expect("serve");
    });
}

#[test]
#[ignore = "a measurement, run by hand in release mode"]
fn answer_costs_without_http() {
    let game = build_game(contest_tables("running"));
    let viewer = game
        .user_by_auth_token(&http_support::auth_token(2))
        .and_then(|u| game.user_idx(u.id()));
    let now_s = http_support::now_ms() / 1000;
    let n = 20_000;
    let time = |name: &str, f: &dyn Fn() -> Vec<u8>| {
        let started = std::time::Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            bytes += f().len();
        }
        let per = started.elapsed() / n;
        println!(
            "{name:<28} {per:>10?} per answer ({} bytes)",
            bytes / n as usize
        );
    };
    time("game_info (user 2)", &|| {
        serde_json::to_vec(&game.answer_game_info(viewer, true, now_s)).unwrap()
    });
    time("game_info (guest)", &|| {
        serde_json::to_vec(&game.answer_game_info(None, true, now_s)).unwrap()
    });
    time("game (user 2)", &|| {
        serde_json::to_vec(&game.answer_game(viewer)).unwrap()
    });
    time("game (guest)", &|| {
        serde_json::to_vec(&game.answer_game(None)).unwrap()
    });
    time("board/score_all serialize", &|| {
        serde_json::to_vec(&*game.answer_board(viewer, "score_all", now_s)).unwrap()
    });
    time("check_play_game (user 2)", &|| {
        let ok = viewer.is_some_and(|ui| game.users[ui as usize].check_play_game().is_ok());
        vec![u8::from(ok)]
    });
}
