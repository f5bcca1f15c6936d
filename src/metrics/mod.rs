//! Prometheus metrics (issue 14): one registry per component — a worker or the reducer —
//! rendered in the text exposition format by `prometheus-client`.
//!
//! The hot paths touch only atomics: every labelled series is created once (at start-up
//! or on its first use) and kept as a handle, so recording is an atomic add, never a
//! label lookup or an allocation. Figures that already exist elsewhere (the state counter,
//! users, WebSocket connections) are copied into gauges when a scrape comes.

pub mod histogram;
pub mod http;
pub mod process;
pub mod reducer;
pub mod worker;

pub use histogram::AtomicHistogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the text exposition format (version 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Prefix of every metric of ours (process metrics keep their standard names).
pub const PREFIX: &str = "gs";

/// Renders a registry in the text exposition format.
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Writing into a String cannot fail; an encoder error would be a bug in a metric.
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, registry) {
        tracing::error!("metrics: cannot encode the registry: {e}");
    }
    out
}

/// A registry with the process collector; our metrics go into [`prefixed`].
pub(crate) fn new_registry() -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(process::ProcessCollector));
    registry
}

/// Registers a new metric of type `M` (a counter, gauge or histogram) and returns it.
pub(crate) fn register<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    registry.register(name, help, metric.clone());
    metric
}

/// The part of `registry` whose metrics are named `gs_…`.
pub(crate) fn prefixed(registry: &mut Registry) -> &mut Registry {
    registry.sub_registry_with_prefix(PREFIX)
}
