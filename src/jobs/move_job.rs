//! The move job: runs (or resumes) one move with the engine. Transient failures
//! are retried with exponential backoff and jitter by enqueueing the next
//! attempt with a `run_at`, recorded as the move's `next_attempt_at`; permanent
//! ones were already rolled back and recorded by the engine.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data};
use tracing::{Instrument, info, warn};

use super::backoff::backoff;
use crate::control::{Phase, migrations};
use crate::mover::{MoveError, Mover, Silent};
use crate::queue::MoveJob;

/// The worker's handler.
pub async fn run_move(job: MoveJob, mover: Data<Arc<Mover>>) -> Result<(), BoxDynError> {
    let span = tracing::info_span!(
        "move_job",
        migration_id = job.migration_id.0,
        request_id = job.request_id.as_deref().unwrap_or("")
    );
    handle(job, &mover).instrument(span).await
}

async fn handle(job: MoveJob, mover: &Mover) -> Result<(), BoxDynError> {
    let id = job.migration_id;
    match mover.run(id, &Silent).await {
        Ok(outcome) => {
            info!(status = %outcome.record.status, "move job finished");
            Ok(())
        }
        // A newer attempt owns the move (and has a live job): nothing to do.
        Err(error @ MoveError::LostOwnership { .. }) => {
            info!(error = %error, "move job stands down");
            Ok(())
        }
        Err(error) if error.is_transient() => retry_later(mover, &job, &error).await,
        // Already rolled back and recorded as failed or cancelled by the engine,
        // or (past cutover) left cleanup_pending.
        Err(error) => {
            warn!(error = %error, "move failed permanently");
            Ok(())
        }
    }
}

async fn retry_later(mover: &Mover, job: &MoveJob, error: &MoveError) -> Result<(), BoxDynError> {
    let id = job.migration_id;
    let Some(record) = migrations::find(&mut *mover.control_pool().acquire().await?, id).await?
    else {
        return Ok(());
    };
    let attempts = record.attempts - record.retry_from;
    // A shutdown is no failure of the move: the next worker takes it at once.
    let interrupted = matches!(error, MoveError::Interrupted);
    // Another process holds the website: its attempt owns the move, and this
    // job, which started no attempt, must not give up on the owner's behalf.
    let busy = matches!(error, MoveError::Busy { .. });
    if !interrupted && !busy && attempts >= mover.settings().worker.max_attempts as i32 {
        // Before cutover the next run rolls the move back; if the shards are
        // still down that run is retried like any other. Past cutover the
        // cleanup is left pending, told about, and waits for `finalize`.
        match mover.give_up(&record, error).await {
            Ok(()) if record.phase >= Phase::Cleanup => {
                warn!(attempts, error = %error, "giving up: the cleanup waits for finalize");
                return Ok(());
            }
            Ok(()) => warn!(attempts, error = %error, "giving up: the move will be rolled back"),
            // A newer attempt runs the move: its job is live.
            Err(MoveError::LostOwnership { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    let mut tx = mover.control_pool().begin().await?;
    let delay = if interrupted {
        Duration::ZERO
    } else {
        backoff(attempts as u32)
    };
    migrations::schedule_retry(&mut tx, id, delay).await?;
    job.enqueue(&mut tx, delay).await?;
    tx.commit().await?;
    warn!(attempts, retry_in_secs = delay.as_secs_f64(), error = %error, "transient failure; retrying");
    Ok(())
}
