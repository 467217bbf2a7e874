//! A move's page: everything about it, with a live region the script
//! refreshes every second from `/ui/moves/{id}/live` until the move ends.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Serialize;

use super::access::Feature;
use super::data_state::data_state;
use super::render::page as render_page;
use super::{Dashboard, PageError, Session};
use crate::control::audit_logs::{self, AuditEntry, AuditFilter};
use crate::control::migrations::{self, MigrationRecord};
use crate::control::notifications::{self, Notification};
use crate::control::phase_history::{self, PhaseEntry};
use crate::control::tables::{self, TableProgress};
use crate::control::{Phase, Status};
use crate::ids::MigrationId;

/// What the page and its live fragment show.
#[derive(Debug, Serialize)]
pub struct MoveDetails {
    pub id: i64,
    pub website_id: i64,
    pub source_shard: String,
    pub target_shard: String,
    pub status: String,
    pub phase: String,
    /// online | offline
    pub mode: String,
    pub is_final: bool,
    pub percent: f64,
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
    let details = load(&dashboard, MigrationId(id.into_inner())).await?;
    render_page(&dashboard, &session, "move.html", context! { m => details })
}

pub async fn load(dashboard: &Dashboard, id: MigrationId) -> Result<MoveDetails, PageError> {
    let mut conn = dashboard.app.control_pool().acquire().await?;
    let record = migrations::find(&mut conn, id).await?.ok_or_else(|| {
        PageError::not_found(
            "unknown_migration",
            format!("migration {id} does not exist"),
        )
    })?;
    let tables = tables::list(&mut conn, id).await?;
    let notices = notifications::list_for_migration(&mut conn, id).await?;
    let phases = phase_history::list(&mut conn, id).await?;
    let filter = AuditFilter {
        website: Some(record.website),
        limit: 100,
        ..AuditFilter::default()
    };
    let audit = audit_logs::list(&mut conn, &filter)
        .await?
        .into_iter()
        .filter(|entry| entry.migration_id == Some(id.0))
        .collect();
    let mut details = details(&record, tables, notices, timeline(&record, &phases), audit);
    details.freeze_budget_ms = dashboard.app.settings().engine.freeze_budget_ms;
    Ok(details)
}

fn details(
    r: &MigrationRecord,
    tables: Vec<TableProgress>,
    notices: Vec<Notification>,
    timeline: Vec<Step>,
    audit: Vec<AuditEntry>,
) -> MoveDetails {
    MoveDetails {
        id: r.id.0,
        website_id: r.website.get(),
        source_shard: r.source.to_string(),
        target_shard: r.target.to_string(),
        status: r.status.to_string(),
        phase: r.phase.to_string(),
        mode: r.mode.to_string(),
        is_final: r.status.is_final(),
        percent: percent(r),
        rows_copied: r.rows_copied,
        rows_total: r.rows_total,
        current_table: r.current_table.clone(),
        eta_seconds: eta_seconds(r),
        changes_applied: r.changes_applied,
        changes_waiting: r.changes_waiting,
        catch_up_rate: r.catch_up_rate,
        freeze_waits_for: r.freeze_waits_for.clone(),
        freeze_started_at: r.freeze_started_at,
        freeze_ms: r.freeze_ms(),
        freeze_changes: r.freeze_changes,
        freeze_budget_ms: 0,
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        error_code: r.error_code.clone(),
        error_message: r.error_message.clone(),
        data_state: data_state(r),
        can_cancel: !r.status.is_final() && r.phase < Phase::Cleanup && !r.cancel_requested,
        cancel_requested: r.cancel_requested,
        requested_by: r.requested_by.clone(),
        notes: r.notes.clone(),
        keep_source: r.keep_source,
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        timeline,
        tables,
        notices,
        audit,
    }
}

fn timeline(r: &MigrationRecord, phases: &[PhaseEntry]) -> Vec<Step> {
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

pub fn percent(r: &MigrationRecord) -> f64 {
    let percent = if r.rows_total > 0 {
        (r.rows_copied as f64 * 100.0 / r.rows_total as f64).min(100.0)
    } else if r.status == Status::Completed {
        100.0
    } else {
        0.0
    };
    (percent * 10.0).round() / 10.0
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
