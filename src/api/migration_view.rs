//! The migration object clients and the dashboard read (names are a contract).

use chrono::Utc;
use serde_json::{Value, json};

use crate::control::migrations::MigrationRecord;
use crate::control::tables::TableProgress;

pub fn render(r: &MigrationRecord, tables: &[TableProgress]) -> Value {
    let percent = if r.rows_total > 0 {
        (r.rows_copied as f64 * 100.0 / r.rows_total as f64).min(100.0)
    } else if r.status.is_final() {
        100.0
    } else {
        0.0
    };
    json!({
        "id": r.id,
        "website_id": r.website,
        "source_shard": r.source,
        "target_shard": r.target,
        "status": r.status,
        "phase": r.phase,
        "progress": {
            "percent": (percent * 10.0).round() / 10.0,
            "rows_copied": r.rows_copied,
            "rows_total": r.rows_total,
            "current_table": r.current_table,
            "eta_seconds": eta_seconds(r),
            "tables": tables.iter().map(|t| json!({
                "name": t.name,
                "rows_total": t.rows_total,
                "rows_copied": t.rows_copied,
                "source_checksum": t.source_checksum,
                "target_checksum": t.target_checksum,
                "verified": t.verified,
            })).collect::<Vec<_>>(),
        },
        "attempts": r.attempts,
        "next_attempt_at": r.next_attempt_at,
        "error": r.error_code.as_ref().map(|code| json!({"code": code, "message": r.error_message})),
        "requested_by": r.requested_by,
        "notes": r.notes,
        "keep_source": r.keep_source,
        "created_at": r.created_at,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "updated_at": r.updated_at,
    })
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
