//! Generating dynamic flags and attachments ahead of time for many users (the reference's
//! `regen_all_attachment.py`): `gs attachments generate` and the admin panel's button.

use super::WorkerShared;
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Which users and challenges to generate for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this challenge (else every challenge with a generator).
    pub challenge: Option<String>,
    /// Only this uid (else every enabled user).
    pub uid: Option<i64>,
    /// Make attachments again even when cached, and retry recent failures now.
    pub force: bool,
}

/// One user's generated items of one challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The user.
    pub uid: i64,
    /// The challenge.
    pub key: String,
    /// The `dyn_attachment` generator folder; `None`: the challenge's dynamic flags only.
    pub module: Option<String>,
}

/// How one item went.
#[derive(Debug, Clone)]
pub struct Done {
    /// What was generated.
    pub item: Item,
    /// How long it took.
    pub took: Duration,
    /// The failure, if any.
    pub error: Option<String>,
}

/// The items of a selection, from the replica's game (empty while it has none).
pub fn items(shared: &WorkerShared, sel: &Selection) -> Vec<Item> {
    shared
        .read(|g| {
            let mut out = Vec::new();
            let users: Vec<i64> = g
                .users
                .iter()
                .filter(|u| u.row.enabled && sel.uid.is_none_or(|id| id == u.id()))
                .map(|u| u.id())
                .collect();
            for ch in g.challenges_in_order() {
                if sel.challenge.as_ref().is_some_and(|k| *k != ch.row.key) {
                    continue;
                }
                let modules: Vec<String> = ch
                    .row
                    .actions
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a.get("type").and_then(Value::as_str) == Some("dyn_attachment"))
                    .filter_map(|a| a.get("module_path").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect();
                let has_dynamic_flags = ch.flags.iter().any(|f| f.spec.generator().is_some());
                for &uid in &users {
                    let key = ch.row.key.clone();
                    if modules.is_empty() && has_dynamic_flags {
                        out.push(Item {
                            uid,
                            key,
                            module: None,
                        });
                        continue;
                    }
                    for m in &modules {
                        out.push(Item {
                            uid,
                            key: key.clone(),
                            module: Some(m.clone()),
                        });
                    }
                }
            }
            out
        })
        .unwrap_or_default()
}

/// Generates one item.
pub async fn generate(shared: &WorkerShared, item: &Item, force: bool) -> Result<(), String> {
    match &item.module {
        Some(m) => shared
            .dynamic_attachment(item.uid, &item.key, m, force)
            .await
            .map(|_| ()),
        None => match shared
            .ensure_dynamic_flags(item.uid, &item.key, force)
            .await
            .into_iter()
            .next()
        {
            Some(e) => Err(e),
            None => Ok(()),
        },
    }
}

/// Generates every item of `sel`, as many at once as the generators allow, calling
/// `each(done, finished, total)` after each one. Returns every outcome.
pub async fn run(
    shared: &WorkerShared,
    sel: &Selection,
    mut each: impl FnMut(&Done, usize, usize),
) -> Vec<Done> {
    let items = items(shared, sel);
    let total = items.len();
    let parallel = shared.config.generators.concurrency;
    let mut stream = futures::stream::iter(items)
        .map(|item| async move {
            let started = Instant::now();
            let error = generate(shared, &item, sel.force).await.err();
            Done {
                item,
                took: started.elapsed(),
                error,
            }
        })
        .buffer_unordered(parallel);
    let mut out = Vec::with_capacity(total);
    while let Some(done) = stream.next().await {
        each(&done, out.len() + 1, total);
        out.push(done);
    }
    out
}
