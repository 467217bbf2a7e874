//! Runs the move workers: apalis consumers of the move queue. Nothing here is
//! needed for correctness across processes: the queue, the per-website lock and
//! the move's state all live in Postgres. Each worker runs under `supervisor`,
//! so a database blip restarts it instead of ending the process.

use std::sync::Arc;

use apalis::prelude::*;
use apalis_postgres::Pubsub;
use futures_util::{FutureExt, StreamExt};
use sqlx::PgPool;

use super::supervisor::{Shutdown, WorkerHealth, supervise};
use super::{Job, MoveJob, NotifyJob, POLL, run_move, run_notify, storage};
use crate::mail::Notifier;
use crate::mover::Mover;

/// The health of the workers one process runs, for `/ready` and `/metrics`.
#[derive(Debug)]
pub struct Workers {
    pub moves: WorkerHealth,
    pub mail: WorkerHealth,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            moves: WorkerHealth::new("moves"),
            mail: WorkerHealth::new("mail"),
        }
    }
}

/// Runs the move worker and, when mail is on, the notice worker, until
/// `shutdown` resolves; moves in flight stop at their next checkpoint.
pub async fn run(
    pool: &PgPool,
    mover: Arc<Mover>,
    name: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_watched(pool, mover, name, shutdown, &Workers::default()).await
}

/// `run`, reporting each worker's health into `workers`.
pub async fn run_watched(
    pool: &PgPool,
    mover: Arc<Mover>,
    name: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    workers: &Workers,
) -> anyhow::Result<()> {
    let shutdown: Shutdown = shutdown.boxed().shared();
    let notifier = Notifier::new(pool.clone(), mover.app().settings.clone())?;
    let settings = mover.settings().worker.clone();
    let moves = supervise(&workers.moves, shutdown.clone(), |attempt| {
        WorkerBuilder::new(format!("{name}-{attempt}"))
            .backend(
                storage::<MoveJob>(pool, &settings).poll_with_strategy(woken(pool, MoveJob::QUEUE)),
            )
            .data(mover.clone())
            .concurrency(settings.concurrency.max(1))
            .parallelize(tokio::spawn)
            .build(run_move)
            .run_until(until(shutdown.clone()))
            .boxed()
    });
    let Some(notifier) = notifier else {
        // Off by configuration is not down: `/ready` counts it ready, `/metrics` leaves it out.
        workers.mail.turned_off();
        warn_if_notices_wait(pool).await;
        moves.await;
        return Ok(());
    };
    tracing::info!(
        smtp = notifier.mailer().server(),
        "notices go out through SMTP"
    );
    let notifier = Arc::new(notifier);
    let notices = supervise(&workers.mail, shutdown.clone(), |attempt| {
        WorkerBuilder::new(format!("{name}-mail-{attempt}"))
            .backend(
                storage::<NotifyJob>(pool, &settings)
                    .poll_with_strategy(woken(pool, NotifyJob::QUEUE)),
            )
            .data(notifier.clone())
            .build(run_notify)
            .run_until(until(shutdown.clone()))
            .boxed()
    });
    tokio::join!(moves, notices);
    Ok(())
}

/// Wakes a worker as soon as a job of `queue` is inserted due (apalis's insert
/// trigger notifies, on a listener connection of the worker's own), so a move
/// starts within milliseconds of its request instead of at the next poll;
/// the poll stays for jobs that become due later (retries' `run_at`) and for
/// notifications lost while the listener reconnects. A listener that ends
/// just stops waking (it must not wake the worker in a loop).
fn woken(pool: &PgPool, queue: &str) -> Strategy {
    let inserted =
        Pubsub::new(pool.clone(), queue.to_owned()).chain(futures_util::stream::pending());
    Strategy::new().stream(inserted).interval(POLL)
}

async fn until(shutdown: Shutdown) -> Result<(), std::io::Error> {
    shutdown.await;
    Ok(())
}

async fn warn_if_notices_wait(pool: &PgPool) {
    let waiting = match pool.acquire().await {
        Ok(mut conn) => crate::control::notifications::count_pending(&mut conn)
            .await
            .unwrap_or(0),
        Err(_) => 0,
    };
    if waiting > 0 {
        // Another process recorded them with mail on: configs differ.
        tracing::warn!(
            waiting,
            "mail is off here (mail.smtp_host is empty) but notices wait in the outbox; workers with mail on will send them"
        );
    } else {
        tracing::info!("mail is off (mail.smtp_host is empty): no notices are sent");
    }
}
