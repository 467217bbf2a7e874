//! The move job: runs (or resumes) one move with the engine. Transient failures
//! are retried with exponential backoff and jitter by enqueueing the next
//! attempt with a `run_at`, recorded as the move's `next_attempt_at`; permanent
//! ones were already rolled back and recorded by the engine.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data, TaskBuilder};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use tracing::{info, warn};

use super::backoff::backoff;
use crate::control::migrations;
use crate::ids::MigrationId;
use crate::mover::{MoveError, Mover, Silent};

/// apalis re-delivers a job whose worker died or stopped, counting an attempt each time.
const REDELIVERIES: usize = 20;

/// The queue (apalis `job_type`) that holds moves.
pub const QUEUE: &str = "shardmover::move";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MoveJob {
    pub migration_id: i64,
    /// The HTTP request that asked for the move, for the logs.
    pub request_id: Option<String>,
}

/// Enqueues a move on the caller's connection or transaction.
pub async fn enqueue_move(
    conn: &mut PgConnection,
    job: &MoveJob,
    delay: Duration,
) -> Result<(), apalis_postgres::Error> {
    let payload = serde_json::to_vec(job).expect("a MoveJob always serialises");
    // Our own retries enqueue a new job with a backoff; apalis's attempts only
    // count re-deliveries (a dead or stopped worker), so leave room for those.
    let task = TaskBuilder::new(payload)
        .run_after(delay)
        .max_attempts(REDELIVERIES)
        .build();
    apalis_postgres::queries::push_tasks(conn, QUEUE, vec![task]).await
}

/// The worker's handler.
pub async fn run_move(job: MoveJob, mover: Data<Arc<Mover>>) -> Result<(), BoxDynError> {
    let span = tracing::info_span!(
        "move_job",
        migration_id = job.migration_id,
        request_id = job.request_id.as_deref().unwrap_or("")
    );
    let _entered = span.enter();
    let id = MigrationId(job.migration_id);
    match mover.run(id, &Silent).await {
        Ok(outcome) => {
            info!(status = %outcome.record.status, "move job finished");
            Ok(())
        }
        Err(error) if error.is_transient() => retry_later(&mover, &job, &error).await,
        // Already rolled back and recorded as failed or cancelled by the engine.
        Err(error) => {
            warn!(error = %error, "move failed permanently");
            Ok(())
        }
    }
}

async fn retry_later(mover: &Mover, job: &MoveJob, error: &MoveError) -> Result<(), BoxDynError> {
    let id = MigrationId(job.migration_id);
    let mut tx = mover.control_pool().begin().await?;
    let attempts = migrations::find(&mut tx, id)
        .await?
        .map_or(0, |m| m.attempts);
    // A shutdown is no failure of the move: the next worker takes it at once.
    let interrupted = matches!(error, MoveError::Interrupted);
    if !interrupted && attempts >= mover.settings().worker.max_attempts as i32 {
        // The next run rolls the move back (or, past cutover, stops forward);
        // if the shards are still down that run is retried like any other.
        let message = format!("gave up after {attempts} attempts: {}", error.one_line());
        migrations::record_error(&mut tx, id, "retries_exhausted", &message, true).await?;
        warn!(attempts, error = %error, "giving up: the move will be rolled back");
    }
    let delay = if interrupted {
        Duration::ZERO
    } else {
        backoff(attempts as u32)
    };
    migrations::schedule_retry(&mut tx, id, delay).await?;
    enqueue_move(&mut tx, job, delay).await?;
    tx.commit().await?;
    warn!(attempts, retry_in_secs = delay.as_secs_f64(), error = %error, "transient failure; retrying");
    Ok(())
}
