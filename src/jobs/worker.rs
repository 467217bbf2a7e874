//! Runs the move workers: apalis consumers of the move queue. Nothing here is
//! needed for correctness across processes: the queue, the per-website lock and
//! the move's state all live in Postgres.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;

use super::move_job::{MoveJob, QUEUE, run_move};
use crate::mover::Mover;

/// A dead worker's jobs return to the queue after heartbeat × missed beats.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
pub const MISSED_HEARTBEATS: usize = 3;

/// Creates apalis's tables (schema `apalis`, its own migrations table).
pub async fn setup(pool: &PgPool) -> Result<(), apalis_postgres::Error> {
    PostgresStorage::<()>::setup(pool).await
}

/// How often an idle worker looks for due jobs; without it an idle worker only
/// polls on its heartbeat, and retries scheduled with `run_at` get no NOTIFY.
pub const POLL: Duration = Duration::from_millis(500);

pub fn storage(pool: &PgPool) -> PostgresStorage<MoveJob> {
    let config = Config::default()
        .queue(QUEUE)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS);
    PostgresStorage::new(pool).with_config(config)
}

/// Runs until `shutdown` resolves; moves in flight stop at their next checkpoint.
pub async fn run(
    pool: &PgPool,
    mover: Arc<Mover>,
    name: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let concurrency = mover.settings().worker.concurrency.max(1);
    let worker = WorkerBuilder::new(name)
        .backend(storage(pool).poll_with_interval(POLL))
        .data(mover)
        .concurrency(concurrency)
        .parallelize(tokio::spawn)
        .build(run_move);
    worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await?;
    Ok(())
}
