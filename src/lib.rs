//! Guiding Star in Rust: a CTF contest backend — one reducer (the single writer), many
//! workers following its events, the game state rebuilt from raw rows at start-up.
//!
//! # Layout
//!
//! The game logic is the pure crate `gs-core` (`crates/gs-core`), re-exported here as
//! **rules** (the contest's rules: the one file organizers edit), **rows** (the raw rows,
//! the only persistent data), **state** (the in-RAM game: rebuilds, one-row changes,
//! answers) and **demo** (generated contests). It has no tokio, sqlx, reqwest, axum or
//! tracing, so it cannot do IO: the compiler keeps it pure.
//!
//! This crate does the IO around it. Each module may use the ones listed before it and
//! the core; none imports one that imports it back (`tests/layout.rs` checks it).
//!
//! - **clock** — the wall clock and the organizers' time zone; the only reader of the time.
//! - **web** — URL encoding and request cookies, shared by every HTTP face.
//! - **crypto** — the admin 2FA cookie's HMAC and the RSA the identity providers need.
//! - **token** — player tokens signed exactly as the reference does.
//! - **safe_path** — challenge paths kept inside their folder, links followed.
//! - **config** — `gs.toml`, defaults and `GS_SECTION__KEY` overrides, checked at start-up.
//! - **metrics** — Prometheus registries; hot paths touch only atomics.
//! - **notify** — staff notifications: texts, throttle, webhooks, a bounded queue.
//! - **logging** — log lines on stdout/stderr and the reducer's `log` table; no game logic.
//! - **store** — SQL on SQLite, MySQL/MariaDB, PostgreSQL: migrations, loading the game,
//!   write batches, dumps. The only module that talks to the database.
//! - **glitter** — the reducer⇄worker protocol over ZeroMQ (messages and transport only).
//! - **http_server** — the HTTP accept loop with its timeouts and connection limit.
//! - **generator** — organizer generators of dynamic flags and attachments, run as child
//!   processes outside every critical path.
//! - **reducer** — the single writer: checks actions on its game, commits them, publishes.
//! - **worker** — follows the reducer and serves the player API, WebSocket and web UI from
//!   RAM; never writes to the database (actions go to the reducer).
//! - **police** — the anti-cheat worker: follows like a worker, reports suspicious
//!   submissions; serves no players.
//! - **admin** — the admin panel (in the reducer's process): reads a replica, writes
//!   through the reducer, checks the admin lists on every request.
//! - **archive**, **report** — `gs archive` and `gs report`, from a game loaded from the
//!   database.
//! - **serve** — process entry points: reducer, worker, police, and `serve` (all in one).
#![forbid(unsafe_code)]

pub mod admin;
pub mod archive;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod generator;
pub mod glitter;
pub mod http_server;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod police;
pub mod reducer;
pub mod report;
pub mod safe_path;
pub mod serve;
pub mod store;
pub mod token;
pub mod web;
pub mod worker;

/// The game logic (rules, rows, state) lives in the pure `gs-core` crate; re-exported
/// here so that `gs::state::Game` and `crate::rules` read as before.
pub use gs_core::{demo, rows, rules, state, testing};
