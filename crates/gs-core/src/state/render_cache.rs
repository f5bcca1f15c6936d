//! A per-text cache of rendered templates, keyed by viewer group and tick, so that a
//! challenge description is rendered once per group and tick, not once per request.

use super::problem_log::ProblemLog;
use super::template;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A viewer's group (`None` for guests) and the tick.
type RenderKey = (Option<String>, i64);

/// Rendered HTML of one template for each (group, tick) asked so far.
#[derive(Debug, Default)]
pub struct RenderCache {
    rendered: Mutex<HashMap<RenderKey, Arc<str>>>,
}

impl Clone for RenderCache {
    /// A clone starts empty: the cache is only an optimisation.
    fn clone(&self) -> Self {
        RenderCache::default()
    }
}

/// The keys kept per template before the cache starts over (groups × recent ticks).
const MAX_ENTRIES: usize = 64;

impl RenderCache {
    /// Renders `source` for `group` at `tick`, or returns the cached HTML. A failed
    /// render yields the placeholder HTML and records the error in `problems` once.
    /// The render runs outside the lock: a slow template holds up no other reader.
    pub fn get(
        &self,
        what: impl FnOnce() -> String,
        source: &str,
        group: Option<&str>,
        tick: i64,
        problems: &ProblemLog,
    ) -> Arc<str> {
        let key = (group.map(str::to_owned), tick);
        if let Some(html) = self.lock().get(&key) {
            return html.clone();
        }
        let (html, error) = template::render_or_placeholder(source, group, tick);
        let html: Arc<str> = html.into();
        let mut map = self.lock();
        // Another reader may have rendered the same key meanwhile: keep the first.
        if let Some(first) = map.get(&key) {
            return first.clone();
        }
        if let Some(error) = error {
            problems.record(format!("template render failed: {}: {error}", what()));
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, html.clone());
        html
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RenderKey, Arc<str>>> {
        // A poisoned lock only means another render panicked; the map is still valid.
        self.rendered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every rendering (the source changed).
    pub fn clear(&mut self) {
        self.rendered
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
