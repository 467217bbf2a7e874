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
    /// Attempts started so far; the newest one owns the move (see `start_attempt`).
    pub attempts: i32,
    /// Attempts before this one do not count against the retry budget.
    pub retry_from: i32,
    /// Cleanup step 1 done: no fence an earlier move left refuses writes on the target.
    pub target_unfenced_at: Option<DateTime<Utc>>,
    /// Cleanup step 2 done: the source's rows are deleted (or kept, with `keep_source`).
    pub source_cleaned_at: Option<DateTime<Utc>>,
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
    error_message, requested_by, notes, current_table, attempts, retry_from, target_unfenced_at,
    source_cleaned_at, next_attempt_at, updated_at, created_at, started_at, finished_at";

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
        retry_from: row.try_get("retry_from")?,
        target_unfenced_at: row.try_get("target_unfenced_at")?,
        source_cleaned_at: row.try_get("source_cleaned_at")?,
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

/// The website's unfinished move (pending, in progress or cleanup pending), if any.
pub async fn find_active(
    conn: &mut PgConnection,
    website: WebsiteId,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
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
) -> Result<Option<MigrationRecord>, sqlx::Error> {
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

pub async fn mark_finalized(conn: &mut PgConnection, id: MigrationId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shardmover.migrations SET source_finalized_at = now() WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Starts an attempt and returns its number, the move's ownership token: every
/// later write of this attempt is conditional on it, so once a newer attempt
/// has started the older one can change nothing. `None` when the move already
/// ended (e.g. cancelled while queued). A pending cleanup runs `in_progress` again.
pub async fn start_attempt(
    conn: &mut PgConnection,
    id: MigrationId,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = 'in_progress', attempts = attempts + 1,
                   started_at = coalesce(started_at, now()), next_attempt_at = NULL
             WHERE id = $1 AND status IN ('pending', 'in_progress', 'cleanup_pending')
             RETURNING id, attempts),
         audit AS (
            UPDATE shardmover.audit_logs SET status = 'in_progress'
             WHERE migration_id IN (SELECT id FROM m) AND status <> 'in_progress')
         SELECT attempts FROM m",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await
}

/// Whether `attempt` still owns the running move.
pub async fn owns(
    conn: &mut PgConnection,
    id: MigrationId,
    attempt: i32,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM shardmover.migrations
                         WHERE id = $1 AND attempts = $2 AND status = 'in_progress')",
    )
    .bind(id.0)
    .bind(attempt)
    .fetch_one(conn)
    .await
}

/// What the running attempt must know before each step: whether it still owns
/// the move and whether someone asked to cancel it.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub owned: bool,
    pub cancel_requested: bool,
}

/// Reads the claim of `attempt`; with `lock`, also locks the move's row until
/// the transaction ends, so a cancel request waits for the cutover's decision.
pub async fn claim(
    conn: &mut PgConnection,
    id: MigrationId,
    attempt: i32,
    lock: bool,
) -> Result<Claim, sqlx::Error> {
    let sql = if lock {
        "SELECT attempts = $2 AND status = 'in_progress', cancel_requested
           FROM shardmover.migrations WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT attempts = $2 AND status = 'in_progress', cancel_requested
           FROM shardmover.migrations WHERE id = $1"
    };
    let (owned, cancel_requested): (bool, bool) = sqlx::query_as(sql)
        .bind(id.0)
        .bind(attempt)
        .fetch_one(conn)
        .await?;
    Ok(Claim {
        owned,
        cancel_requested,
    })
}

/// Moves the phase on, if `attempt` still owns the move; false otherwise.
pub async fn set_phase(
    conn: &mut PgConnection,
    id: MigrationId,
    attempt: i32,
    phase: Phase,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations SET phase = $3
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.0)
    .bind(attempt)
    .bind(phase.as_str())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A cleanup step done (if `attempt` still owns the move); false otherwise.
pub async fn record_cleanup_step(
    conn: &mut PgConnection,
    id: MigrationId,
    attempt: i32,
    step: CleanupStep,
) -> Result<bool, sqlx::Error> {
    let sql = match step {
        CleanupStep::TargetUnfenced => {
            "UPDATE shardmover.migrations SET target_unfenced_at = coalesce(target_unfenced_at, now())
              WHERE id = $1 AND attempts = $2 AND status = 'in_progress' AND phase = 'cleanup'"
        }
        CleanupStep::SourceCleaned => {
            "UPDATE shardmover.migrations SET source_cleaned_at = coalesce(source_cleaned_at, now())
              WHERE id = $1 AND attempts = $2 AND status = 'in_progress' AND phase = 'cleanup'"
        }
    };
    let result = sqlx::query(sql)
        .bind(id.0)
        .bind(attempt)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The cleanup's persisted steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupStep {
    TargetUnfenced,
    SourceCleaned,
}

/// Records an error without ending the move, if `attempt` still owns it (false
/// otherwise). With `rollback`, also records that a rollback must happen,
/// before any of it is done, so a crash mid-rollback finishes it on resume;
/// transient faults record without it and stay resumable.
pub async fn record_error(
    conn: &mut PgConnection,
    id: MigrationId,
    attempt: i32,
    code: &str,
    message: &str,
    rollback: bool,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations
            SET error_code = $3, error_message = $4, rollback_required = rollback_required OR $5
          WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'in_progress')",
    )
    .bind(id.0)
    .bind(attempt)
    .bind(code)
    .bind(message)
    .bind(rollback)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Past cutover, stops a cleanup that cannot go on by itself: the move becomes
/// `cleanup_pending` with the error, if `attempt` still owns it. Returns the
/// move (for its notice), or `None` if another attempt owns it or it is not past cutover.
pub async fn leave_cleanup_pending(
    conn: &mut PgConnection,
    id: MigrationId,
    attempt: i32,
    code: &str,
    message: &str,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = 'cleanup_pending', error_code = $3, error_message = $4,
                   next_attempt_at = NULL
             WHERE id = $1 AND attempts = $2 AND status = 'in_progress' AND phase = 'cleanup'
             RETURNING *),
         audit AS (
            UPDATE shardmover.audit_logs SET status = 'cleanup_pending'
             WHERE migration_id IN (SELECT id FROM m))
         SELECT {COLUMNS} FROM m"
    )))
    .bind(id.0)
    .bind(attempt)
    .bind(code)
    .bind(message)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Asks for a pending cleanup to be resumed: restarts its retry budget and
/// returns the move, or `None` if it is not `cleanup_pending`. The caller
/// queues its job on the same transaction.
pub async fn resume_cleanup(
    conn: &mut PgConnection,
    id: MigrationId,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "UPDATE shardmover.migrations SET retry_from = attempts, next_attempt_at = now()
          WHERE id = $1 AND status = 'cleanup_pending' RETURNING {COLUMNS}"
    )))
    .bind(id.0)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records the final status (and the audit entry's) if `attempt` still owns the
/// running move; returns the ended move, or `None` if it had ended already or
/// another attempt owns it: a move ends once, with one outcome, by its owner.
pub async fn finish(
    conn: &mut PgConnection,
    id: MigrationId,
    attempt: i32,
    status: Status,
) -> Result<Option<MigrationRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = $2, rollback_required = false, finished_at = now(),
                   phase = CASE WHEN $2 = 'completed' THEN 'done' ELSE phase END,
                   error_code = CASE WHEN $2 = 'completed' THEN NULL ELSE error_code END,
                   error_message = CASE WHEN $2 = 'completed' THEN NULL ELSE error_message END
             WHERE id = $1 AND attempts = $3 AND status = 'in_progress' RETURNING *),
         audit AS (
            UPDATE shardmover.audit_logs SET status = $2 WHERE migration_id IN (SELECT id FROM m))
         SELECT {COLUMNS} FROM m"
    )))
    .bind(id.0)
    .bind(status.as_str())
    .bind(attempt)
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

/// Asks a running move to stop and roll back; false once it has ended or its
/// cutover committed. One conditional statement on the move's row, which the
/// cutover transaction locks and re-reads: either the cancel lands first and the
/// cutover refuses, or the cutover lands first and this finds phase `cleanup`.
pub async fn request_cancel(conn: &mut PgConnection, id: MigrationId) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations SET cancel_requested = true
          WHERE id = $1 AND status IN ('pending', 'in_progress')
            AND phase IN ('queued', 'preflight', 'copying', 'verifying', 'cutover')",
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
