//! The application's side of the online-move benchmark: a few clients writing
//! one website's rows at a steady, rate-limited pace, routed like an
//! application: each caches the shard the registry names and, when a write is
//! refused with `SMF01` (the website is frozen for a move, or has moved off that
//! shard), waits a moment, reads the registry again and retries. Only
//! acknowledged writes count; each write's wait, from its first try to its
//! commit, is kept, so the longest wait shows what the freeze cost the website.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::ids::WebsiteId;
use crate::mover::FENCE_SQLSTATE;

/// Concurrent clients; the rate is shared between them, so one slow commit
/// does not stall the whole load.
const CLIENTS: usize = 3;
/// Pause before retrying a refused write, as a polite application would.
const RETRY_PAUSE: Duration = Duration::from_millis(5);
/// A write refused this long means the move is stuck: the bench fails.
const GIVE_UP: Duration = Duration::from_secs(120);

/// The registry (in the control database) and a pool per shard name.
pub(super) struct Route {
    pub control: PgPool,
    pub shards: HashMap<String, PgPool>,
}

impl Route {
    pub(super) async fn shard_of(&self, website: WebsiteId) -> anyhow::Result<String> {
        let shard: Option<String> =
            sqlx::query_scalar("SELECT shard_name FROM pwb_websites WHERE id = $1")
                .bind(website.get())
                .fetch_one(&self.control)
                .await?;
        shard.ok_or_else(|| anyhow::anyhow!("website {website} has no shard in the registry"))
    }

    fn pool(&self, shard: &str) -> anyhow::Result<&PgPool> {
        self.shards
            .get(shard)
            .ok_or_else(|| anyhow::anyhow!("the registry names an unknown shard {shard}"))
    }
}

/// What the writer saw while it ran.
#[derive(Debug, Default, Clone)]
pub(super) struct WriterStats {
    /// Writes committed (inserts, updates and deletes, one transaction each).
    pub acked: u64,
    /// Tries refused with `SMF01` and retried.
    pub refused: u64,
    /// Updates or deletes that found no row: a write routed to a shard that no
    /// longer holds the website and did not refuse it. Must stay 0.
    pub lost: u64,
    pub longest_wait: Duration,
    pub elapsed: Duration,
}

impl WriterStats {
    fn add(&mut self, other: &WriterStats) {
        self.acked += other.acked;
        self.refused += other.refused;
        self.lost += other.lost;
        self.longest_wait = self.longest_wait.max(other.longest_wait);
        self.elapsed = self.elapsed.max(other.elapsed);
    }
}

/// The running clients; `stop` ends them after their write in flight.
pub(super) struct Writer {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<anyhow::Result<WriterStats>>>,
}

impl Writer {
    /// Starts writing `website`'s rows (`pages` are its page ids) at `rate`
    /// writes per second in all; `tag` keeps inserted keys unique across runs.
    pub(super) fn start(
        route: Arc<Route>,
        website: WebsiteId,
        pages: Arc<Vec<i64>>,
        rate: u32,
        tag: &str,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let period = Duration::from_secs_f64(CLIENTS as f64 / f64::from(rate.max(1)));
        let tasks = (0..CLIENTS)
            .map(|client| {
                let client = Client {
                    route: route.clone(),
                    website,
                    pages: pages.clone(),
                    tag: format!("{tag}-{client}"),
                    stop: stop.clone(),
                };
                tokio::spawn(client.run(period))
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops every client after its write in flight and sums what they saw.
    pub(super) async fn stop(mut self) -> anyhow::Result<WriterStats> {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = WriterStats::default();
        for task in std::mem::take(&mut self.tasks) {
            total.add(&task.await??);
        }
        Ok(total)
    }
}

impl Drop for Writer {
    /// On an early return (a failed move) the clients must not outlive the bench.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Client {
    route: Arc<Route>,
    website: WebsiteId,
    pages: Arc<Vec<i64>>,
    tag: String,
    stop: Arc<AtomicBool>,
}

impl Client {
    /// One write per tick, cycling insert, update, delete of the website's rows.
    async fn run(self, period: Duration) -> anyhow::Result<WriterStats> {
        let started = Instant::now();
        let mut stats = WriterStats::default();
        let mut shard = self.route.shard_of(self.website).await?;
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            ticks.tick().await;
            let first_try = Instant::now();
            loop {
                match self.write(self.route.pool(&shard)?, n).await {
                    Ok(found) => {
                        stats.acked += 1;
                        stats.lost += u64::from(!found);
                        break;
                    }
                    Err(e) if is_fence_refusal(&e) && first_try.elapsed() < GIVE_UP => {
                        stats.refused += 1;
                        tokio::time::sleep(RETRY_PAUSE).await;
                        shard = self.route.shard_of(self.website).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            stats.longest_wait = stats.longest_wait.max(first_try.elapsed());
            n += 1;
        }
        stats.elapsed = started.elapsed();
        Ok(stats)
    }

    /// Write `n` through `pool`; false if an update or delete found no row.
    async fn write(&self, pool: &PgPool, n: u64) -> Result<bool, sqlx::Error> {
        let website = self.website.get();
        let done =
            match n % 3 {
                0 => {
                    sqlx::query("INSERT INTO website_settings (website_id, key) VALUES ($1, $2)")
                        .bind(website)
                        .bind(format!("online-{}-{n}", self.tag))
                        .execute(pool)
                        .await?
                }
                1 => sqlx::query(
                    "UPDATE pages SET title = 'online ' || $3 WHERE id = $2 AND website_id = $1",
                )
                .bind(website)
                .bind(self.pages[(n as usize * 7919) % self.pages.len()])
                .bind(n as i64)
                .execute(pool)
                .await?,
                _ => {
                    sqlx::query("DELETE FROM website_settings WHERE website_id = $1 AND key = $2")
                        .bind(website)
                        .bind(format!("online-{}-{}", self.tag, n - 2))
                        .execute(pool)
                        .await?
                }
            };
        Ok(done.rows_affected() == 1)
    }
}

fn is_fence_refusal(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(FENCE_SQLSTATE))
}
