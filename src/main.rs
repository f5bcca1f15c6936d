//! The `gs` command line (cli.md): one binary for the reducer, workers and maintenance.
//! Errors are printed like cargo's: what went wrong, where, and how to fix it.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use gs::config::Config;
use gs::rows::Dump;
use gs::store::Store;

/// jemalloc: the JSON answers allocate many small objects; it serves them much faster than
/// the system allocator on the hot read endpoints, and (with its background threads, see
/// [`return_freed_memory`]) gives freed memory back to the system, which mimalloc did not
/// do for an idle process (README, "Load test").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background threads: they purge freed pages after the decay time
/// (10 s by default) even when the process allocates nothing more, so the memory of, say,
/// 10,000 closed WebSockets goes back to the system instead of staying with the process.
fn return_freed_memory() {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!("cannot start the allocator's background threads ({e}); freed memory is returned only while the process allocates");
    }
}

/// Guiding Star CTF backend: one reducer, many workers.
#[derive(Debug, Parser)]
#[command(name = "gs", version, about)]
struct Cli {
    /// What to run.
    #[command(subcommand)]
    command: Command,
}

/// `--config FILE`, shared by every command that reads the configuration.
#[derive(Debug, Args)]
struct ConfigArg {
    /// Configuration file (default: ./gs.toml if present, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// All-in-one: reducer, admin panel and the API workers.
    Serve(ConfigArg),
    /// The reducer and the admin panel.
    Reducer(ConfigArg),
    /// One API worker, listening on the API port + N.
    Worker {
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
        /// Which worker this is.
        #[arg(long, value_name = "N")]
        index: u16,
    },
    /// The anti-cheat worker.
    Police(ConfigArg),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Per-user generated attachments and dynamic flags.
    #[command(subcommand)]
    Attachments(AttachmentsCommand),
    /// Write the contest's archive (problem set, writeups, rankings as CSV, announcements).
    Archive {
        /// The folder to write (must be empty unless --force).
        out_dir: PathBuf,
        /// Render descriptions as this user sees them.
        #[arg(long, default_value_t = 1, value_name = "UID")]
        preview_uid: i64,
        /// Write into a non-empty folder.
        #[arg(long)]
        force: bool,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Reports for the organizers, read from the database (works while the contest runs).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print a new token-signing key pair.
    Keygen,
    /// Print the player token of a uid, signed with the configured key.
    Token {
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
        /// The user id.
        #[arg(long)]
        uid: i64,
    },
}

/// `gs attachments …`
#[derive(Debug, Subcommand)]
enum AttachmentsCommand {
    /// Generate every player's attachments and dynamic flags ahead of time (the reducer
    /// must be running: values are stored through it).
    Generate {
        /// Only this challenge.
        #[arg(long, value_name = "KEY")]
        challenge: Option<String>,
        /// Only this user.
        #[arg(long, value_name = "N")]
        uid: Option<i64>,
        /// Make cached attachments again and retry recent failures.
        #[arg(long)]
        force: bool,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// `gs report …`: each loads the game from the database (safe while the contest runs).
#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// The first N of a score board with login properties and profile fields (TSV).
    Top {
        /// The score board.
        #[arg(long, default_value = "score_all")]
        board: String,
        /// How many.
        #[arg(short, long, default_value_t = 10)]
        n: usize,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Login keys of enabled users whose score is above a minimum.
    Active {
        /// Only users with more than this score.
        #[arg(long, default_value_t = 0)]
        min_score: i64,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The top 10 of each category among the users of a group (TSV).
    Category {
        /// The group, e.g. pku.
        #[arg(long)]
        group: String,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Which users a flag text belongs to (TSV).
    WhichFlag {
        /// The challenge key.
        #[arg(long)]
        challenge: String,
        /// The flag's index in the challenge (0 for the first).
        #[arg(long, default_value_t = 0)]
        flag_index: usize,
        /// The flag text.
        flag: String,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The writeups of the chosen uids (TSV).
    Writeups {
        /// User ids, comma separated.
        #[arg(long, value_delimiter = ',', required = true)]
        uids: Vec<i64>,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
}

impl ReportCommand {
    fn config(&self) -> &ConfigArg {
        match self {
            ReportCommand::Top { config, .. }
            | ReportCommand::Active { config, .. }
            | ReportCommand::Category { config, .. }
            | ReportCommand::WhichFlag { config, .. }
            | ReportCommand::Writeups { config, .. } => config,
        }
    }
}

/// `gs db …`
#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Create or upgrade the schema.
    Migrate(ConfigArg),
    /// Load a dump (schema.md); refuses a non-empty database unless --replace.
    Import {
        /// The dump file (JSON).
        file: PathBuf,
        /// Delete every row first.
        #[arg(long)]
        replace: bool,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write a generated contest as a dump (for demos and load tests).
    Generate {
        /// The file to write (`-` for standard output).
        file: PathBuf,
        /// Number of players.
        #[arg(long, default_value_t = 2000)]
        users: usize,
        /// Number of submissions.
        #[arg(long, default_value_t = 20000)]
        submissions: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds from now to the second-phase trigger (default: 2.5 days).
        #[arg(long, value_name = "SECONDS")]
        phase_two_in: Option<i64>,
    },
    /// Write a dump of every table.
    Export {
        /// The file to write (`-` for standard output).
        file: PathBuf,
        /// Shared options.
        #[command(flatten)]
        config: ConfigArg,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let service = matches!(
        cli.command,
        Command::Serve(_) | Command::Reducer(_) | Command::Worker { .. } | Command::Police(_)
    );
    gs::logging::init(service);
    if service {
        return_freed_memory();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return report(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(e),
    }
}

/// Prints an error and its causes, cargo style, and picks the exit code.
fn report(e: anyhow::Error) -> ExitCode {
    let mut shown = e.to_string();
    eprintln!("error: {shown}");
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        // Our errors often quote their cause already; do not print it twice.
        if !shown.contains(&text) {
            eprintln!("\nCaused by:\n  {}", text.replace('\n', "\n  "));
            shown.push_str(&text);
        }
    }
    ExitCode::FAILURE
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(c) => {
            let config = Arc::new(Config::load(c.config.as_deref())?);
            gs::serve::run_all(config).await
        }
        Command::Reducer(c) => {
            let config = Arc::new(Config::load(c.config.as_deref())?);
            let (requests_tx, requests_rx) = tokio::sync::mpsc::channel(64);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            // Bound first: a taken admin port stops the reducer before it starts.
            let listener = gs::serve::bind_admin(&config)?;
            let mut admin = gs::serve::spawn_admin(config.clone(), requests_tx, listener, stop_rx);
            let reducer = gs::serve::run_reducer(config, requests_rx, gs::serve::shutdown_signal());
            let result = tokio::select! {
                r = reducer => r,
                a = &mut admin => match a {
                    Ok(Ok(())) => Err(anyhow::anyhow!("the admin panel stopped unexpectedly")),
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(anyhow::anyhow!("the admin panel crashed: {e}")),
                },
            };
            let _ = stop_tx.send(true);
            if !admin.is_finished() {
                let _ = admin.await;
            }
            result
        }
        Command::Worker { config, index } => {
            let config = Arc::new(Config::load(config.config.as_deref())?);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                gs::serve::shutdown_signal().await;
                let _ = stop_tx.send(true);
            });
            gs::serve::run_worker(config, index, stop_rx).await
        }
        Command::Police(c) => {
            let config = Arc::new(Config::load(c.config.as_deref())?);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                gs::serve::shutdown_signal().await;
                let _ = stop_tx.send(true);
            });
            gs::police::run(config, stop_rx).await
        }
        Command::Attachments(AttachmentsCommand::Generate {
            challenge,
            uid,
            force,
            config,
        }) => {
            let config = Arc::new(Config::load(config.config.as_deref())?);
            let sel = gs::worker::pregenerate::Selection {
                challenge,
                uid,
                force,
            };
            generate_attachments(config, sel).await
        }
        Command::Keygen => {
            let seed = gs::token::new_seed_base64();
            let signer = gs::token::TokenSigner::from_base64(&seed).map_err(anyhow::Error::msg)?;
            use base64::Engine as _;
            let public =
                base64::engine::general_purpose::STANDARD.encode(signer.verifying_key().as_bytes());
            println!("token_signing_key = \"{seed}\"   # [secrets], keep private");
            println!("verify_key = \"{public}\"   # give to challenge servers");
            Ok(())
        }
        Command::Token { config, uid } => {
            let config = Config::load(config.config.as_deref())?;
            let signer = gs::token::TokenSigner::from_seed(config.token_signing_seed());
            println!("{}", signer.sign(uid));
            Ok(())
        }
        Command::Archive {
            out_dir,
            preview_uid,
            force,
            config,
        } => {
            let store = open(&config).await?;
            let cfg = Config::load(config.config.as_deref())?;
            let game = gs::store::load_game(&store, None, cfg.game_options()).await?;
            store.close().await;
            let options = gs::archive::ArchiveOptions {
                out_dir: out_dir.clone(),
                preview_uid,
                force,
            };
            let s = gs::archive::write_archive(&cfg, &game, gs::clock::now_s(), &options)?;
            eprintln!(
                "archive written to {}: {} challenges, {} boards, {} attachments copied",
                out_dir.display(),
                s.challenges,
                s.boards,
                s.attachments
            );
            Ok(())
        }
        Command::Report(report) => {
            let config = report.config();
            let store = open(config).await?;
            let cfg = Config::load(config.config.as_deref())?;
            let game = gs::store::load_game(&store, None, cfg.game_options()).await?;
            store.close().await;
            let text = match &report {
                ReportCommand::Top { board, n, .. } => gs::report::top(&game, board, *n)?,
                ReportCommand::Active { min_score, .. } => gs::report::active(&game, *min_score),
                ReportCommand::Category { group, .. } => gs::report::category(&game, group)?,
                ReportCommand::WhichFlag {
                    challenge,
                    flag_index,
                    flag,
                    ..
                } => gs::report::which_flag(&game, challenge, *flag_index, flag)?,
                ReportCommand::Writeups { uids, .. } => gs::report::writeups(&cfg, &game, uids)?,
            };
            print!("{text}");
            Ok(())
        }
        Command::Db(DbCommand::Migrate(c)) => {
            let store = open(&c).await?;
            drop(store);
            Ok(())
        }
        Command::Db(DbCommand::Import {
            file,
            replace,
            config,
        }) => {
            let dump = read_dump(&file)?;
            let store = open(&config).await?;
            store.import(&dump, replace).await?;
            let t = &dump.tables;
            tracing::info!(
                file = %file.display(),
                users = t.user.len(),
                submissions = t.submission.len(),
                challenges = t.challenge.len(),
                "imported"
            );
            Ok(())
        }
        Command::Db(DbCommand::Generate {
            file,
            users,
            submissions,
            seed,
            phase_two_in,
        }) => {
            let mut shape = gs::demo::ContestShape {
                seed,
                users,
                submissions,
                start_s: gs::clock::now_s() - 86_400,
                now_s: Some(gs::clock::now_s()),
                ..gs::demo::ContestShape::default()
            };
            if let Some(secs) = phase_two_in {
                shape.start_s = gs::clock::now_s() + secs - shape.duration_s / 2;
            }
            let dump = Dump {
                tables: gs::demo::generate(&shape),
            };
            write_dump(&file, &dump)
        }
        Command::Db(DbCommand::Export { file, config }) => {
            let store = open(&config).await?;
            let dump = store.export().await?;
            write_dump(&file, &dump)?;
            tracing::info!(file = %file.display(), submissions = dump.tables.submission.len(), "exported");
            Ok(())
        }
    }
}

/// `gs attachments generate`: follows the reducer like a worker, generates, prints a
/// progress line per item and a summary; fails when any item failed.
async fn generate_attachments(
    config: Arc<Config>,
    sel: gs::worker::pregenerate::Selection,
) -> Result<()> {
    use gs::worker::{follow, pregenerate, WorkerShared};
    let store = Store::connect_with(&config.database.url, &config.database.tls).await?;
    let actions = gs::glitter::ActionClient::connect(
        &config.glitter.action_addr,
        config.glitter.token.expose(),
    )
    .await
    .context("cannot reach the reducer (it stores the generated flags: start it first)")?;
    let shared = Arc::new(WorkerShared::named(
        config.clone(),
        u16::MAX - 1,
        "attachments-generate".into(),
        actions,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(follow::run(shared.clone(), store, stop_rx));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while shared.read(|_| ()).is_none() {
        if std::time::Instant::now() > deadline || follower.is_finished() {
            bail!("no game state from the reducer within 30 s\n  help: is `gs serve` or `gs reducer` running with this configuration?");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let started = std::time::Instant::now();
    let done = pregenerate::run(&shared, &sel, |d, n, total| {
        let width = 30;
        let filled = n * width / total.max(1);
        let what = match &d.item.module {
            Some(m) => format!("{} U#{} {m}", d.item.key, d.item.uid),
            None => format!("{} U#{} flags", d.item.key, d.item.uid),
        };
        let status = match &d.error {
            None => "ok".to_owned(),
            Some(_) => "FAILED".to_owned(),
        };
        println!(
            "[{}{}] {n}/{total} {status} {what} {:.3} s",
            "#".repeat(filled),
            " ".repeat(width - filled),
            d.took.as_secs_f64()
        );
    })
    .await;
    let _ = stop_tx.send(true);
    follower.abort();
    let failed: Vec<_> = done.iter().filter(|d| d.error.is_some()).collect();
    let slowest = done.iter().map(|d| d.took).max().unwrap_or_default();
    println!(
        "{} items, {} generated, {} failed in {:.1} s (slowest {:.3} s)",
        done.len(),
        done.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64()
    );
    for d in &failed {
        println!(
            "  failed: {} U#{} {}: {}",
            d.item.key,
            d.item.uid,
            d.item.module.as_deref().unwrap_or("flags"),
            d.error.as_deref().unwrap_or("")
        );
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} items failed (listed above)",
            failed.len(),
            done.len()
        );
    }
    Ok(())
}

/// Loads the configuration, connects and migrates.
async fn open(c: &ConfigArg) -> Result<Store> {
    let config = Config::load(c.config.as_deref())?;
    let url = &config.database.url;
    let store = match Store::connect_with(url, &config.database.tls).await {
        Ok(store) => store,
        Err(e) => {
            let from = match &config.file {
                Some(f) => format!("set in `{}` or GS_DATABASE__URL", f.display()),
                None => "set by GS_DATABASE__URL or the default".to_string(),
            };
            bail!("{e}\n  help: check `database.url` ({from}) and that the server is running")
        }
    };
    let applied = store.migrate().await?;
    if applied > 0 {
        tracing::info!(applied, "schema migrated");
    }
    Ok(store)
}

/// Reads and parses a dump file, naming the file and position on error.
fn read_dump(path: &Path) -> Result<Dump> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the dump file `{}`", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "`{}` is not a dump (schema.md: {{\"tables\": {{\"user\": [...], ...}}}})",
            path.display()
        )
    })
}

/// Writes a dump; through a temporary file so a failed export never leaves half a file.
fn write_dump(path: &Path, dump: &Dump) -> Result<()> {
    if path == Path::new("-") {
        serde_json::to_writer(std::io::stdout().lock(), dump).context("cannot write the dump")?;
        return Ok(());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let write = || -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer(&mut out, dump)?;
        std::io::Write::flush(&mut out)?;
        std::fs::rename(&tmp, path)
    };
    write().with_context(|| format!("cannot write the dump file `{}`", path.display()))
}
