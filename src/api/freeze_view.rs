//! An online move's freeze as the API shows it: when the website's writes
//! were refused, for how long, and against which budget.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::control::migrations::FreezeRecord;
use crate::control::migrations::view;
use crate::domain::MoveRecord;

/// The final pause of an online move: the website's writes are refused (SQLSTATE
/// SMF01) from `started_at` until the registry switch at `ended_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreezeView {
    pub started_at: DateTime<Utc>,
    /// Null while the freeze lasts.
    pub ended_at: Option<DateTime<Utc>>,
    /// How long writes were refused; null while the freeze lasts.
    pub duration_ms: Option<i64>,
    /// Captured changes replayed inside the freeze.
    pub changes_drained: Option<i64>,
    /// The `engine.freeze_budget_ms` the freeze was held to, as recorded when
    /// it began (the current setting for moves recorded before that).
    pub budget_ms: u64,
}

/// The freeze once it has begun; `None` before (and for offline moves).
/// `budget_ms` is the current `engine.freeze_budget_ms`.
pub fn freeze(r: &MoveRecord, budget_ms: u64) -> Option<FreezeView> {
    Some(FreezeView {
        started_at: r.freeze_started_at?,
        ended_at: r.freeze_ended_at,
        duration_ms: r.freeze_ms(),
        changes_drained: r.freeze_changes,
        budget_ms: view::freeze_budget_ms(r, budget_ms),
    })
}

/// One freeze of the move that has ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndedFreezeView {
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// How long the website's writes were refused.
    pub duration_ms: i64,
    pub changes_drained: Option<i64>,
    /// The `engine.freeze_budget_ms` it was held to.
    pub budget_ms: i32,
    /// cutover | thaw (it could not finish and the move caught up again) |
    /// rollback | expired (its mover was gone; another process lifted the fence)
    pub ended_by: String,
}

pub fn ended(f: &FreezeRecord) -> EndedFreezeView {
    EndedFreezeView {
        started_at: f.started_at,
        ended_at: f.ended_at,
        duration_ms: (f.ended_at - f.started_at).num_milliseconds(),
        changes_drained: f.changes_drained,
        budget_ms: f.budget_ms,
        ended_by: f.ended_by.clone(),
    }
}
