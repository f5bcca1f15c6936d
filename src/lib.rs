//! Guiding Star in Rust: a CTF contest backend.
//!
//! # Layout
//!
//! **rules** — the contest's rules in plain Rust: groups, boards, scoring, profile
//! fields, cooldowns, badges, site templates. The one place organizers are expected to edit.
//!
//! **rows** — the raw rows the database stores (schema.md); the only persistent data.
//!
//! **state** — the in-RAM game state: pure logic, no IO, no async. Built from rows by a
//! full rebuild or by applying one change at a time, with identical results; answers the
//! player API's questions as JSON values.
//!
//! **store** — the SQL side: migrations for SQLite, MySQL/MariaDB and PostgreSQL,
//! loading and writing rows, dump import and export.
//!
//! **glitter** — the reducer⇄worker protocol over ZeroMQ: action request/reply and the
//! event stream, their JSON wire format (docs/glitter.md), and the worker's resync logic.
//!
//! **config** — `gs.toml`, defaults and `GS_SECTION__KEY` overrides (cli.md).
//!
//! **generator** — organizer generators of dynamic flags and per-user attachments, run
//! as child processes outside every critical path.
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
