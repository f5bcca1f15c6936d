//! Triggers: named points in time that move the contest from one tick to the next.
//! The reducer owns the clock; this module only answers questions about the timeline.

use crate::rows::TriggerRow;
use crate::rules;

/// Why trigger `row` cannot join `others` (another trigger has its tick or its time), if
/// it cannot: the one check for loading, live changes and the admin panel. A trigger
/// with the same id is the row being replaced, not a clash.
pub fn clash(others: &[TriggerRow], row: &TriggerRow) -> Option<String> {
    let others = || others.iter().filter(|t| t.id != row.id || row.id == 0);
    if let Some(t) = others().find(|t| t.tick == row.tick) {
        return Some(format!("tick {} already has trigger #{}", row.tick, t.id));
    }
    let t = others().find(|t| t.timestamp_s == row.timestamp_s)?;
    Some(format!(
        "timestamp {} already has trigger #{}",
        row.timestamp_s, t.id
    ))
}

/// All triggers of the contest, ordered by time.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    triggers: Vec<TriggerRow>,
}

/// The current trigger's name and the next trigger, as shown on the game page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TickDescription {
    /// Name of the trigger at the current tick (`??` when there is none).
    pub current_name: String,
    /// Time of the next trigger, if any.
    pub next_timestamp_s: Option<i64>,
    /// Name of the next trigger, if any.
    pub next_name: Option<String>,
}

impl Timeline {
    /// Builds the timeline from rows (any order).
    pub fn new(mut triggers: Vec<TriggerRow>) -> Timeline {
        triggers.sort_by_key(|t| (t.timestamp_s, t.id));
        Timeline { triggers }
    }

    /// Triggers ordered by time.
    pub fn triggers(&self) -> &[TriggerRow] {
        &self.triggers
    }

    /// The tick at `now_s`: that of the latest trigger whose time has come, else 0.
    pub fn tick_at(&self, now_s: i64) -> i64 {
        self.triggers
            .iter()
            .filter(|t| t.timestamp_s <= now_s)
            .max_by_key(|t| t.timestamp_s)
            .map_or(0, |t| t.tick)
    }

    /// The first trigger strictly after `now_s`, which the reducer's clock sleeps until.
    pub fn next_after(&self, now_s: i64) -> Option<&TriggerRow> {
        self.triggers
            .iter()
            .filter(|t| t.timestamp_s > now_s)
            .min_by_key(|t| t.timestamp_s)
    }

    /// The trigger whose tick is exactly `tick`.
    pub fn at_tick(&self, tick: i64) -> Option<&TriggerRow> {
        self.triggers.iter().find(|t| t.tick == tick)
    }

    /// Current trigger name and the next trigger after `cur_tick`.
    pub fn describe(&self, cur_tick: i64) -> TickDescription {
        let current_name = self
            .at_tick(cur_tick)
            .map_or_else(|| "??".to_owned(), |t| t.name.clone());
        let next = self.triggers.iter().find(|t| t.tick > cur_tick);
        TickDescription {
            current_name,
            next_timestamp_s: next.map(|t| t.timestamp_s),
            next_name: next.map(|t| t.name.clone()),
        }
    }

    /// The scoreboard's time range `[begin, end]` in seconds (`now_s` is used without triggers).
    pub fn board_range(&self, now_s: i64) -> (i64, i64) {
        let begin = self
            .at_tick(rules::TICK_BOARD_BEGIN)
            .or_else(|| self.triggers.first())
            .map_or(now_s - 600, |t| t.timestamp_s);
        let end = self
            .at_tick(rules::TICK_BOARD_END)
            .or_else(|| self.triggers.last())
            .map_or(now_s + 600, |t| t.timestamp_s);
        (begin, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: i64, tick: i64, ts: i64) -> TriggerRow {
        TriggerRow {
            id,
            tick,
            timestamp_s: ts,
            name: format!("t{tick}"),
        }
    }

    #[test]
    fn tick_is_latest_passed_trigger() {
        let tl = Timeline::new(vec![t(2, 1000, 200), t(1, 0, 100), t(3, 9000, 300)]);
        assert_eq!(tl.tick_at(50), 0);
        assert_eq!(tl.tick_at(100), 0);
        assert_eq!(tl.tick_at(250), 1000);
        assert_eq!(tl.tick_at(1000), 9000);
        assert_eq!(tl.next_after(250).map(|t| t.tick), Some(9000));
        assert_eq!(tl.board_range(0), (200, 300));
        let d = tl.describe(1000);
        assert_eq!(d.current_name, "t1000");
        assert_eq!(d.next_name.as_deref(), Some("t9000"));
        assert_eq!(Timeline::default().describe(5).current_name, "??");
        assert_eq!(Timeline::default().board_range(1000), (400, 1600));
    }
}
