//! The game logic of Guiding Star in Rust: pure, with no IO, no async and no clock.
//!
//! This crate's dependency list is the guarantee: it has no tokio, sqlx, reqwest, axum or
//! tracing, so nothing here can read a socket, a file or the time. Problems (bad rows, a
//! failed template) are returned as values; the caller logs them.
//!
//! # Layout
//!
//! **rules** — the contest's rules in plain Rust: groups, boards, the scoring formula,
//! profile fields, cooldowns, badges, site templates. The one place organizers are
//! expected to edit. May use nothing but std.
//!
//! **rows** — the raw rows the database stores (schema.md); the only persistent data.
//! Plain data with serde.
//!
//! **state** — the in-RAM game state built from rows by a full rebuild or by applying
//! one change at a time, with identical results; answers the player API's questions.
//! Uses rules and rows.
//!
//! **demo** — generated contests (rows) for the demo, property tests and benchmarks.
#![forbid(unsafe_code)]

pub mod demo;
pub mod rows;
pub mod rules;
pub mod state;

/// Helpers shared by the tests (unit and integration); not part of the API.
#[doc(hidden)]
pub mod testing {
    use std::path::PathBuf;

    /// The recorded answers of the reference implementation: `$GS_GOLDEN_DIR`, else
    /// `../shared/golden` beside the checkout, else `/work/shared/golden`.
    pub fn golden_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("GS_GOLDEN_DIR") {
            return PathBuf::from(dir);
        }
        // This crate sits at `<checkout>/crates/gs-core`.
        let beside = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/golden"
        ));
        if beside.is_dir() {
            return beside;
        }
        PathBuf::from("/work/shared/golden")
    }
}
