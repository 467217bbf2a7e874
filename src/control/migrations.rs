//! Repository for `shardmover.migrations`. Functions take a connection so the
//! caller owns the transaction boundary.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row, postgres::PgRow};

use super::state::{Phase, Status};
use crate::ids::{MigrationId, ShardName, WebsiteId};
use crate::sql::audited;

#[derive(Debug, Clone)]
pub struct MigrationRecord {
    pub id: MigrationId,
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
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub struct NewMigration<'a> {
    pub website: WebsiteId,
    pub source: &'a ShardName,
    pub target: &'a ShardName,
    pub keep_source: bool,
    pub batch_rows: u32,
    pub requested_by: Option<&'a str>,
    pub notes: Option<&'a str>,
}

const COLUMNS: &str = "id, website_id, source_shard, target_shard, status, phase, keep_source,
    batch_rows, rows_total, rows_copied, rollback_required, cancel_requested, error_code,
    error_message, requested_by, notes, current_table, attempts, next_attempt_at, updated_at,
    created_at, started_at, finished_at";

fn from_row(row: &PgRow) -> Result<MigrationRecord, sqlx::Error> {
    let decode = |col: &str, e: String| sqlx::Error::ColumnDecode {
        index: col.into(),
        source: e.into(),
    };
    Ok(MigrationRecord {
        id: MigrationId(row.try_get("id")?),
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
        next_attempt_at: row.try_get("next_attempt_at")?,
        updated_at: row.try_get("updated_at")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// Inserts a pending move and its pending audit-log entry, in one statement.
/// The partial unique index turns a second active move
/// of the same website into a unique violation, which callers map to "busy".
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewMigration<'_>,
) -> Result<MigrationRecord, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            INSERT INTO shardmover.migrations
                (website_id, source_shard, target_shard, keep_source, batch_rows, requested_by, notes)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *),
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
    .fetch_one(conn)
    .await?;
    from_row(&row)
}

pub async fn find(
    conn: &mut PgConnection,
    id: MigrationId,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations WHERE id = $1"
    )))
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The website's pending or in-progress move, if any.
pub async fn find_active(
    conn: &mut PgConnection,
    website: WebsiteId,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations
          WHERE website_id = $1 AND status IN ('pending', 'in_progress')"
    )))
    .bind(website.get())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The newest move of the website whose source rows are still to be deleted:
/// completed with `keep_source`, or failed after cutover.
pub async fn find_unfinalized(
    conn: &mut PgConnection,
    website: WebsiteId,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations
          WHERE website_id = $1 AND source_finalized_at IS NULL
            AND ((status = 'completed' AND keep_source) OR (status = 'failed' AND phase = 'cleanup'))
          ORDER BY id DESC LIMIT 1"
    )))
    .bind(website.get())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn mark_finalized(conn: &mut PgConnection, id: MigrationId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shardmover.migrations SET source_finalized_at = now() WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts an attempt; false when the move already ended (e.g. cancelled while queued).
pub async fn start_attempt(conn: &mut PgConnection, id: MigrationId) -> Result<bool, sqlx::Error> {
    let started: Option<i64> = sqlx::query_scalar(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = 'in_progress', attempts = attempts + 1,
                   started_at = coalesce(started_at, now()), next_attempt_at = NULL
             WHERE id = $1 AND status IN ('pending', 'in_progress') RETURNING id),
         audit AS (
            UPDATE shardmover.audit_logs SET status = 'in_progress'
             WHERE migration_id IN (SELECT id FROM m) AND status <> 'in_progress')
         SELECT id FROM m",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    Ok(started.is_some())
}

pub async fn set_phase(
    conn: &mut PgConnection,
    id: MigrationId,
    phase: Phase,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shardmover.migrations SET phase = $2 WHERE id = $1")
        .bind(id.0)
        .bind(phase.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Records an error without ending the move. With `rollback`, also records that
/// a rollback must happen, before any of it is done, so a crash mid-rollback
/// finishes it on resume; transient faults record without it and stay resumable.
pub async fn record_error(
    conn: &mut PgConnection,
    id: MigrationId,
    code: &str,
    message: &str,
    rollback: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.migrations
            SET error_code = $2, error_message = $3, rollback_required = rollback_required OR $4
          WHERE id = $1",
    )
    .bind(id.0)
    .bind(code)
    .bind(message)
    .bind(rollback)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the final status (and the audit entry's); returns the ended move,
/// or `None` if it had ended already: a move ends once, with one outcome.
pub async fn finish(
    conn: &mut PgConnection,
    id: MigrationId,
    status: Status,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = $2, rollback_required = false, finished_at = now(),
                   phase = CASE WHEN $2 = 'completed' THEN 'done' ELSE phase END,
                   error_code = CASE WHEN $2 = 'completed' THEN NULL ELSE error_code END,
                   error_message = CASE WHEN $2 = 'completed' THEN NULL ELSE error_message END
             WHERE id = $1 AND status IN ('pending', 'in_progress') RETURNING *),
         audit AS (
            UPDATE shardmover.audit_logs SET status = $2 WHERE migration_id IN (SELECT id FROM m))
         SELECT {COLUMNS} FROM m"
    )))
    .bind(id.0)
    .bind(status.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
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

pub async fn cancel_requested(
    conn: &mut PgConnection,
    id: MigrationId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT cancel_requested FROM shardmover.migrations WHERE id = $1")
        .bind(id.0)
        .fetch_one(conn)
        .await
}

/// Cancels a move still waiting in the queue; `None` if it has started or ended.
pub async fn cancel_pending(
    conn: &mut PgConnection,
    id: MigrationId,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = 'cancelled', cancel_requested = true, finished_at = now(),
                   error_code = 'cancelled', error_message = 'cancelled before it started'
             WHERE id = $1 AND status = 'pending' RETURNING *),
         audit AS (
            UPDATE shardmover.audit_logs SET status = 'cancelled' WHERE migration_id IN (SELECT id FROM m))
         SELECT {COLUMNS} FROM m"
    )))
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn request_cancel(conn: &mut PgConnection, id: MigrationId) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations SET cancel_requested = true
          WHERE id = $1 AND status IN ('pending', 'in_progress')
            AND phase IN ('queued', 'preflight', 'copying', 'verifying')",
    )
    .bind(id.0)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records when the next attempt of a transiently failed move will run.
pub async fn schedule_retry(
    conn: &mut PgConnection,
    id: MigrationId,
    delay: std::time::Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.migrations
            SET next_attempt_at = now() + make_interval(secs => $2) WHERE id = $1",
    )
    .bind(id.0)
    .bind(delay.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct MigrationFilter {
    pub website: Option<WebsiteId>,
    pub status: Option<Status>,
    /// Moves with an id below this one (the previous page's last id).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn list(
    conn: &mut PgConnection,
    filter: &MigrationFilter,
) -> Result<Vec<MigrationRecord>, sqlx::Error> {
    let rows = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations
          WHERE ($1::int8 IS NULL OR website_id = $1) AND ($2::text IS NULL OR status = $2)
            AND ($3::int8 IS NULL OR id < $3)
          ORDER BY id DESC LIMIT $4"
    )))
    .bind(filter.website.map(WebsiteId::get))
    .bind(filter.status.map(Status::as_str))
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn find_by_idempotency_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
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
    id: MigrationId,
    idempotency_key: Option<&str>,
    request_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE shardmover.migrations SET idempotency_key = $2, request_id = $3 WHERE id = $1",
    )
    .bind(id.0)
    .bind(idempotency_key)
    .bind(request_id)
    .execute(conn)
    .await?;
    Ok(())
}
