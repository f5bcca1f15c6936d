//! A burst of actions in one transaction, exactly once: repeated action ids get their
//! first outcome, committed ids are recorded with the rows, and "failed" is answered only
//! when the actions are known not to be committed.

use super::action_log::replayed;
use super::actions::{answer_without_writing, run_one, Outcome};
use super::Reducer;
use crate::clock::now_ms;
use crate::glitter::{Action, ActionReply, Event};
use std::collections::HashMap;
use std::time::Instant;

/// What players are told when their action was not stored.
pub const NOT_STORED: &str = "数据库暂时不可用";

/// One action of a batch and the worker's id for it.
pub type Item<'a> = (&'a Action, Option<&'a str>);

/// How a batch ended.
enum Ending {
    Committed,
    /// A statement failed: the transaction was never committed.
    NotCommitted(String),
    /// COMMIT failed: it may or may not have happened.
    InDoubt(String),
}

/// Runs a burst of actions; the replies come back in order, stamped with the epoch.
pub async fn run_batch(r: &mut Reducer, items: &[Item<'_>]) -> Vec<ActionReply> {
    // Before any id is looked up: a failed commit is resolved by the records read back.
    if r.needs_reload {
        if let Err(e) = reload(r).await {
            tracing::error!("reducer: the database is still unavailable: {e:#}");
        }
    }
    let mut replies: Vec<Option<ActionReply>> = vec![None; items.len()];
    let mut pending = Vec::new();
    let mut duplicates = Vec::new();
    let mut first_in_batch: HashMap<&str, usize> = HashMap::new();
    for (i, &(action, id)) in items.iter().enumerate() {
        if let Some(outcome) = answer_without_writing(r, action).await {
            count(r, action, Some(&outcome));
            replies[i] = Some(reply_of(outcome, r.counter));
            continue;
        }
        if let Some(id) = id {
            if let Some(first) = r.log.outcome(id) {
                replies[i] = Some(replayed(first, r.counter, r.broadcaster.epoch));
                continue;
            }
            if let Some(&j) = first_in_batch.get(id) {
                duplicates.push((i, j));
                continue;
            }
            first_in_batch.insert(id, i);
        }
        pending.push(i);
    }
    if !pending.is_empty() {
        write(r, items, &pending, &mut replies).await;
    }
    for (i, j) in duplicates {
        replies[i] = replies[j].clone();
    }
    let epoch = r.broadcaster.epoch;
    replies
        .into_iter()
        .map(|reply| {
            let mut reply = reply.unwrap_or_else(|| ActionReply::error(NOT_STORED, r.counter));
            reply.epoch = epoch;
            reply
        })
        .collect()
}

/// Counts an executed action in the metrics: done (a verdict such as a wrong flag
/// included), refused, or not stored (`None`).
fn count(r: &Reducer, action: &Action, outcome: Option<&Outcome>) {
    use crate::metrics::reducer::ActionOutcome;
    let counted = match outcome {
        Some(Ok(_)) => ActionOutcome::Ok,
        Some(Err(_)) => ActionOutcome::Refused,
        None => ActionOutcome::Failed,
    };
    r.metrics.action(super::action_kind(action), counted);
}

fn reply_of(outcome: Outcome, counter: u64) -> ActionReply {
    outcome.unwrap_or_else(|msg| ActionReply::error(msg, counter))
}

/// Executes the `pending` items in one transaction and fills their replies.
async fn write(
    r: &mut Reducer,
    items: &[Item<'_>],
    pending: &[usize],
    replies: &mut [Option<ActionReply>],
) {
    let unknown_fate = |r: &Reducer, id: Option<&str>| match id {
        Some(id) if r.log.is_in_doubt(id) => ActionReply::retry_later(r.counter),
        _ => ActionReply::error(NOT_STORED, r.counter),
    };
    if r.needs_reload {
        // Not even tried: nothing of these is stored, except what is in doubt.
        for &i in pending {
            replies[i] = Some(unknown_fate(r, items[i].1));
        }
        return;
    }
    let counter_before = r.counter;
    let mut batch = match r.store.write_batch().await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("reducer: cannot start a transaction: {e}");
            for &i in pending {
                replies[i] = Some(unknown_fate(r, items[i].1));
            }
            return;
        }
    };
    let mut events: Vec<Event> = Vec::new();
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(pending.len());
    let mut failed = None;
    // The ids recorded with their rows, and whether some action wrote without an id: what
    // tells afterwards whether a commit of unknown fate happened.
    let mut recorded: Vec<&str> = Vec::new();
    let mut replies_recorded: Vec<String> = Vec::new();
    let mut written_without_id = false;
    let now = now_ms();
    for &i in pending {
        let (action, id) = items[i];
        let written_before = events.len();
        let outcome = match run_one(r, &mut batch, action, &mut events).await {
            Ok(outcome) => outcome,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        let wrote = events.len() > written_before;
        match (id, &outcome) {
            (Some(id), Ok(reply)) if wrote => {
                replies_recorded.push(serde_json::to_string(reply).unwrap_or_default());
                recorded.push(id);
            }
            _ => written_without_id |= wrote,
        }
        outcomes.push((i, outcome));
    }
    if failed.is_none() {
        if let Err(e) = batch.flush().await {
            failed = Some(e.to_string());
        }
    }
    if failed.is_none() && !recorded.is_empty() {
        // One multi-row INSERT for the whole batch, in the same transaction as its rows.
        let records: Vec<(&str, &str)> = recorded
            .iter()
            .copied()
            .zip(replies_recorded.iter().map(String::as_str))
            .collect();
        if let Err(e) = batch.record_actions(now, &records).await {
            failed = Some(e.to_string());
        }
    }
    let ending = match failed {
        Some(e) => {
            batch.rollback().await;
            Ending::NotCommitted(e)
        }
        None if events.is_empty() => {
            batch.rollback().await;
            Ending::Committed
        }
        None => match batch.commit().await {
            Ok(()) => Ending::Committed,
            Err(e) if written_without_id => Ending::InDoubt(e.to_string()),
            Err(e) => settle(r, &recorded, e.to_string()).await,
        },
    };
    match ending {
        Ending::Committed => {
            // Durable now: tell the workers, in counter order.
            for event in events {
                r.broadcaster.publish(event).await;
            }
            super::staff::after_commit(r, outcomes.iter().map(|(i, o)| (items[*i].0, o)));
            let at = Instant::now();
            for (i, outcome) in outcomes {
                count(r, items[i].0, Some(&outcome));
                let reply = reply_of(outcome, r.counter);
                if let Some(id) = items[i].1 {
                    r.log.remember(id, &reply, at);
                }
                replies[i] = Some(reply);
            }
        }
        Ending::NotCommitted(e) => {
            r.metrics.batches_failed.inc();
            tracing::error!(
                "reducer: a batch of {} actions failed and was rolled back: {e}",
                pending.len()
            );
            r.counter = counter_before;
            r.needs_reload = true;
            if let Err(e) = reload(r).await {
                tracing::error!("reducer: cannot reload the game after a failed batch: {e:#}");
            }
            for &i in pending {
                count(r, items[i].0, None);
                replies[i] = Some(ActionReply::error(NOT_STORED, r.counter));
            }
        }
        Ending::InDoubt(e) => {
            r.metrics.batches_failed.inc();
            tracing::error!(
                "reducer: the commit of a batch of {} actions failed; whether it happened \
                 is read back from the database: {e}",
                pending.len()
            );
            r.counter = counter_before;
            r.needs_reload = true;
            r.may_hold_unpublished = true;
            r.log.doubt(
                pending
                    .iter()
                    .filter_map(|&i| items[i].1.map(str::to_owned)),
            );
            if let Err(e) = reload(r).await {
                tracing::error!("reducer: cannot reload the game after a failed commit: {e:#}");
            }
            for &i in pending {
                count(r, items[i].0, None);
                let id = items[i].1;
                replies[i] = Some(match id.and_then(|id| r.log.outcome(id)) {
                    Some(first) => replayed(first, r.counter, r.broadcaster.epoch),
                    None => unknown_fate(r, id),
                });
            }
        }
    }
}

/// Settles a commit that failed without saying whether it happened (a killed or broken
/// connection), from the action ids recorded with its rows, once its transaction has
/// ended for certain: all of them committed, it happened; none, it did not; otherwise
/// (the database cannot tell now) it stays in doubt.
async fn settle(r: &Reducer, recorded: &[&str], error: String) -> Ending {
    if recorded.is_empty() {
        return Ending::InDoubt(error);
    }
    // The connection that failed may not be the only one gone (a restarted server, a
    // killed pool): a few attempts, each on a connection of its own.
    let mut settled = r.store.settled_actions(recorded).await;
    for _ in 0..2 {
        if settled.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        settled = r.store.settled_actions(recorded).await;
    }
    match settled {
        Ok(committed) if committed.len() == recorded.len() => {
            tracing::warn!(
                "reducer: the commit of a batch of {} actions reported an error but happened: {error}",
                recorded.len()
            );
            Ending::Committed
        }
        Ok(committed) if committed.is_empty() => Ending::NotCommitted(error),
        Ok(committed) => Ending::InDoubt(format!(
            "{error}; {} of {} action ids found committed",
            committed.len(),
            recorded.len()
        )),
        Err(e) => Ending::InDoubt(format!("{error}; cannot tell now: {e}")),
    }
}

/// Loads the game and the committed action ids again after a failed batch. Workers hold
/// exactly what was published, which is what the database holds unless a commit of
/// unknown fate happened: only then does the counter jump, so that they reload too.
pub async fn reload(r: &mut Reducer) -> anyhow::Result<()> {
    let doubted = r.log.doubted();
    if !doubted.is_empty() {
        // Their transactions must have ended before the records are read.
        let ids: Vec<&str> = doubted.iter().map(String::as_str).collect();
        r.store.settled_actions(&ids).await?;
    }
    let since = now_ms() - super::action_log::REMEMBERED_FOR.as_millis() as i64;
    let records = r.store.committed_actions(since).await?;
    let options = r.config.game_options();
    r.game = crate::store::load_game(&r.store, Some(r.game.cur_tick), options).await?;
    r.log.reload(records, Instant::now());
    let jump = std::mem::take(&mut r.may_hold_unpublished);
    if jump {
        r.counter += 2;
        r.broadcaster.jump(r.counter, r.game.cur_tick).await;
    }
    r.needs_reload = false;
    tracing::info!(
        "reducer: reloaded the game after a failed batch{}",
        if jump { "; workers reload too" } else { "" }
    );
    Ok(())
}
