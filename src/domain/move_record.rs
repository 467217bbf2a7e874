//! One move as the control database records it: where from and to, how far
//! it got, and how it ended. Read by every layer; written only by `control`.

use chrono::{DateTime, Utc};

use super::{MoveMode, Phase, Status};
use crate::ids::{MoveId, ShardName, WebsiteId};

#[derive(Debug, Clone)]
pub struct MoveRecord {
    pub id: MoveId,
    pub website: WebsiteId,
    pub source: ShardName,
    pub target: ShardName,
    pub status: Status,
    pub phase: Phase,
    pub keep_source: bool,
    pub batch_rows: u32,
    pub rows_total: i64,
    pub rows_copied: i64,
    pub rollback_required: bool,
    pub cancel_requested: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub requested_by: Option<String>,
    pub notes: Option<String>,
    pub current_table: Option<String>,
    /// Attempts started so far; the newest one owns the move (see `start_attempt`).
    pub attempts: i32,
    /// Attempts before this one do not count against the retry budget.
    pub retry_from: i32,
    /// Cleanup step 1 done: no fence an earlier move left refuses writes on the target.
    pub target_unfenced_at: Option<DateTime<Utc>>,
    /// Cleanup step 2 done: the source's rows are deleted (or kept, with `keep_source`).
    pub source_cleaned_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub mode: MoveMode,
    /// Online moves: the freeze (fence raised to registry switched).
    pub freeze_started_at: Option<DateTime<Utc>>,
    pub freeze_ended_at: Option<DateTime<Utc>>,
    /// Captured changes replayed inside the freeze.
    pub freeze_changes: Option<i64>,
    /// Catch-up: changes replayed so far, changes waiting, and changes per second.
    pub changes_applied: i64,
    pub changes_waiting: i64,
    pub catch_up_rate: Option<f64>,
    /// Catch-up is ready to freeze but waits for these sessions' locks.
    pub freeze_waits_for: Option<String>,
    /// The operator's steps after the move (refreshing materialized views).
    pub follow_up: Option<String>,
    /// `engine.freeze_budget_ms` as it was when the open (or last) freeze began.
    pub freeze_budget_ms: Option<i32>,
}

impl MoveRecord {
    /// How long the website's writes were frozen, once the freeze is over.
    pub fn freeze_ms(&self) -> Option<i64> {
        Some((self.freeze_ended_at? - self.freeze_started_at?).num_milliseconds())
    }
}
