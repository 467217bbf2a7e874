//! The job queue: apalis's Postgres backend in the control database (schema
//! `apalis`, its own migrations table). Every job's payload lives here beside
//! its queue name and its transactional enqueue; payloads carry ids, never
//! data. The workers that run them are in `jobs`.

use std::time::Duration;

use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;

use crate::config::WorkerSettings;

pub mod move_job;
pub mod notify_job;

pub use move_job::MoveJob;
pub use notify_job::NotifyJob;

/// apalis re-delivers a job whose worker died or stopped, counting an attempt
/// each time; our own retries are new jobs.
const REDELIVERIES: usize = 20;

/// How often an idle worker looks for due jobs; without it an idle worker only
/// polls on its heartbeat, and retries scheduled with `run_at` get no NOTIFY.
pub const POLL: Duration = Duration::from_millis(500);

/// Creates apalis's tables (schema `apalis`, its own migrations table).
pub async fn setup(pool: &PgPool) -> Result<(), apalis_postgres::Error> {
    PostgresStorage::<()>::setup(pool).await
}

/// A dead worker's jobs return to the queue after heartbeat × missed beats
/// (`worker.heartbeat_secs`, `worker.missed_heartbeats`).
fn queue_config(queue: &str, settings: &WorkerSettings) -> Config {
    Config::default()
        .queue(queue)
        .heartbeat_interval(settings.heartbeat())
        .missed_heartbeats(settings.missed_heartbeats)
}

pub fn storage(pool: &PgPool, settings: &WorkerSettings) -> PostgresStorage<MoveJob> {
    PostgresStorage::new(pool).with_config(queue_config(move_job::QUEUE, settings))
}

pub fn notice_storage(pool: &PgPool, settings: &WorkerSettings) -> PostgresStorage<NotifyJob> {
    PostgresStorage::new(pool).with_config(queue_config(notify_job::QUEUE, settings))
}
