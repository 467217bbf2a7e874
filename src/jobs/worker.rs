//! Runs the move workers: apalis consumers of the move queue. Nothing here is
//! needed for correctness across processes: the queue, the per-website lock and
//! the move's state all live in Postgres.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use sqlx::PgPool;

use futures_util::FutureExt;
use futures_util::future::Shared;

use super::move_job::{MoveJob, QUEUE, run_move};
use super::notify_job::{Notifier, run_notify};
use crate::mail::outbox::{self, NotifyJob};
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

pub fn notice_storage(pool: &PgPool) -> PostgresStorage<NotifyJob> {
    let config = Config::default()
        .queue(outbox::QUEUE)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS);
    PostgresStorage::new(pool).with_config(config)
}

/// Runs the move worker and, when mail is on, the notice worker, until
/// `shutdown` resolves; moves in flight stop at their next checkpoint.
pub async fn run(
    pool: &PgPool,
    mover: Arc<Mover>,
    name: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let shutdown = Box::pin(shutdown).shared();
    let until = |shutdown: Shared<_>| async move {
        shutdown.await;
        Ok::<(), std::io::Error>(())
    };
    let notifier = Notifier::new(pool.clone(), mover.settings.clone())?;
    let concurrency = mover.settings().worker.concurrency.max(1);
    let moves = WorkerBuilder::new(name)
        .backend(storage(pool).poll_with_interval(POLL))
        .data(mover)
        .concurrency(concurrency)
        .parallelize(tokio::spawn)
        .build(run_move)
        .run_until(until(shutdown.clone()));
    let Some(notifier) = notifier else {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM shardmover.notifications WHERE status = 'pending'",
        )
        .fetch_one(pool)
        .await
        .unwrap_or(0);
        if waiting > 0 {
            // Another process recorded them with mail on: configs differ.
            tracing::warn!(
                waiting,
                "mail is off here (mail.smtp_host is empty) but notices wait in the outbox; workers with mail on will send them"
            );
        } else {
            tracing::info!("mail is off (mail.smtp_host is empty): no notices are sent");
        }
        moves.await?;
        return Ok(());
    };
    tracing::info!(
        smtp = notifier.mailer().server(),
        "notices go out through SMTP"
    );
    let notices = WorkerBuilder::new(format!("{name}-mail"))
        .backend(notice_storage(pool).poll_with_interval(POLL))
        .data(Arc::new(notifier))
        .build(run_notify)
        .run_until(until(shutdown));
    tokio::try_join!(moves, notices)?;
    Ok(())
}
