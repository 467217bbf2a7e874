//! Repository for `shardmover.migrations`. Functions take a connection so the
//! caller owns the transaction boundary.

use sqlx::{PgConnection, Row, postgres::PgRow};

use crate::domain::{MoveMode, MoveRecord};
use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::sql::audited;

mod cancels;
mod freezes;
mod list;
mod online;
mod transitions;
pub mod view;
pub use cancels::*;
pub use freezes::*;
pub use list::*;
pub use online::*;
pub use transitions::*;

pub struct NewMove<'a> {
    pub website: WebsiteId,
    pub source: &'a ShardName,
    pub target: &'a ShardName,
    pub keep_source: bool,
    pub batch_rows: u32,
    pub requested_by: Option<&'a str>,
    pub notes: Option<&'a str>,
    pub mode: MoveMode,
}

const COLUMNS: &str = "id, website_id, source_shard, target_shard, status, phase, keep_source,
    batch_rows, rows_total, rows_copied, rollback_required, cancel_requested, error_code,
    error_message, requested_by, notes, current_table, attempts, retry_from, target_unfenced_at,
    source_cleaned_at, next_attempt_at, updated_at, created_at, started_at, finished_at, mode,
    freeze_started_at, freeze_ended_at, freeze_changes, changes_applied, changes_waiting,
    catch_up_rate, freeze_waits_for, follow_up, freeze_budget_ms";

fn from_row(row: &PgRow) -> Result<MoveRecord, sqlx::Error> {
    let decode = |col: &str, e: String| sqlx::Error::ColumnDecode {
        index: col.into(),
        source: e.into(),
    };
    Ok(MoveRecord {
        id: MoveId::from(row.try_get::<i64, _>("id")?),
        website: WebsiteId::new(row.try_get("website_id")?).map_err(|e| decode("website_id", e))?,
        source: ShardName::parse(row.try_get("source_shard")?)
            .map_err(|e| decode("source_shard", e))?,
        target: ShardName::parse(row.try_get("target_shard")?)
            .map_err(|e| decode("target_shard", e))?,
        status: row
            .try_get::<&str, _>("status")?
            .parse()
            .map_err(|e| decode("status", e))?,
        phase: row
            .try_get::<&str, _>("phase")?
            .parse()
            .map_err(|e| decode("phase", e))?,
        keep_source: row.try_get("keep_source")?,
        batch_rows: row.try_get::<i32, _>("batch_rows")?.max(1) as u32,
        rows_total: row.try_get("rows_total")?,
        rows_copied: row.try_get("rows_copied")?,
        rollback_required: row.try_get("rollback_required")?,
        cancel_requested: row.try_get("cancel_requested")?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
        requested_by: row.try_get("requested_by")?,
        notes: row.try_get("notes")?,
        current_table: row.try_get("current_table")?,
        attempts: row.try_get("attempts")?,
        retry_from: row.try_get("retry_from")?,
        target_unfenced_at: row.try_get("target_unfenced_at")?,
        source_cleaned_at: row.try_get("source_cleaned_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        updated_at: row.try_get("updated_at")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        mode: row
            .try_get::<&str, _>("mode")?
            .parse()
            .map_err(|e| decode("mode", e))?,
        freeze_started_at: row.try_get("freeze_started_at")?,
        freeze_ended_at: row.try_get("freeze_ended_at")?,
        freeze_changes: row.try_get("freeze_changes")?,
        changes_applied: row.try_get("changes_applied")?,
        changes_waiting: row.try_get("changes_waiting")?,
        catch_up_rate: row.try_get("catch_up_rate")?,
        freeze_waits_for: row.try_get("freeze_waits_for")?,
        follow_up: row.try_get("follow_up")?,
        freeze_budget_ms: row.try_get("freeze_budget_ms")?,
    })
}

/// Inserts a pending move and its pending audit-log entry, in one statement.
/// The partial unique index turns a second active move
/// of the same website into a unique violation, which callers map to "busy".
pub async fn insert(conn: &mut PgConnection, new: &NewMove<'_>) -> Result<MoveRecord, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            INSERT INTO shardmover.migrations
                (website_id, source_shard, target_shard, keep_source, batch_rows, requested_by, notes, mode)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *),
         audit AS (
            INSERT INTO shardmover.audit_logs
                (website_id, old_shard_name, new_shard_name, changed_by_email, status, notes, migration_id)
            SELECT website_id, source_shard, target_shard, requested_by, status, notes, id FROM m)
         SELECT {COLUMNS} FROM m"
    )))
    .bind(new.website.get())
    .bind(new.source.as_str())
    .bind(new.target.as_str())
    .bind(new.keep_source)
    .bind(new.batch_rows as i32)
    .bind(new.requested_by)
    .bind(new.notes)
    .bind(new.mode.as_str())
    .fetch_one(conn)
    .await?;
    from_row(&row)
}

pub async fn find(conn: &mut PgConnection, id: MoveId) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations WHERE id = $1"
    )))
    .bind(id.get())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The website's unfinished move (pending, in progress or cleanup pending), if any.
pub async fn find_active(
    conn: &mut PgConnection,
    website: WebsiteId,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations
          WHERE website_id = $1 AND status IN ('pending', 'in_progress', 'cleanup_pending')"
    )))
    .bind(website.get())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The newest move of the website whose source rows are still to be deleted:
/// completed with `keep_source`, cleanup pending, or (recorded before
/// `cleanup_pending` existed) failed after cutover.
pub async fn find_unfinalized(
    conn: &mut PgConnection,
    website: WebsiteId,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations
          WHERE website_id = $1 AND source_finalized_at IS NULL
            AND ((status = 'completed' AND keep_source) OR status = 'cleanup_pending'
                 OR (status = 'failed' AND phase = 'cleanup'))
          ORDER BY id DESC LIMIT 1"
    )))
    .bind(website.get())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn mark_finalized(conn: &mut PgConnection, id: MoveId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shardmover.migrations SET source_finalized_at = now() WHERE id = $1")
        .bind(id.get())
        .execute(conn)
        .await?;
    Ok(())
}

/// Pending or running moves into `shard`: websites it has promised room to.
pub async fn count_arriving(
    conn: &mut PgConnection,
    shard: &ShardName,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*)::int8 FROM shardmover.migrations
          WHERE target_shard = $1 AND status IN ('pending', 'in_progress')",
    )
    .bind(shard.as_str())
    .fetch_one(conn)
    .await
}

pub async fn find_by_idempotency_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations WHERE idempotency_key = $1"
    )))
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Ties a new move to the HTTP request that created it.
pub async fn set_request(
    conn: &mut PgConnection,
    id: MoveId,
    idempotency_key: Option<&str>,
    request_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.migrations SET idempotency_key = $2, request_id = $3 WHERE id = $1",
    )
    .bind(id.get())
    .bind(idempotency_key)
    .bind(request_id)
    .execute(conn)
    .await?;
    Ok(())
}
