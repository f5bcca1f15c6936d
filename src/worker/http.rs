//! Placeholder of the worker's HTTP layer while it is being merged.
//! Replaced by src/worker/http/ (wish endpoints, auth, push, files).

use super::WorkerShared;
use std::sync::Arc;

/// Serves nothing until `shutdown` resolves.
pub async fn serve(
    _shared: Arc<WorkerShared>,
    _listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    shutdown.await;
    Ok(())
}
