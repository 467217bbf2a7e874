//! One move as the API and the dashboard show it: the record with its tables'
//! progress and its notices, and for a single move its ended freezes, its
//! phases and its audit entries — read in one statement, because pages and
//! clients poll it and every extra round trip held a pooled connection longer.
//! Also what both derive from the record (progress, the freeze's budget, what
//! is left after cutover), so their renderings cannot drift apart.

use chrono::Utc;
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};

use super::{COLUMNS, FreezeRecord, MoveFilter, MoveRecord, from_row, list};
use crate::control::audit_logs::AuditEntry;
use crate::control::notifications::{self, Notification};
use crate::control::phase_history::PhaseEntry;
use crate::control::tables::{self, TableProgress};
use crate::domain::{Phase, Status};
use crate::ids::MoveId;
use crate::sql::audited;

pub struct MoveView {
    pub record: MoveRecord,
    /// In copy order.
    pub tables: Vec<TableProgress>,
    pub notices: Vec<Notification>,
    /// Read for one move (`read`), not for lists.
    pub history: Option<History>,
}

#[derive(Default)]
pub struct History {
    /// Every freeze that ended, oldest first.
    pub freezes: Vec<FreezeRecord>,
    /// The phases as entered, oldest first.
    pub phases: Vec<PhaseEntry>,
    /// The move's audit-log entries, newest first.
    pub audit: Vec<AuditEntry>,
}

/// Each child table of move `m` as a JSON array, in the order shown.
const CHILDREN: &str = "
    (SELECT coalesce(json_agg(json_build_object('name', t.table_name,
                'rows_total', t.rows_total, 'rows_copied', t.rows_copied,
                'source_checksum', t.source_checksum, 'target_checksum', t.target_checksum,
                'verified', t.verified) ORDER BY t.position), '[]')
       FROM shardmover.migration_tables t WHERE t.migration_id = m.id) AS view_tables,
    (SELECT coalesce(json_agg(n ORDER BY n.id), '[]')
       FROM shardmover.notifications n WHERE n.migration_id = m.id) AS view_notices,
    (SELECT coalesce(json_agg(f ORDER BY f.started_at, f.id), '[]')
       FROM shardmover.freezes f WHERE f.migration_id = m.id) AS view_freezes,
    (SELECT coalesce(json_agg(p ORDER BY p.id), '[]')
       FROM shardmover.migration_phases p WHERE p.migration_id = m.id) AS view_phases,
    (SELECT coalesce(json_agg(a ORDER BY a.id DESC), '[]')
       FROM shardmover.audit_logs a WHERE a.migration_id = m.id) AS view_audit";

/// Move `id` with everything shown about it, in one round trip.
pub async fn read(conn: &mut PgConnection, id: MoveId) -> Result<Option<MoveView>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS}, {CHILDREN} FROM shardmover.migrations m WHERE m.id = $1"
    )))
    .bind(id.get())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let history = History {
        freezes: json(&row, "view_freezes")?,
        phases: json(&row, "view_phases")?,
        audit: json(&row, "view_audit")?,
    };
    Ok(Some(MoveView {
        record: from_row(&row)?,
        tables: json(&row, "view_tables")?,
        notices: json(&row, "view_notices")?,
        history: Some(history),
    }))
}

fn json<T: DeserializeOwned>(row: &PgRow, column: &str) -> Result<T, sqlx::Error> {
    Ok(row.try_get::<Json<T>, _>(column)?.0)
}

/// `filter`'s moves (the one search, `list`), each with its tables and notices:
/// three queries for the whole page.
pub async fn search(
    conn: &mut PgConnection,
    filter: &MoveFilter,
) -> Result<Vec<MoveView>, sqlx::Error> {
    let records = list(conn, filter).await?;
    let ids: Vec<MoveId> = records.iter().map(|r| r.id).collect();
    let mut tables = tables::list_many(conn, &ids).await?;
    let mut notices = notifications::list_many(conn, &ids).await?;
    Ok(records
        .into_iter()
        .map(|record| MoveView {
            tables: tables.remove(&record.id.get()).unwrap_or_default(),
            notices: notices.remove(&record.id.get()).unwrap_or_default(),
            history: None,
            record,
        })
        .collect())
}

/// Rows copied as a share of the total, 0..100 to one decimal; a move that
/// ended with nothing to copy is at 100.
pub fn percent(r: &MoveRecord) -> f64 {
    let percent = if r.rows_total > 0 {
        (r.rows_copied as f64 * 100.0 / r.rows_total as f64).min(100.0)
    } else if r.status.is_final() {
        100.0
    } else {
        0.0
    };
    (percent * 10.0).round() / 10.0
}

/// Remaining rows at the rate seen so far, while copying.
pub fn eta_seconds(r: &MoveRecord) -> Option<i64> {
    let started = r.started_at?;
    if r.status.is_final() || r.rows_copied <= 0 || r.rows_copied >= r.rows_total {
        return None;
    }
    let elapsed = (Utc::now() - started).num_milliseconds().max(1) as f64 / 1000.0;
    let rate = r.rows_copied as f64 / elapsed;
    Some(((r.rows_total - r.rows_copied) as f64 / rate).ceil() as i64)
}

/// The budget the move's freeze is held to: as recorded when it began, else
/// `setting` (the current `engine.freeze_budget_ms`).
pub fn freeze_budget_ms(r: &MoveRecord, setting: u64) -> u64 {
    r.freeze_budget_ms
        .and_then(|b| u64::try_from(b).ok())
        .unwrap_or(setting)
}

/// Past cutover: the website lives on the target, and what of the cleanup is done.
pub struct AfterCutover {
    /// No fence an earlier move left on the target refuses the website's writes.
    pub target_writable: bool,
    /// The source's rows are deleted (never with `keep_source`).
    pub source_rows_deleted: bool,
    /// The cleanup has steps left: it is running or waits for `finalize`.
    pub cleanup_pending: bool,
}

/// `None` before cutover.
pub fn after_cutover(r: &MoveRecord) -> Option<AfterCutover> {
    if r.phase < Phase::Cleanup {
        return None;
    }
    let done = r.status == Status::Completed;
    let source_cleaned = done || r.source_cleaned_at.is_some();
    Some(AfterCutover {
        target_writable: done || r.target_unfenced_at.is_some(),
        source_rows_deleted: source_cleaned && !r.keep_source,
        cleanup_pending: !done,
    })
}
