//! Keeps a worker alive through database blips. apalis ends a worker on the
//! first failed poll or heartbeat (its backend turns `Dead`), so each worker
//! runs under this loop: a failure is logged, counted for `/ready` and
//! `/metrics`, and the worker starts again, under a fresh name, after a backoff.
//! A run that ends cleanly while no shutdown was asked for is a failure too:
//! nothing would poll the queue any more. A move the dead worker was running
//! goes on in its own task; should it die, its job returns to the queue after
//! the orphan window.

mod health;

use std::time::{Duration, Instant};

use apalis::prelude::WorkerError;
use futures_util::future::{BoxFuture, Shared};

pub use health::{WorkerHealth, WorkerState};

/// First and longest pause before a failed worker starts again.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A worker that ran this long before failing starts again after the first backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// A restarted worker counts as running again once it has lasted this long
/// (registered and polled), so `/ready` does not flap during an outage.
const SETTLED: Duration = Duration::from_secs(2);
/// How long a worker may take to stop once shutdown is asked for. apalis waits,
/// without a deadline, for its tasks in flight and its last heartbeat or ack
/// query; sqlx bounds only `acquire`, so a query whose reply never comes (a
/// silent network partition; once, a test that blocked the thread relaying its
/// connection) would hold shutdown for ever. A move still in flight is
/// resumable from its checkpoint, so past this the worker is left.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Runs `start(attempt)` until `shutdown` resolves; each run that ends before
/// then, failed or not, is followed by a backoff and a new start.
pub async fn supervise<F>(health: &WorkerHealth, shutdown: Shutdown, mut start: F)
where
    F: FnMut(u64) -> BoxFuture<'static, Result<(), WorkerError>>,
{
    let mut backoff = FIRST_BACKOFF;
    health.set(WorkerState::Running);
    for attempt in 0.. {
        let started = Instant::now();
        let run = bounded_by_shutdown(health.name, start(attempt), shutdown.clone());
        tokio::pin!(run);
        let result = tokio::select! {
            result = &mut run => result,
            _ = tokio::time::sleep(SETTLED) => {
                health.set(WorkerState::Running);
                run.await
            }
        };
        if shutdown.peek().is_some() {
            return health.set(WorkerState::Stopped);
        }
        let why = match result {
            Ok(()) => "its run ended without a shutdown".to_owned(),
            Err(error) => error.to_string(),
        };
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        tracing::warn!(
            worker = health.name,
            error = %why,
            restart_in_ms = backoff.as_millis() as u64,
            "worker stopped unexpectedly; starting it again"
        );
        health.failed(why);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.clone() => return health.set(WorkerState::Stopped),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `run`, but ended `SHUTDOWN_GRACE` after `shutdown` resolves if it is still going.
async fn bounded_by_shutdown(
    name: &'static str,
    run: BoxFuture<'static, Result<(), WorkerError>>,
    shutdown: Shutdown,
) -> Result<(), WorkerError> {
    let overdue = async {
        shutdown.await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = run => result,
        () = overdue => {
            tracing::warn!(
                worker = name,
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "worker did not stop within its grace period after shutdown; leaving it"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn a_run_that_ends_without_a_shutdown_is_started_again_and_reported_restarting() {
        let health = Arc::new(WorkerHealth::new("moves"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown: Shutdown = async move {
            let _ = stopped.await;
        }
        .boxed()
        .shared();
        let runs = Arc::new(AtomicU64::new(0));
        let supervised = {
            let (health, runs) = (health.clone(), runs.clone());
            tokio::spawn(async move {
                supervise(&health, shutdown, |_| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    async { Ok(()) }.boxed()
                })
                .await
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while runs.load(Ordering::SeqCst) < 2 {
            assert!(
                Instant::now() < deadline,
                "the worker was never started again"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(health.state(), WorkerState::Restarting);
        assert!(!health.state().is_ready());
        assert!(health.restarts() >= 1);
        assert!(health.last_error().unwrap().contains("without a shutdown"));

        stop.send(()).unwrap();
        supervised.await.unwrap();
        assert_eq!(health.state(), WorkerState::Stopped);
    }
}
