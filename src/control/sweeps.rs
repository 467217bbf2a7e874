//! The sweeper's queries: unfinished moves and overdue notices that have no
//! live job on the queue (apalis's `jobs` table in the same database), and the
//! purge of finished jobs. Row locks (`SKIP LOCKED`) keep two sweepers apart.
//!
//! A running move's owner may have no job of its own: apalis hands a job out
//! again when its worker stops beating, and the duplicate, finding the owner
//! holding the website, ends and takes the job with it. The owner's lock on
//! the website says it is alive, so such a move is left alone until that lock
//! is free (its process died with it).

use sqlx::PgConnection;

use crate::domain::{NoticeStatus, Status};
use crate::ids::NotificationId;
use crate::sql::audited;

/// A job of `$1` that is waiting, running or will be retried by apalis.
const LIVE_JOB: &str = "j.job_type = $1
    AND (j.status IN ('Pending', 'Queued', 'Running') OR (j.status = 'Failed' AND j.attempts < j.max_attempts))";

/// The class ("sm" + "wl") of the advisory lock whoever runs a move holds on its website
/// (`pg_try_advisory_lock(WEBSITE_LOCK_CLASS, hashint8(website_id))`, see
/// `mover::mechanics::lock`), in the control database.
pub const WEBSITE_LOCK_CLASS: i32 = 0x736d_776c;

/// Some session holds the website lock of move `m`: its owner is alive.
const OWNER_ALIVE: &str = "l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = $4::int4::oid AND l.objid = hashint8(m.website_id)::oid";

/// Unfinished moves quiet for `quiet_for_secs` with no live job on `queue` and
/// no owner holding their website, locked for the caller's transaction.
pub async fn lost_moves(
    conn: &mut PgConnection,
    queue: &str,
    quiet_for_secs: f64,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(audited(&format!(
        "SELECT m.id FROM shardmover.migrations m
          WHERE m.status = ANY($3)
            AND m.updated_at < now() - make_interval(secs => $2)
            AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE {LIVE_JOB}
                   AND convert_from(j.job, 'UTF8')::jsonb ->> 'migration_id' = m.id::text)
            AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE {OWNER_ALIVE})
          ORDER BY m.id
          FOR UPDATE OF m SKIP LOCKED"
    )))
    .bind(queue)
    .bind(quiet_for_secs)
    .bind([Status::Pending.as_str(), Status::InProgress.as_str()])
    .bind(WEBSITE_LOCK_CLASS)
    .fetch_all(conn)
    .await
}

/// Touches a re-queued move so a concurrent sweeper that waited on the lock sees it as fresh.
pub async fn touch_move(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shardmover.migrations SET next_attempt_at = now() WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Pending notices overdue by `quiet_for_secs` with no live job on `queue`;
/// a notice being sent is locked by its sender, and SKIP LOCKED passes it by.
pub async fn lost_notices(
    conn: &mut PgConnection,
    queue: &str,
    quiet_for_secs: f64,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(audited(&format!(
        "SELECT n.id FROM shardmover.notifications n
          WHERE n.status = $3 AND n.next_attempt_at < now() - make_interval(secs => $2)
            AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE {LIVE_JOB}
                   AND convert_from(j.job, 'UTF8')::jsonb ->> 'notification_id' = n.id::text)
          ORDER BY n.id
          FOR UPDATE OF n SKIP LOCKED"
    )))
    .bind(queue)
    .bind(quiet_for_secs)
    .bind(NoticeStatus::Pending.as_str())
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().map(NotificationId).collect())
}

/// Touches a re-queued notice, like `touch_move`.
pub async fn touch_notice(conn: &mut PgConnection, id: NotificationId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE shardmover.notifications SET next_attempt_at = now() WHERE id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the jobs of `queues` that finished more than `days` ago; returns how many.
pub async fn purge_done_jobs(
    conn: &mut PgConnection,
    queues: &[&str],
    days: i32,
) -> Result<u64, sqlx::Error> {
    let purged = sqlx::query(
        "DELETE FROM apalis.jobs
          WHERE job_type = ANY($1) AND status = 'Done' AND done_at < now() - make_interval(days => $2)",
    )
    .bind(queues)
    .bind(days)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(purged)
}
