//! HTTP request counts and latencies per endpoint (the route pattern, never the raw
//! path, so that the number of series stays bounded) and status.

use super::histogram::{AtomicHistogram, LATENCY_BUCKETS};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// Labels of one series: `endpoint` (route pattern) and `status`.
pub type RequestLabels = [(&'static str, String); 2];

/// Status codes with a series of their own; others are counted by class (`4xx`, …).
const STATUSES: [u16; 20] = [
    101, 200, 204, 206, 301, 302, 303, 304, 400, 401, 403, 404, 405, 408, 413, 415, 429, 500, 502,
    503,
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Where a status is kept in an endpoint's table.
fn slot(status: u16) -> usize {
    match STATUSES.binary_search(&status) {
        Ok(i) => i,
        Err(_) => STATUSES.len() + usize::from((status / 100).clamp(1, 5) - 1),
    }
}

fn status_label(slot: usize) -> String {
    STATUSES
        .get(slot)
        .map_or_else(|| CLASSES[slot - STATUSES.len()].to_owned(), u16::to_string)
}

/// The series of one endpoint, created on the first request with each status.
#[derive(Debug)]
pub struct EndpointMetrics {
    endpoint: String,
    series: [OnceLock<(Counter, AtomicHistogram)>; STATUSES.len() + CLASSES.len()],
}

/// The HTTP metrics of one server.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, AtomicHistogram, fn() -> AtomicHistogram>,
    endpoints: RwLock<HashMap<String, Arc<EndpointMetrics>>>,
}

fn latency_histogram() -> AtomicHistogram {
    AtomicHistogram::new(LATENCY_BUCKETS)
}

/// The endpoint label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

impl HttpMetrics {
    /// Registers the families (`gs_http_requests_total`, `gs_http_request_duration_seconds`).
    pub fn register(registry: &mut Registry) -> HttpMetrics {
        let requests = Family::default();
        let duration = Family::new_with_constructor(latency_histogram as fn() -> AtomicHistogram);
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response headers, by route pattern and status",
            duration.clone(),
        );
        HttpMetrics {
            requests,
            duration,
            endpoints: RwLock::new(HashMap::new()),
        }
    }

    /// The series of a route pattern (`None`: no route matched).
    pub fn endpoint(&self, pattern: Option<&str>) -> Arc<EndpointMetrics> {
        let pattern = pattern.unwrap_or(UNMATCHED);
        if let Some(e) = self
            .endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(pattern)
        {
            return e.clone();
        }
        let mut map = self.endpoints.write().unwrap_or_else(|e| e.into_inner());
        map.entry(pattern.to_owned())
            .or_insert_with(|| {
                Arc::new(EndpointMetrics {
                    endpoint: pattern.to_owned(),
                    series: std::array::from_fn(|_| OnceLock::new()),
                })
            })
            .clone()
    }

    /// Records one answered request.
    pub fn record(&self, endpoint: &EndpointMetrics, status: u16, elapsed: Duration) {
        let i = slot(status);
        let (count, latency) = endpoint.series[i].get_or_init(|| {
            let labels = [
                ("endpoint", endpoint.endpoint.clone()),
                ("status", status_label(i)),
            ];
            (
                self.requests.get_or_create_owned(&labels),
                self.duration.get_or_create_owned(&labels),
            )
        });
        count.inc();
        latency.observe_duration(elapsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_slots_and_labels() {
        assert_eq!(status_label(slot(200)), "200");
        assert_eq!(status_label(slot(503)), "503");
        assert_eq!(status_label(slot(418)), "4xx");
        assert_eq!(status_label(slot(299)), "2xx");
        assert_eq!(status_label(slot(999)), "5xx");
        assert_eq!(status_label(slot(0)), "1xx");
    }

    #[test]
    fn a_series_is_created_once_and_counts() {
        let mut registry = Registry::default();
        let m = HttpMetrics::register(&mut registry);
        let e = m.endpoint(Some("/service/wish/game"));
        for _ in 0..3 {
            m.record(&e, 200, Duration::from_micros(80));
        }
        m.record(
            &m.endpoint(Some("/service/wish/game")),
            404,
            Duration::from_millis(2),
        );
        let text = super::super::render(&registry);
        assert!(
            text.contains(r#"http_requests_total{endpoint="/service/wish/game",status="200"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_requests_total{endpoint="/service/wish/game",status="404"} 1"#),
            "{text}"
        );
    }
}
