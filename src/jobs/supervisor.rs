//! Keeps a worker alive through database blips. apalis ends a worker on the
//! first failed poll or heartbeat (its backend turns `Dead`), so each worker
//! runs under this loop: a failure is logged, counted for `/ready` and
//! `/metrics`, and the worker starts again, under a fresh name, after a backoff.
//! A move the dead worker was running goes on in its own task; should it die,
//! its job returns to the queue after the orphan window.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::WorkerError;
use futures_util::future::{BoxFuture, Shared};

/// First and longest pause before a failed worker starts again.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A worker that ran this long before failing starts again at once.
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

/// A supervised worker's state, as `/ready` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Not started in this process (mail off, or not yet).
    Off,
    Running,
    /// Failed; waiting to start again or not yet settled after a restart.
    Restarting,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Running => "running",
            Self::Restarting => "restarting",
        }
    }
}

pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// What `/ready` and `/metrics` show about one supervised worker.
#[derive(Debug)]
pub struct WorkerHealth {
    pub name: &'static str,
    state: AtomicU8,
    restarts: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl WorkerHealth {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            state: AtomicU8::new(WorkerState::Off as u8),
            restarts: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn state(&self) -> WorkerState {
        match self.state.load(Ordering::SeqCst) {
            x if x == WorkerState::Running as u8 => WorkerState::Running,
            x if x == WorkerState::Restarting as u8 => WorkerState::Restarting,
            _ => WorkerState::Off,
        }
    }

    fn set(&self, state: WorkerState) {
        self.state.store(state as u8, Ordering::SeqCst);
    }

    /// Times the worker failed and was started again.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// The last failure, for the log-reading operator (never sent over HTTP).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("not poisoned").clone()
    }

    fn failed(&self, error: &WorkerError) {
        self.set(WorkerState::Restarting);
        self.restarts.fetch_add(1, Ordering::SeqCst);
        *self.last_error.lock().expect("not poisoned") = Some(error.to_string());
    }
}

/// Runs `start(attempt)` until it ends cleanly or `shutdown` resolves; each
/// failure is followed by a backoff and a new start.
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
        let error = match result {
            Ok(()) => return health.set(WorkerState::Off),
            Err(error) => error,
        };
        if shutdown.peek().is_some() {
            return;
        }
        health.failed(&error);
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        tracing::warn!(
            worker = health.name,
            error = %error,
            restart_in_ms = backoff.as_millis() as u64,
            "worker stopped on a backend error; starting it again"
        );
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.clone() => return,
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
