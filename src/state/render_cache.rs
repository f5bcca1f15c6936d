//! A per-text cache of rendered templates, keyed by viewer group and tick, so that a
//! challenge description is rendered once per group and tick, not once per request.

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
    /// Renders `source` for `group` at `tick`, or returns the cached HTML.
    /// A failed render yields the placeholder HTML and logs the error once.
    pub fn get(&self, what: &str, source: &str, group: Option<&str>, tick: i64) -> Arc<str> {
        let key = (group.map(str::to_owned), tick);
        // A poisoned lock only means another render panicked; the map is still valid.
        let mut map = self.rendered.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(html) = map.get(&key) {
            return html.clone();
        }
        let (html, error) = template::render_or_placeholder(source, group, tick);
        if let Some(error) = error {
            tracing::error!("template render failed: {what}: {error}");
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        let html: Arc<str> = html.into();
        map.insert(key, html.clone());
        html
    }

    /// Forgets every rendering (the source changed).
    pub fn clear(&mut self) {
        self.rendered
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
