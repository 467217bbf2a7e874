//! The move job: one per attempt of a move; it runs (or resumes) the move with
//! the engine. Transient failures
//! are retried with exponential backoff and jitter by enqueueing the next
//! attempt with a `run_at`, recorded as the move's `next_attempt_at`; permanent
//! ones were already rolled back and recorded by the engine.
//!
//! A job acts on the move only under the attempt its own run started, and only
//! while that attempt is the newest: giving up, scheduling and re-queueing are
//! each conditional on it. A job whose attempt was overtaken stands down quietly;
//! the newer attempt's job carries the move on.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use tracing::{Instrument, info, warn};

use super::backoff::backoff;
use super::{Job, enqueue};
use crate::control::migrations;
use crate::domain::{MoveRecord, Phase, Status};
use crate::ids::MoveId;
use crate::mover::{MoveError, Mover, Silent};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MoveJob {
    pub migration_id: MoveId,
    /// The HTTP request that asked for the move, for the logs.
    pub request_id: Option<String>,
}

impl Job for MoveJob {
    const QUEUE: &'static str = "shardmover::move";
}

impl MoveJob {
    /// Enqueues this move on the caller's connection or transaction.
    pub async fn enqueue(
        &self,
        conn: &mut PgConnection,
        delay: Duration,
    ) -> Result<(), sqlx::Error> {
        enqueue(conn, std::slice::from_ref(self), delay).await
    }
}

/// The worker's handler.
pub async fn run_move(job: MoveJob, mover: Data<Arc<Mover>>) -> Result<(), BoxDynError> {
    let span = tracing::info_span!(
        "move_job",
        migration_id = job.migration_id.get(),
        request_id = job.request_id.as_deref().unwrap_or("")
    );
    handle(job, &mover).instrument(span).await
}

async fn handle(job: MoveJob, mover: &Mover) -> Result<(), BoxDynError> {
    let run = mover.run_attempt(job.migration_id, &Silent).await;
    match (run.attempt, run.result) {
        (_, Ok(outcome)) => {
            info!(status = %outcome.record.status, "move job finished");
            Ok(())
        }
        (_, Err(error @ MoveError::LostOwnership { .. })) => stand_down(&error),
        (None, Err(error @ MoveError::Busy { .. })) => website_busy(mover, &job, &error).await,
        (Some(attempt), Err(error)) if error.is_transient() => {
            retry_later(mover, &job, attempt, &error).await
        }
        (None, Err(error)) if error.is_transient() => try_again(mover, &job, &error).await,
        // Already rolled back and recorded as failed or cancelled by the engine,
        // or (past cutover) left cleanup_pending.
        (_, Err(error)) => {
            warn!(error = %error, "move failed permanently");
            Ok(())
        }
    }
}

/// Another process holds the website. If the move is running, the holder is
/// its attempt and this job a duplicate delivery of that attempt's job (apalis
/// hands a job out again once its worker stops beating, though the move goes
/// on in its own task): it ends quietly and touches nothing. Should the owner
/// then die, its lock goes with it and the sweeper queues the move again. A
/// move waiting to start (or to resume its cleanup) waits for the holder, the
/// website's previous move say, to let go.
async fn website_busy(mover: &Mover, job: &MoveJob, error: &MoveError) -> Result<(), BoxDynError> {
    let mut conn = mover.control_pool().acquire().await?;
    let record = migrations::find(&mut conn, job.migration_id).await?;
    drop(conn);
    let waiting = |r: &MoveRecord| matches!(r.status, Status::Pending | Status::CleanupPending);
    if record.as_ref().is_some_and(waiting) {
        return try_again(mover, job, error).await;
    }
    info!(error = %error, "the move's owner runs it; this duplicate job stands down");
    Ok(())
}

/// A run that started no attempt is tried again shortly. It records nothing on
/// the move, which may be running under another job.
async fn try_again(mover: &Mover, job: &MoveJob, error: &MoveError) -> Result<(), BoxDynError> {
    let delay = backoff(0);
    job.enqueue(&mut *mover.control_pool().acquire().await?, delay)
        .await?;
    warn!(retry_in_secs = delay.as_secs_f64(), error = %error, "the move did not start; trying again");
    Ok(())
}

/// Retries the move after `attempt` failed transiently, or gives up once its
/// retries are used up; nothing at all if a newer attempt owns the move.
async fn retry_later(
    mover: &Mover,
    job: &MoveJob,
    attempt: i32,
    error: &MoveError,
) -> Result<(), BoxDynError> {
    let id = job.migration_id;
    let Some(record) = migrations::find(&mut *mover.control_pool().acquire().await?, id).await?
    else {
        return Ok(());
    };
    let attempts = attempt - record.retry_from;
    // A shutdown is no failure of the move: the next worker takes it at once.
    let interrupted = matches!(error, MoveError::Interrupted);
    if !interrupted && attempts >= mover.settings().worker.max_attempts as i32 {
        // Before cutover the next run rolls the move back; if the shards are
        // still down that run is retried like any other. Past cutover the
        // cleanup is left pending, told about, and waits for `finalize`.
        match mover.give_up(&record, attempt, error).await {
            Ok(()) if record.phase >= Phase::Cleanup => {
                warn!(attempts, error = %error, "giving up: the cleanup waits for finalize");
                return Ok(());
            }
            Ok(()) => warn!(attempts, error = %error, "giving up: the move will be rolled back"),
            Err(lost @ MoveError::LostOwnership { .. }) => return stand_down(&lost),
            Err(e) => return Err(e.into()),
        }
    }
    let delay = if interrupted {
        Duration::ZERO
    } else {
        backoff(attempts as u32)
    };
    let mut tx = mover.control_pool().begin().await?;
    if !migrations::schedule_retry(&mut tx, id, attempt, delay).await? {
        return stand_down(&MoveError::LostOwnership {
            migration: id,
            attempt,
        });
    }
    job.enqueue(&mut tx, delay).await?;
    tx.commit().await?;
    warn!(attempts, retry_in_secs = delay.as_secs_f64(), error = %error, "transient failure; retrying");
    Ok(())
}

/// A newer attempt runs the move, and its job is live.
fn stand_down(lost: &MoveError) -> Result<(), BoxDynError> {
    info!(error = %lost, "move job stands down");
    Ok(())
}
