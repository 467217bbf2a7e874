//! Who waits for a lock on the source while the neighbour writes: a look at
//! `pg_stat_activity` every few milliseconds counts the application's sessions
//! and shardmover's (by its `application_name`) waiting for a lock. The
//! longest stretch of looks that saw one of the neighbour's writes waiting is
//! the lock's share of its worst write, apart from what a busy CPU adds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;

use crate::db::APPLICATION_NAME;

const EVERY: Duration = Duration::from_millis(5);

/// What the looks saw.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct LockWaits {
    pub looks: u64,
    /// Looks that saw shardmover's session queued for a lock.
    pub mover_queued: u64,
    /// Looks that saw one of the application's sessions waiting for a lock.
    pub neighbour_waiting: u64,
    /// From the first to the last look of the longest run of such looks.
    pub longest_neighbour_wait: Duration,
}

impl LockWaits {
    /// Both runs' looks; the longer of their longest waits.
    pub(super) fn add(self, other: &LockWaits) -> Self {
        Self {
            looks: self.looks + other.looks,
            mover_queued: self.mover_queued + other.mover_queued,
            neighbour_waiting: self.neighbour_waiting + other.neighbour_waiting,
            longest_neighbour_wait: self
                .longest_neighbour_wait
                .max(other.longest_neighbour_wait),
        }
    }
}

impl std::fmt::Display for LockWaits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "looks every {} ms: the neighbour waiting for a lock in {} of {} (longest run {} ms), \
             shardmover queued for one in {}",
            EVERY.as_millis(),
            self.neighbour_waiting,
            self.looks,
            self.longest_neighbour_wait.as_millis(),
            self.mover_queued
        )
    }
}

/// The looks, running until `stop`.
pub(super) struct LockWatch {
    stop: Arc<AtomicBool>,
    task: JoinHandle<anyhow::Result<LockWaits>>,
}

impl LockWatch {
    /// Looks at the database `url` names (as a role that sees every session's
    /// wait) for the waits of `app_role`'s and shardmover's sessions.
    pub(super) async fn start(url: &str, app_role: &str) -> anyhow::Result<Self> {
        let mut conn = PgConnection::connect(url).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let app_role = app_role.to_owned();
        let task = tokio::spawn(async move {
            let mut seen = LockWaits::default();
            let mut waiting_since: Option<Instant> = None;
            while !stopping.load(Ordering::Relaxed) {
                let (app, mover): (i64, i64) = sqlx::query_as(
                    "SELECT count(*) FILTER (WHERE usename = $1),
                            count(*) FILTER (WHERE application_name = $2)
                       FROM pg_stat_activity
                      WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .bind(&app_role)
                .bind(APPLICATION_NAME)
                .fetch_one(&mut conn)
                .await?;
                seen.looks += 1;
                seen.mover_queued += u64::from(mover > 0);
                seen.neighbour_waiting += u64::from(app > 0);
                waiting_since = match (app > 0, waiting_since) {
                    (true, None) => Some(Instant::now()),
                    (true, since) => since,
                    (false, _) => None,
                };
                if let Some(since) = waiting_since {
                    seen.longest_neighbour_wait = seen.longest_neighbour_wait.max(since.elapsed());
                }
                tokio::time::sleep(EVERY).await;
            }
            Ok(seen)
        });
        Ok(Self { stop, task })
    }

    pub(super) async fn stop(self) -> anyhow::Result<LockWaits> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}
