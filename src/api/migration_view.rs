//! The objects the API returns. Their names are a contract (clients and the
//! dashboard read them) and the OpenAPI document is derived from these types.

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::freeze_view::{self, EndedFreezeView, FreezeView};
use super::{ApiError, AppState};
use crate::control::migrations::view::{self, MoveView};
use crate::control::notifications::Notification;
use crate::control::tables::TableProgress;
use crate::ids::MoveId;

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

/// The read model's move as the API shows it; `budget_ms` is
/// `engine.freeze_budget_ms`, for a freeze recorded without its own.
pub fn render(model: MoveView, budget_ms: u64) -> MigrationView {
    let r = model.record;
    let after_cutover = view::after_cutover(&r).map(|a| AfterCutoverView {
        lives_on: r.target.to_string(),
        target_writable: a.target_writable,
        source_rows_deleted: a.source_rows_deleted,
        cleanup_pending: a.cleanup_pending,
    });
    MigrationView {
        id: r.id.get(),
        website_id: r.website.get(),
        source_shard: r.source.to_string(),
        target_shard: r.target.to_string(),
        status: r.status.to_string(),
        phase: r.phase.to_string(),
        mode: r.mode.to_string(),
        freeze: freeze_view::freeze(&r, budget_ms),
        freezes: model
            .history
            .map(|h| h.freezes.iter().map(freeze_view::ended).collect()),
        after_cutover,
        progress: ProgressView {
            percent: view::percent(&r),
            eta_seconds: view::eta_seconds(&r),
            rows_copied: r.rows_copied,
            rows_total: r.rows_total,
            current_table: r.current_table,
            changes_applied: r.changes_applied,
            changes_waiting: r.changes_waiting,
            catch_up_rate: r.catch_up_rate,
            freeze_waits_for: r.freeze_waits_for,
            follow_up: r.follow_up,
            tables: model.tables,
        },
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        error: r.error_code.map(|code| ErrorBody {
            code,
            message: r.error_message.unwrap_or_default(),
        }),
        requested_by: r.requested_by,
        notes: r.notes,
        keep_source: r.keep_source,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        updated_at: r.updated_at,
        notifications: model.notices,
    }
}

/// Move `id` as `GET /api/v1/migrations/{id}` shows it, read in one round trip.
pub async fn load(state: &AppState, id: MoveId) -> Result<MigrationView, ApiError> {
    let view = crate::web::read_move(&state.app, id).await?;
    Ok(render(view, state.app.settings().engine.freeze_budget_ms))
}

/// 202 with the move and its `Location`: a request or a finalize taken.
pub async fn accepted(state: &AppState, id: MoveId) -> Result<HttpResponse, ApiError> {
    let body = load(state, id).await?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/v1/migrations/{id}")))
        .json(body))
}
