//! apalis's Postgres storage of our queues: its tables (schema `apalis`, its
//! own migrations table) and how a worker polls and notices dead peers.

use std::time::Duration;

use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;

use super::Job;
use crate::config::WorkerSettings;

/// How often an idle worker looks for due jobs; without it an idle worker only
/// polls on its heartbeat, and retries scheduled with `run_at` get no NOTIFY.
pub const POLL: Duration = Duration::from_millis(500);

/// Creates apalis's tables (schema `apalis`, its own migrations table).
pub async fn setup(pool: &PgPool) -> Result<(), apalis_postgres::Error> {
    PostgresStorage::<()>::setup(pool).await
}

/// The storage of `J`'s queue. A dead worker's jobs return to the queue after
/// heartbeat × missed beats (`worker.heartbeat_secs`, `worker.missed_heartbeats`).
pub fn storage<J: Job>(pool: &PgPool, settings: &WorkerSettings) -> PostgresStorage<J> {
    let config = Config::default()
        .queue(J::QUEUE)
        .heartbeat_interval(settings.heartbeat())
        .missed_heartbeats(settings.missed_heartbeats);
    PostgresStorage::new(pool).with_config(config)
}
