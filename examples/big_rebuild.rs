//! Times a full rebuild of a large generated contest held in memory.
use gs::demo::{generate, ContestShape};
use gs::state::{Game, GameOptions};
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let t = Instant::now();
    let tables = generate(&ContestShape {
        seed: 1,
        users: 20_000,
        submissions: 1_000_000,
        ..ContestShape::default()
    });
    println!(
        "generated in {:?}, peak RSS {:.0} MB",
        t.elapsed(),
        peak_rss_mb()
    );
    let t = Instant::now();
    let game = Game::build(tables, 2000, GameOptions::default());
    println!(
        "rebuilt in {:?}, {} submissions, peak RSS {:.0} MB",
        t.elapsed(),
        game.submissions.len(),
        peak_rss_mb()
    );
}
