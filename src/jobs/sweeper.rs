//! Puts back the job of a move or a notice that has none: its last job failed
//! for good (say the control database was down when the retry was being
//! recorded). Every worker sweeps; row locks keep two sweepers from queueing the
//! same thing twice. Also purges finished jobs, which apalis keeps forever.
//!
//! Only `pending` and `in_progress` moves are swept. A move that cannot go on
//! by itself is never one of them, so it is not queued again every minute: a
//! refused rollback ends `failed`, a stopped cleanup past cutover is
//! `cleanup_pending` and waits for `finalize`.

use std::time::Duration;

use sqlx::PgPool;

use super::{Job, MoveJob, NotifyJob};
use crate::control::sweeps;
use crate::ids::MoveId;

/// How often each worker sweeps, and how quiet a move must have been to count as lost.
pub const EVERY: Duration = Duration::from_secs(30);
const QUIET_FOR_SECS: f64 = 60.0;
/// Finished jobs are kept this long (the move and notice rows keep the history).
const KEEP_DONE_JOBS_DAYS: i32 = 7;

/// Re-queues every unfinished move without a live job; returns how many.
pub async fn sweep(pool: &PgPool, quiet_for_secs: f64) -> Result<usize, anyhow::Error> {
    let mut tx = pool.begin().await?;
    let lost = sweeps::lost_moves(&mut tx, MoveJob::QUEUE, quiet_for_secs).await?;
    for id in &lost {
        let job = MoveJob {
            migration_id: MoveId::from(*id),
            request_id: None,
        };
        job.enqueue(&mut tx, Duration::ZERO).await?;
        sweeps::touch_move(&mut tx, *id).await?;
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
        let swept = (
            sweep(&pool, QUIET_FOR_SECS).await,
            sweep_notices(&pool, QUIET_FOR_SECS).await,
            purge_done_jobs(&pool, KEEP_DONE_JOBS_DAYS).await,
        );
        if let (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) = swept {
            tracing::warn!(error = %crate::db::logged(e.as_ref()), "sweep failed; trying again later");
        }
    }
}

/// Re-queues every pending notice that is overdue and has no live job; returns how many.
pub async fn sweep_notices(pool: &PgPool, quiet_for_secs: f64) -> Result<usize, anyhow::Error> {
    let mut tx = pool.begin().await?;
    let lost = sweeps::lost_notices(&mut tx, NotifyJob::QUEUE, quiet_for_secs).await?;
    for id in &lost {
        NotifyJob::enqueue_all(&mut tx, &[*id], Duration::ZERO).await?;
        sweeps::touch_notice(&mut tx, *id).await?;
        tracing::warn!(notification_id = id.0, "notice had no job; queued it again");
    }
    tx.commit().await?;
    Ok(lost.len())
}

/// Deletes our queues' jobs that finished more than `days` ago; returns how many.
pub async fn purge_done_jobs(pool: &PgPool, days: i32) -> Result<u64, anyhow::Error> {
    let mut conn = pool.acquire().await?;
    let queues = [MoveJob::QUEUE, NotifyJob::QUEUE];
    Ok(sweeps::purge_done_jobs(&mut conn, &queues, days).await?)
}
