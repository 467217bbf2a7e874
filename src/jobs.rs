//! Durable background work on apalis's Postgres queue (schema `apalis` in the
//! control database). A job is one file: its payload (ids, never data), its
//! queue, its enqueue on the caller's transaction and its handler, whose core
//! is a plain `async fn` tests call directly. Beside them, the workers that run
//! them, the sweeper, the freeze watcher and the workers' supervisor.

mod backoff;
pub mod freeze_watch;
pub mod move_job;
pub mod notify_job;
mod storage;
pub mod supervisor;
pub mod sweeper;
pub mod worker;

use std::time::Duration;

use apalis::prelude::TaskBuilder;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgConnection;

pub use backoff::backoff;
pub use move_job::{MoveJob, run_move};
pub use notify_job::{MailNotices, NotifyJob, deliver, run_notify};
pub use storage::{POLL, setup, storage};

/// A job's payload, named by the queue (apalis `job_type`) that holds it.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    const QUEUE: &'static str;
}

/// apalis re-delivers a job whose worker died or stopped, counting an attempt
/// each time; our own retries are new jobs.
const REDELIVERIES: usize = 20;

/// Enqueues `jobs`, due after `delay`, on the caller's connection or
/// transaction: they commit with whatever asked for them, or not at all.
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    jobs: &[J],
    delay: Duration,
) -> Result<(), sqlx::Error> {
    if jobs.is_empty() {
        return Ok(());
    }
    let tasks = jobs
        .iter()
        .map(|job| {
            let payload = serde_json::to_vec(job).expect("a job's payload always serialises");
            // Our own retries enqueue a new job with a backoff; apalis's attempts
            // only count re-deliveries (a dead or stopped worker), so leave room.
            TaskBuilder::new(payload)
                .run_after(delay)
                .max_attempts(REDELIVERIES)
                .build()
        })
        .collect();
    apalis_postgres::queries::push_tasks(conn, J::QUEUE, tasks)
        .await
        .map_err(|e| match e {
            apalis_postgres::Error::Database(e) => e,
            other => sqlx::Error::Protocol(format!("enqueueing on {}: {other}", J::QUEUE)),
        })
}
