//! Start-up cost of a large contest: 20,000 users and 1,000,000 submissions loaded from
//! SQLite and rebuilt into the game, timed with the peak RSS of the process.
//!
//! Run: `cargo bench --bench load_sqlite` (the database is generated once, under
//! target/, by a first process; a fresh process then measures the load alone).

use gs::demo::{generate, ContestShape};
use gs::rows::Dump;
use gs::state::GameOptions;
use gs::store::Store;
use std::path::PathBuf;
use std::time::Instant;

const USERS: usize = 20_000;
const SUBMISSIONS: usize = 1_000_000;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn db_path() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target")));
    dir.join(format!("bench-{USERS}u-{SUBMISSIONS}s.db"))
}

async fn generate_db(path: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let tmp = path.with_extension("tmp.db");
    let _ = std::fs::remove_file(&tmp);
    let store = Store::connect(&format!("sqlite://{}", tmp.display())).await?;
    store.migrate().await?;
    let tables = generate(&ContestShape {
        seed: 11,
        users: USERS,
        submissions: SUBMISSIONS,
        ..ContestShape::default()
    });
    store.import(&Dump { tables }, false).await?;
    store.close().await;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let path = db_path();
    if std::env::var_os("GS_BENCH_MEASURE").is_none() {
        if !path.exists() {
            println!("generating {} (once)...", path.display());
            runtime.block_on(generate_db(&path))?;
        }
        // Measure in a fresh process so that the generation's memory does not count.
        let status = std::process::Command::new(std::env::current_exe()?)
            .env("GS_BENCH_MEASURE", "1")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let started = Instant::now();
    let game = runtime.block_on(async {
        let store = Store::connect(&format!("sqlite://{}", path.display())).await?;
        let game = gs::store::load_game(&store, Some(2000), GameOptions::default()).await?;
        Ok::<_, Box<dyn std::error::Error>>(game)
    })?;
    let total = started.elapsed();
    println!(
        "{} users / {} submissions loaded and rebuilt in {total:?}; peak RSS {:.0} MB",
        game.users.len(),
        game.submissions.len(),
        peak_rss_mb()
    );
    Ok(())
}
