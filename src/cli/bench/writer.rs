//! The application's side of the online-move benchmark: a few clients writing
//! one website's rows at a steady, rate-limited pace, routed like an
//! application: each caches the shard the registry names and, when a write is
//! refused with `SMF01` (the website is frozen for a move, or has moved off that
//! shard), waits a moment, reads the registry again and retries. Only
//! acknowledged writes count, and only they change the writers' model of the
//! website's rows (`model.rs`), which the bench compares with the rows where
//! the website ends up. Each write's wait, from its first try to its commit, is
//! kept: the longest shows what the freeze cost the website, the percentiles
//! what a move costs a neighbour's writes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::model::{Model, Share, Write};
use crate::ids::WebsiteId;
use crate::mover::FENCE_SQLSTATE;

/// Concurrent clients; the rate is shared between them, so one slow commit
/// does not stall the whole load.
const CLIENTS: usize = 3;
/// Pause before retrying a refused write, as a polite application would.
const RETRY_PAUSE: Duration = Duration::from_millis(5);
/// A write refused this long means the move is stuck: the bench fails.
const GIVE_UP: Duration = Duration::from_secs(120);
/// Orders one client inserts in one run, at most.
const KEYS_PER_CLIENT: i64 = 100_000;

/// The first key of the orders run `run` of a writer of `website` inserts:
/// the sample tenant seeds keys `website * 10^8 + n`, so the upper half of
/// that range is free; each run has 10^6 keys of it. The bench's websites
/// move back and forth between two shards whose sequences know nothing of
/// each other, so keys drawn from them would collide across websites.
fn order_keys(website: WebsiteId, run: usize) -> i64 {
    website.get() * 100_000_000 + 50_000_000 + (run % 50) as i64 * 1_000_000
}

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
    pub missed: u64,
    /// Each acknowledged write's wait, from its first try to its commit.
    pub waits: Vec<Duration>,
    pub elapsed: Duration,
}

impl WriterStats {
    fn add(&mut self, other: WriterStats) {
        self.acked += other.acked;
        self.refused += other.refused;
        self.missed += other.missed;
        self.waits.extend(other.waits);
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    pub(super) fn longest_wait(&self) -> Duration {
        self.waits.iter().copied().max().unwrap_or_default()
    }
}

/// The running clients; `stop` ends them after their write in flight.
pub(super) struct Writer {
    stop: Arc<AtomicBool>,
    model: Arc<Mutex<Model>>,
    tasks: Vec<JoinHandle<anyhow::Result<WriterStats>>>,
}

impl Writer {
    /// Starts writing `website`'s rows, which `model` holds now, at `rate`
    /// writes per second in all. `run` (below 50) tells this writer of the
    /// website from the others: it tags the settings keys it inserts and
    /// picks the keys of the orders it inserts (`order_keys`).
    pub(super) fn start(
        route: Arc<Route>,
        website: WebsiteId,
        model: Model,
        rate: u32,
        run: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let period = Duration::from_secs_f64(CLIENTS as f64 / f64::from(rate.max(1)));
        let clients = CLIENTS as u64;
        let first = order_keys(website, run);
        let share = |i: u64| {
            Share::new(&model, format!("{website}-{run}-{i}"), i, clients)
                .keys_from(first + i as i64 * KEYS_PER_CLIENT)
        };
        let shares: Vec<Share> = (0..clients).map(share).collect();
        let model = Arc::new(Mutex::new(model));
        let tasks = shares
            .into_iter()
            .map(|share| {
                let client = Client {
                    route: route.clone(),
                    website,
                    model: model.clone(),
                    share,
                    stop: stop.clone(),
                };
                tokio::spawn(client.run(period))
            })
            .collect();
        Self { stop, model, tasks }
    }

    /// Stops every client after its write in flight; what they saw, and the
    /// model of the website's rows their acknowledged writes left.
    pub(super) async fn stop(mut self) -> anyhow::Result<(WriterStats, Model)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = WriterStats::default();
        for task in std::mem::take(&mut self.tasks) {
            total.add(task.await??);
        }
        let model = std::mem::take(&mut *lock(&self.model));
        Ok((total, model))
    }
}

fn lock(model: &Mutex<Model>) -> std::sync::MutexGuard<'_, Model> {
    // A client that panicked left the model as it was: still the best account.
    model
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
    model: Arc<Mutex<Model>>,
    share: Share,
    stop: Arc<AtomicBool>,
}

impl Client {
    /// One write per tick (`model.rs`'s mix of the website's rows).
    async fn run(mut self, period: Duration) -> anyhow::Result<WriterStats> {
        let started = Instant::now();
        let mut stats = WriterStats::default();
        let mut shard = self.route.shard_of(self.website).await?;
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut step = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            ticks.tick().await;
            step += 1;
            let Some(write) = Write::next(&lock(&self.model), &self.share, step) else {
                continue;
            };
            let first_try = Instant::now();
            loop {
                let pool = self.route.pool(&shard)?;
                match write.run(pool, self.website.get()).await {
                    Ok(acked) => {
                        stats.acked += 1;
                        stats.missed += u64::from(!acked.found);
                        write.apply(&mut lock(&self.model), &mut self.share, &acked);
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
            stats.waits.push(first_try.elapsed());
        }
        stats.elapsed = started.elapsed();
        Ok(stats)
    }
}

fn is_fence_refusal(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(FENCE_SQLSTATE))
}
