//! An online move's freeze as the API shows it: when the website's writes
//! were refused, for how long, and against which budget.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::control::migrations::MigrationRecord;

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
    /// `engine.freeze_budget_ms`: the freeze the engine aims to stay under.
    pub budget_ms: u64,
}

/// The freeze once it has begun; `None` before (and for offline moves).
pub fn freeze(r: &MigrationRecord, budget_ms: u64) -> Option<FreezeView> {
    Some(FreezeView {
        started_at: r.freeze_started_at?,
        ended_at: r.freeze_ended_at,
        duration_ms: r.freeze_ms(),
        changes_drained: r.freeze_changes,
        budget_ms,
    })
}
