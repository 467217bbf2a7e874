//! Every state change of a running move, each conditional on the attempt that
//! owns it: `start_attempt` returns the attempt's number and every later write
//! compares it in the same statement, so a stale attempt changes nothing.
//! Cancels and the cutover serialize on the move's row.

use sqlx::PgConnection;

use super::{COLUMNS, MoveRecord, from_row};
use crate::domain::{Phase, Status};
use crate::ids::MoveId;
use crate::sql::audited;

/// Starts an attempt and returns its number, the move's ownership token: every
/// later write of this attempt is conditional on it, so once a newer attempt
/// has started the older one can change nothing. `None` when the move already
/// ended (e.g. cancelled while queued). A pending cleanup runs `in_progress` again.
pub async fn start_attempt(
    conn: &mut PgConnection,
    id: MoveId,
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
    .bind(id.get())
    .fetch_optional(conn)
    .await
}

/// Whether `attempt` still owns the running move.
pub async fn owns(conn: &mut PgConnection, id: MoveId, attempt: i32) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM shardmover.migrations
                         WHERE id = $1 AND attempts = $2 AND status = 'in_progress')",
    )
    .bind(id.get())
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
    id: MoveId,
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
        .bind(id.get())
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
    id: MoveId,
    attempt: i32,
    phase: Phase,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations SET phase = $3
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.get())
    .bind(attempt)
    .bind(phase.as_str())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A cleanup step done (if `attempt` still owns the move); false otherwise.
pub async fn record_cleanup_step(
    conn: &mut PgConnection,
    id: MoveId,
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
        .bind(id.get())
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
    id: MoveId,
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
    .bind(id.get())
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
    id: MoveId,
    attempt: i32,
    code: &str,
    message: &str,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = 'cleanup_pending', error_code = $3, error_message = $4,
                   next_attempt_at = NULL, rollback_required = false
             WHERE id = $1 AND attempts = $2 AND status = 'in_progress' AND phase = 'cleanup'
             RETURNING *),
         audit AS (
            UPDATE shardmover.audit_logs SET status = 'cleanup_pending'
             WHERE migration_id IN (SELECT id FROM m))
         SELECT {COLUMNS} FROM m"
    )))
    .bind(id.get())
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
    id: MoveId,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "UPDATE shardmover.migrations SET retry_from = attempts, next_attempt_at = now()
          WHERE id = $1 AND status = 'cleanup_pending' RETURNING {COLUMNS}"
    )))
    .bind(id.get())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records the final status (and the audit entry's) if `attempt` still owns the
/// running move; returns the ended move, or `None` if it had ended already or
/// another attempt owns it: a move ends once, with one outcome, by its owner.
pub async fn finish(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    status: Status,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    end(conn, id, attempt, status, false).await
}

/// Ends a move whose rollback is done, as `finish` does: `cancelled` if a cancel
/// was ever accepted for it, `failed` otherwise. Read from the row in the
/// statement that ends the move, so a cancel answered 202 ends `cancelled`
/// however many attempts its rollback took and whatever error interrupted it.
pub async fn finish_rolled_back(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    end(conn, id, attempt, Status::Failed, true).await
}

/// `status`, or `cancelled` instead when `cancelled_wins` and a cancel was accepted.
async fn end(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    status: Status,
    cancelled_wins: bool,
) -> Result<Option<MoveRecord>, sqlx::Error> {
    let row = sqlx::query(audited(&format!(
        "WITH m AS (
            UPDATE shardmover.migrations
               SET status = CASE WHEN $4 AND cancel_requested THEN 'cancelled' ELSE $2 END,
                   rollback_required = false, finished_at = now(),
                   phase = CASE WHEN $2 = 'completed' THEN 'done' ELSE phase END,
                   error_code = CASE WHEN $2 = 'completed' THEN NULL ELSE error_code END,
                   error_message = CASE WHEN $2 = 'completed' THEN NULL ELSE error_message END
             WHERE id = $1 AND attempts = $3 AND status = 'in_progress' RETURNING *),
         audit AS (
            UPDATE shardmover.audit_logs a SET status = m.status FROM m WHERE a.migration_id = m.id)
         SELECT {COLUMNS} FROM m"
    )))
    .bind(id.get())
    .bind(status.as_str())
    .bind(attempt)
    .bind(cancelled_wins)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records when the next attempt of a transiently failed move will run, if
/// `attempt` still owns the running move; false otherwise (a newer attempt
/// runs it, or it ended), and then its job must not queue another.
pub async fn schedule_retry(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    delay: std::time::Duration,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE shardmover.migrations
            SET next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.get())
    .bind(attempt)
    .bind(delay.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
