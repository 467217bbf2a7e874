//! Puts back the job of a move that has none: its last job failed for good
//! (say the control database was down when the retry was being recorded). Every
//! worker sweeps; row locks keep two sweepers from queueing the same move twice.

use std::time::Duration;

use sqlx::PgPool;

use super::move_job::{MoveJob, QUEUE, enqueue_move};

/// How often each worker sweeps, and how quiet a move must have been to count as lost.
pub const EVERY: Duration = Duration::from_secs(30);
const QUIET_FOR_SECS: f64 = 60.0;

/// Re-queues every unfinished move without a live job; returns how many.
pub async fn sweep(pool: &PgPool, quiet_for_secs: f64) -> Result<usize, anyhow::Error> {
    let mut tx = pool.begin().await?;
    let lost: Vec<i64> = sqlx::query_scalar(
        "SELECT m.id FROM shardmover.migrations m
          WHERE m.status IN ('pending', 'in_progress')
            AND m.updated_at < now() - make_interval(secs => $2)
            AND NOT EXISTS (
                SELECT 1 FROM apalis.jobs j
                 WHERE j.job_type = $1
                   AND (j.status IN ('Pending', 'Queued', 'Running')
                        OR (j.status = 'Failed' AND j.attempts < j.max_attempts))
                   AND convert_from(j.job, 'UTF8')::jsonb ->> 'migration_id' = m.id::text)
          ORDER BY m.id
          FOR UPDATE OF m SKIP LOCKED",
    )
    .bind(QUEUE)
    .bind(quiet_for_secs)
    .fetch_all(&mut *tx)
    .await?;
    for id in &lost {
        let job = MoveJob {
            migration_id: *id,
            request_id: None,
        };
        enqueue_move(&mut tx, &job, Duration::ZERO).await?;
        // Touch the move so a concurrent sweeper that waited on the lock sees it as fresh.
        sqlx::query("UPDATE shardmover.migrations SET next_attempt_at = now() WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tracing::warn!(migration_id = id, "move had no job; queued it again");
    }
    tx.commit().await?;
    Ok(lost.len())
}

/// Sweeps every `EVERY` until `stop` is set.
pub async fn run(pool: PgPool, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = sweep(&pool, QUIET_FOR_SECS).await {
            tracing::warn!(error = %e, "sweep failed; trying again later");
        }
    }
}
