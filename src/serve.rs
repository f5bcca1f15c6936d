//! Process entry points: the reducer, one API worker, and `serve`, which runs the reducer
//! and N workers in one process, each in its own task, talking over glitter exactly as
//! separate processes would. All stop cleanly on Ctrl-C or SIGTERM.

use crate::config::Config;
use crate::glitter::ActionClient;
use crate::reducer::{Reducer, ReducerRequest};
use crate::store::Store;
use crate::worker::{follow, WorkerShared};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown requested");
}

/// Fills an empty database with the demo contest (never touches one that holds data).
pub async fn seed_demo_if_empty(config: &Config) -> anyhow::Result<()> {
    let store = Store::connect_with(&config.database.url, &config.database.tls).await?;
    store.migrate().await?;
    if store.is_empty().await? {
        let now = crate::clock::now_s();
        let shape = crate::demo::ContestShape {
            seed: 2026,
            start_s: now - 86_400,
            now_s: Some(now),
            ..crate::demo::ContestShape::default()
        };
        let dump = crate::rows::Dump {
            tables: crate::demo::generate(&shape),
        };
        store.import(&dump, false).await?;
        write_demo_attachments(config, &dump.tables);
        tracing::info!(
            "the database was empty: loaded the demo contest ({} users, {} submissions); log in as the admin at /service/auth/manual?identity=admin",
            dump.tables.user.len(),
            dump.tables.submission.len()
        );
    }
    store.close().await;
    Ok(())
}

/// Puts a file behind each attachment action of the demo (an empty zip archive), so that
/// the demo's download buttons work; files that exist are left alone.
pub fn write_demo_attachments(config: &Config, tables: &crate::rows::Tables) {
    const EMPTY_ZIP: [u8; 22] = [
        0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let paths = tables
        .challenge
        .iter()
        .filter_map(|c| c.actions.as_array())
        .flatten()
        .filter_map(|a| a.get("file_path")?.as_str());
    for rel in paths {
        let path = config.paths.attachments.join(rel);
        if path.exists() || rel.contains("..") {
            continue;
        }
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, EMPTY_ZIP));
        if let Err(e) = written {
            tracing::warn!("demo attachment {}: {e}", path.display());
        }
    }
}

/// The address worker `index` listens on: api port + index.
pub fn worker_addr(config: &Config, index: u16) -> anyhow::Result<SocketAddr> {
    let mut addr = config.api.listen;
    let port = addr.port().checked_add(index).with_context(|| {
        format!(
            "api.listen port {} + worker index {index} overflows",
            addr.port()
        )
    })?;
    addr.set_port(port);
    Ok(addr)
}

/// Runs the reducer until `shutdown`; fails loudly when it cannot serve.
pub async fn run_reducer(
    config: Arc<Config>,
    requests: mpsc::Receiver<ReducerRequest>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let (reducer, server) = Reducer::start(config).await?;
    reducer.run(server, requests, shutdown).await
}

/// Pending connections the kernel queues for a listener (capped by
/// `net.core.somaxconn`). Tokio's `TcpListener::bind` asks for 128, which a burst of a
/// few hundred players (or a reverse proxy opening connections) overflows: the dropped
/// handshakes are retried a second later.
pub const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `addr` with [`LISTEN_BACKLOG`].
pub fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Binds the listening socket of API worker `index`; a port that is taken is an error.
pub fn bind_worker(config: &Config, index: u16) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = worker_addr(config, index)?;
    listen(addr)
        .with_context(|| format!("worker {index} cannot listen on {addr} (api.listen + {index})"))
}

/// Binds the admin panel's listening socket; a port that is taken is an error.
pub fn bind_admin(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = config.admin.listen;
    listen(addr).with_context(|| format!("the admin panel cannot listen on {addr} (admin.listen)"))
}

/// Runs API worker `index` until `shutdown` flips to true.
pub async fn run_worker(
    config: Arc<Config>,
    index: u16,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = bind_worker(&config, index)?;
    run_worker_on(config, index, listener, shutdown).await
}

/// Runs API worker `index` on a bound `listener` until `shutdown` flips to true.
pub async fn run_worker_on(
    config: Arc<Config>,
    index: u16,
    listener: tokio::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let shared = new_worker(config, index).await?;
    run_worker_with(shared, listener, shutdown).await
}

/// API worker `index`, connected to the reducer, with no game yet.
pub async fn new_worker(config: Arc<Config>, index: u16) -> anyhow::Result<Arc<WorkerShared>> {
    let actions =
        ActionClient::connect(&config.glitter.action_addr, config.glitter.token.expose()).await?;
    Ok(Arc::new(WorkerShared::new(config, index, actions)))
}

/// Runs a worker on a bound `listener`: it follows the reducer and serves its HTTP API
/// until `shutdown` flips to true.
pub async fn run_worker_with(
    shared: Arc<WorkerShared>,
    listener: tokio::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let index = shared.index;
    let store =
        Store::connect_with(&shared.config.database.url, &shared.config.database.tls).await?;
    // The follower stops after the HTTP server: the requests in flight at shutdown are
    // finished, and an action's request waits until its change is applied.
    let (stop_following, following) = watch::channel(false);
    let follower = tokio::spawn(follow::run(shared.clone(), store, following));
    tracing::info!("worker {index} listening on http://{addr}");
    let mut stop = shutdown.clone();
    let result = crate::worker::http::serve(shared.clone(), listener, async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await;
    shared.anticheat.flush().await;
    let _ = stop_following.send(true);
    follower.abort();
    result.with_context(|| format!("worker {index} HTTP server failed"))
}

/// Whether connecting a worker failed only because the reducer did not answer in time.
fn reducer_not_answering_yet(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<crate::glitter::GlitterError>(),
        Some(crate::glitter::GlitterError::Transport(_))
    )
}

/// `gs serve`: the reducer and `api.workers` workers in one process. Every port is bound
/// before anything starts, so a taken one stops `gs` at once; a part that fails later
/// (a worker, the admin panel, the reducer) stops the whole process with its error.
pub async fn run_all(config: Arc<Config>) -> anyhow::Result<()> {
    let admin_listener = bind_admin(&config)?;
    let worker_listeners = (0..config.api.workers)
        .map(|index| bind_worker(&config, index))
        .collect::<anyhow::Result<Vec<_>>>()?;
    seed_demo_if_empty(&config).await?;
    // Two stops: the parts in front of the reducer (workers, admin panel, police) first,
    // the reducer once they are done, so that the actions in flight at shutdown are
    // still judged, applied and answered.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (reducer_stop_tx, mut reducer_stop) = watch::channel(false);
    let (requests_tx, requests_rx) = mpsc::channel(64);
    let reducer_config = config.clone();
    // The reducer runs on a thread of its own: each of its waits on the database ends
    // with a wake-up, which on the shared runtime would queue behind the HTTP tasks.
    let mut reducer = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("gs-reducer")
            .build()
            .context("cannot start the reducer's runtime")?;
        runtime
            .block_on(run_reducer(reducer_config, requests_rx, async move {
                let _ = reducer_stop.wait_for(|s| *s).await;
            }))
            .context("the reducer stopped")
    });
    let mut parts = tokio::task::JoinSet::new();
    // The workers connect while the reducer starts; a reducer that cannot start is the
    // error to report, not the workers' wait for it.
    let mut workers = Vec::new();
    for index in 0..config.api.workers {
        let worker = loop {
            let attempt = tokio::select! {
                worker = new_worker(config.clone(), index) => worker,
                failed = &mut reducer => return Err(part_stopped(failed)),
            };
            match attempt {
                Ok(worker) => break worker,
                // The reducer answers once its game is loaded, which takes longer than
                // the connect timeout on a big contest (20,000 users / 1,000,000
                // submissions on a busy machine): wait on while it is still running.
                Err(e) if reducer_not_answering_yet(&e) => {
                    tracing::info!("worker {index}: the reducer is not answering yet (still loading the game?); connecting again");
                }
                Err(e) => return Err(e),
            }
        };
        workers.push(worker);
    }
    // The admin panel reads worker 0's game, which is in this process anyway: one copy of
    // the game less than a replica of its own.
    let admin_replica = workers.first().cloned();
    let admin_config = config.clone();
    let admin_stop = stop_rx.clone();
    parts.spawn(async move {
        crate::admin::serve(
            admin_config,
            requests_tx,
            admin_listener,
            admin_stop,
            admin_replica,
        )
        .await
        .context("the admin panel stopped")
    });
    // The police watches worker 0's game (one copy of the game less than a follower of
    // its own, and each event applied once less).
    if let (true, Some(watched)) = (config.police.enabled, workers.first()) {
        let store = Store::connect_with(&config.database.url, &config.database.tls).await?;
        let patrol = crate::police::attach(watched, store);
        tracing::info!("police: watching worker {}'s game", watched.index);
        let mut stop = stop_rx.clone();
        parts.spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            patrol.finish().await;
            Ok(())
        });
    }
    for (shared, listener) in workers.into_iter().zip(worker_listeners) {
        let (index, stop) = (shared.index, stop_rx.clone());
        parts.spawn(async move {
            run_worker_with(shared, listener, stop)
                .await
                .with_context(|| format!("worker {index} stopped"))
        });
    }
    let mut reducer_stopped = false;
    let outcome = tokio::select! {
        _ = shutdown_signal() => Ok(()),
        Some(first) = parts.join_next() => Err(part_stopped(first)),
        done = &mut reducer => {
            reducer_stopped = true;
            Err(part_stopped(done))
        }
    };
    let _ = stop_tx.send(true);
    while let Some(done) = parts.join_next().await {
        log_stopped_part(done, outcome.is_ok());
    }
    if !reducer_stopped {
        let _ = reducer_stop_tx.send(true);
        log_stopped_part(reducer.await, outcome.is_ok());
    }
    outcome
}

/// Logs why a part stopped after the shutdown began (its error, unless `outcome_ok` is
/// false: the error returned is then the first one).
fn log_stopped_part(done: Result<anyhow::Result<()>, tokio::task::JoinError>, outcome_ok: bool) {
    match done {
        Ok(Err(e)) if outcome_ok => tracing::error!("{e:#}"),
        Err(e) => tracing::error!("a task crashed: {e}"),
        _ => {}
    }
}

/// Why a part of `gs serve` that should run until shutdown stopped.
fn part_stopped(joined: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match joined {
        Ok(Ok(())) => anyhow::anyhow!("a part of gs serve stopped unexpectedly"),
        Ok(Err(e)) => e,
        Err(e) => anyhow::anyhow!("a task of gs serve crashed: {e}"),
    }
}

/// Starts the admin panel on a bound listener beside the reducer; its error is logged
/// and returned, so that the process can stop.
pub fn spawn_admin(
    config: Arc<Config>,
    requests: mpsc::Sender<ReducerRequest>,
    listener: tokio::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let result = crate::admin::serve(config, requests, listener, shutdown, None).await;
        if let Err(e) = &result {
            tracing::error!("admin panel: {e:#}");
        }
        result
    })
}
