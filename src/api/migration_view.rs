//! The objects the API returns. Their names are a contract (clients and the
//! dashboard read them) and the OpenAPI document is derived from these types.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use sqlx::PgConnection;

use super::freeze_view::{self, EndedFreezeView, FreezeView};
use crate::control::migrations::{self, MigrationRecord};
use crate::control::notifications::{self, Notification};
use crate::control::tables::{self, TableProgress};
use crate::control::{Phase, Status};
use crate::ids::MigrationId;

#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationView {
    pub id: i64,
    pub website_id: i64,
    pub source_shard: String,
    pub target_shard: String,
    /// pending | in_progress | cleanup_pending | completed | failed | cancelled.
    /// `cleanup_pending`: past cutover, the website lives on the target and its
    /// cleanup stopped; `POST /api/v1/migrations/{id}/finalize` resumes it.
    pub status: String,
    /// queued | preflight | capturing | copying | catching_up | freezing |
    /// verifying | cutover | cleanup | done (capturing, catching_up and
    /// freezing only in online moves)
    pub phase: String,
    /// online (writes go on while copying; refused only in the final freeze) |
    /// offline (writes refused for the whole move)
    pub mode: String,
    pub progress: ProgressView,
    /// Online moves, once the freeze has begun: the one under way, or the last.
    pub freeze: Option<FreezeView>,
    /// Every freeze that ended, however it ended, each with the budget it was
    /// held to (one move's view only; absent from lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freezes: Option<Vec<EndedFreezeView>>,
    /// Set once the cutover committed: from then on the move only goes forward.
    pub after_cutover: Option<AfterCutoverView>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub error: Option<ErrorBody>,
    pub requested_by: Option<String>,
    pub notes: Option<String>,
    pub keep_source: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The emails about this move's final event, and how their delivery went.
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    pub percent: f64,
    pub rows_copied: i64,
    pub rows_total: i64,
    pub current_table: Option<String>,
    pub eta_seconds: Option<i64>,
    /// Online moves: captured changes replayed on the target so far.
    pub changes_applied: i64,
    /// Online moves: captured changes not yet replayed (the backlog).
    pub changes_waiting: i64,
    /// Online moves: changes replayed per second, as last measured.
    pub catch_up_rate: Option<f64>,
    /// Online moves ready to freeze: sessions whose locks on the tenant tables
    /// (autovacuum, VACUUM, CREATE INDEX, DDL) the fence would queue behind, so
    /// catch-up goes on until they end.
    pub freeze_waits_for: Option<String>,
    /// What the operator must do after the move that shardmover cannot
    /// (refresh the application's materialized views on both shards).
    pub follow_up: Option<String>,
    pub tables: Vec<TableProgress>,
}

/// Where a website lives after its cutover, and what of the cleanup is left.
#[derive(Debug, Serialize, ToSchema)]
pub struct AfterCutoverView {
    /// The shard the registry names: the target.
    pub lives_on: String,
    /// False while a fence an earlier move left on the target may still refuse
    /// the website's writes there (the cleanup lifts it first).
    pub target_writable: bool,
    /// The website's rows are deleted from the source (false with `keep_source`).
    pub source_rows_deleted: bool,
    /// The cleanup has steps left: it is running or waits for `finalize`.
    pub cleanup_pending: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationList {
    pub items: Vec<MigrationView>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<i64>,
}

/// `budget_ms` is `engine.freeze_budget_ms`, shown beside a freeze.
pub fn render(
    r: &MigrationRecord,
    tables: &[TableProgress],
    notifications: Vec<Notification>,
    budget_ms: u64,
) -> MigrationView {
    let percent = if r.rows_total > 0 {
        (r.rows_copied as f64 * 100.0 / r.rows_total as f64).min(100.0)
    } else if r.status.is_final() {
        100.0
    } else {
        0.0
    };
    MigrationView {
        id: r.id.0,
        website_id: r.website.get(),
        source_shard: r.source.to_string(),
        target_shard: r.target.to_string(),
        status: r.status.to_string(),
        phase: r.phase.to_string(),
        mode: r.mode.to_string(),
        progress: ProgressView {
            percent: (percent * 10.0).round() / 10.0,
            rows_copied: r.rows_copied,
            rows_total: r.rows_total,
            current_table: r.current_table.clone(),
            eta_seconds: eta_seconds(r),
            changes_applied: r.changes_applied,
            changes_waiting: r.changes_waiting,
            catch_up_rate: r.catch_up_rate,
            freeze_waits_for: r.freeze_waits_for.clone(),
            follow_up: r.follow_up.clone(),
            tables: tables.to_vec(),
        },
        freeze: freeze_view::freeze(r, budget_ms),
        freezes: None,
        after_cutover: after_cutover(r),
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        error: r.error_code.as_ref().map(|code| ErrorBody {
            code: code.clone(),
            message: r.error_message.clone().unwrap_or_default(),
        }),
        requested_by: r.requested_by.clone(),
        notes: r.notes.clone(),
        keep_source: r.keep_source,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        updated_at: r.updated_at,
        notifications,
    }
}

fn after_cutover(r: &MigrationRecord) -> Option<AfterCutoverView> {
    if r.phase < Phase::Cleanup {
        return None;
    }
    let done = r.status == Status::Completed;
    let source_cleaned = done || r.source_cleaned_at.is_some();
    Some(AfterCutoverView {
        lives_on: r.target.to_string(),
        target_writable: done || r.target_unfenced_at.is_some(),
        source_rows_deleted: source_cleaned && !r.keep_source,
        cleanup_pending: !done,
    })
}

/// The view of move `id` as `GET /api/v1/migrations/{id}` shows it.
pub async fn load(
    conn: &mut PgConnection,
    id: MigrationId,
    budget_ms: u64,
) -> Result<Option<MigrationView>, sqlx::Error> {
    let Some(record) = migrations::find(conn, id).await? else {
        return Ok(None);
    };
    let tables = tables::list(conn, id).await?;
    let notices = notifications::list_for_migration(conn, id).await?;
    let freezes = migrations::freezes_of(conn, id).await?;
    let mut view = render(&record, &tables, notices, budget_ms);
    view.freezes = Some(freezes.iter().map(freeze_view::ended).collect());
    Ok(Some(view))
}

/// Remaining rows at the rate seen so far, while copying.
fn eta_seconds(r: &MigrationRecord) -> Option<i64> {
    let started = r.started_at?;
    if r.status.is_final() || r.rows_copied <= 0 || r.rows_copied >= r.rows_total {
        return None;
    }
    let elapsed = (Utc::now() - started).num_milliseconds().max(1) as f64 / 1000.0;
    let rate = r.rows_copied as f64 / elapsed;
    Some(((r.rows_total - r.rows_copied) as f64 / rate).ceil() as i64)
}
