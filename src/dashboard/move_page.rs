//! A move's page: everything about it, with a live region the script
//! refreshes every second from `/ui/moves/{id}/live` until the move ends.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Serialize;

use super::access::Feature;
use super::data_state::data_state;
use super::moves::Heading;
use super::render::page as render_page;
use super::{Dashboard, PageError, Session};
use crate::control::audit_logs::AuditEntry;
use crate::control::migrations::view::{self, History, MoveView};
use crate::control::notifications::Notification;
use crate::control::phase_history::PhaseEntry;
use crate::control::tables::TableProgress;
use crate::domain::{MoveRecord, Phase};
use crate::ids::MoveId;

/// What the page and its live fragment show.
#[derive(Debug, Serialize)]
pub struct MoveDetails {
    #[serde(flatten)]
    pub heading: Heading,
    /// online | offline
    pub mode: String,
    pub is_final: bool,
    pub rows_copied: i64,
    pub rows_total: i64,
    pub current_table: Option<String>,
    pub eta_seconds: Option<i64>,
    /// Online moves: captured changes replayed, waiting, and the replay rate.
    pub changes_applied: i64,
    pub changes_waiting: i64,
    pub catch_up_rate: Option<f64>,
    /// Ready to freeze, but these sessions' locks would hold up the fence.
    pub freeze_waits_for: Option<String>,
    /// Online moves: the freeze once it began, and the budget it aims for.
    pub freeze_started_at: Option<DateTime<Utc>>,
    pub freeze_ms: Option<i64>,
    pub freeze_changes: Option<i64>,
    pub freeze_budget_ms: u64,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub data_state: String,
    pub can_cancel: bool,
    pub cancel_requested: bool,
    pub requested_by: Option<String>,
    pub notes: Option<String>,
    pub keep_source: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub timeline: Vec<Step>,
    pub tables: Vec<TableProgress>,
    pub notices: Vec<Notification>,
    pub audit: Vec<AuditEntry>,
}

/// One phase as entered: when, and for how long.
#[derive(Debug, Serialize)]
pub struct Step {
    pub phase: String,
    pub entered_at: DateTime<Utc>,
    pub seconds: f64,
    pub current: bool,
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let details = load(&dashboard, MoveId::from(id.into_inner())).await?;
    render_page(&dashboard, &session, "move.html", context! { m => details })
}

/// Move `id` as its page shows it, read in one round trip.
pub async fn load(dashboard: &Dashboard, id: MoveId) -> Result<MoveDetails, PageError> {
    let view = crate::web::read_move(&dashboard.app, id).await?;
    Ok(details(
        view,
        dashboard.app.settings().engine.freeze_budget_ms,
    ))
}

/// The read model's move as the page shows it; `budget_ms` is
/// `engine.freeze_budget_ms`, for a freeze recorded without its own.
fn details(model: MoveView, budget_ms: u64) -> MoveDetails {
    let r = model.record;
    let History { phases, audit, .. } = model.history.unwrap_or_default();
    MoveDetails {
        heading: Heading::from(&r),
        mode: r.mode.to_string(),
        is_final: r.status.is_final(),
        eta_seconds: view::eta_seconds(&r),
        freeze_budget_ms: view::freeze_budget_ms(&r, budget_ms),
        freeze_ms: r.freeze_ms(),
        data_state: data_state(&r),
        can_cancel: !r.status.is_final() && r.phase < Phase::Cleanup && !r.cancel_requested,
        timeline: timeline(&r, &phases),
        rows_copied: r.rows_copied,
        rows_total: r.rows_total,
        current_table: r.current_table,
        changes_applied: r.changes_applied,
        changes_waiting: r.changes_waiting,
        catch_up_rate: r.catch_up_rate,
        freeze_waits_for: r.freeze_waits_for,
        freeze_started_at: r.freeze_started_at,
        freeze_changes: r.freeze_changes,
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        error_code: r.error_code,
        error_message: r.error_message,
        cancel_requested: r.cancel_requested,
        requested_by: r.requested_by,
        notes: r.notes,
        keep_source: r.keep_source,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        tables: model.tables,
        notices: model.notices,
        audit,
    }
}

fn timeline(r: &MoveRecord, phases: &[PhaseEntry]) -> Vec<Step> {
    let end = r.finished_at.unwrap_or_else(Utc::now);
    phases
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let next = phases.get(i + 1).map_or(end, |n| n.entered_at);
            Step {
                phase: entry.phase.clone(),
                entered_at: entry.entered_at,
                seconds: (next - entry.entered_at).num_milliseconds().max(0) as f64 / 1000.0,
                current: i + 1 == phases.len() && !r.status.is_final(),
            }
        })
        .collect()
}
