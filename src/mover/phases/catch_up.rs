//! Online moves, before the freeze. Catch-up replays the changes captured
//! since phase 2 onto the target in batches, verifies the bulk of the rows once
//! while the application still writes, and returns when what still waits would
//! drain within the freeze budget at the replay rate it measured and no
//! long-held lock (autovacuum, say) would hold up the fence inside the freeze.

mod rate;

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tracing::info;

use super::context::PhaseContext;
use crate::domain::{MoveRecord, Phase};
use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::replay::{Replay, replay_batch};
use crate::mover::mechanics::verify::online::{self as verify_online, Scope};
use crate::mover::mechanics::{fence, owner_token, references, sequences};
use crate::tenancy::TenantTable;
use rate::Rate;

/// Below this many waiting changes the freeze starts whatever the rate says:
/// draining them costs a few milliseconds.
const SMALL_BACKLOG: i64 = 50;
/// Share of the freeze budget the drain may use; verification of the touched
/// rows and the cutover need the rest.
const DRAIN_SHARE: f64 = 0.5;
/// Pause when a round found nothing to replay but changes still wait (rows of
/// transactions not yet committed when counted).
const IDLE: Duration = Duration::from_millis(20);
/// Pause between looks at the locks that keep the fence from going up.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// CatchingUp, then Freezing.
pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let started = Instant::now();
    cx.catch_up().await?;
    cx.attempt.timings.catch_up = started.elapsed();
    cx.attempt.set_phase(Phase::Freezing).await
}

// The phase's steps, private to this file.
impl PhaseContext<'_, '_> {
    /// CatchingUp: replays until the backlog fits the freeze budget.
    async fn catch_up(&mut self) -> Result<(), MoveError> {
        let (source, target) = (self.source, self.target);
        let record = self.record().clone();
        let plan = self.plan().await?;
        let engine = self.engine();
        // Past the copied rows once, while the application still writes; from
        // here on each replayed batch advances past its own rows. Tables the
        // copy verified were advanced with their fingerprint's extremes.
        let unverified: Vec<TenantTable> = plan
            .iter()
            .filter(|t| !self.attempt.verified_at_copy.contains(&t.name.to_string()))
            .cloned()
            .collect();
        sequences::advance(target, &unverified, record.website).await?;
        let owned = self.owned_sequences(&plan).await?;
        owner_token::claim(target, record.id, self.attempt.token).await?;
        let job = Replay::new(&plan, &record, self.attempt.token, owned);
        let budget = Duration::from_millis(engine.freeze_budget_ms).as_secs_f64() * DRAIN_SHARE;
        let timeout = Duration::from_secs(engine.catch_up_timeout_secs);
        let started = Instant::now();
        let mut rate = Rate::default();
        let mut applied = record.changes_applied;
        let mut verified = false;
        // The last replay round took every change that waited.
        let mut caught_up = false;
        // Replay rounds since touched keys were last checked.
        let mut rounds_since_check: Option<u32> = None;
        let quoted: Vec<String> = plan.iter().map(|t| t.name.quoted()).collect();
        // Sessions whose locks the fence would queue behind, when that was all
        // that kept the move from freezing (recorded on the move for operators).
        let mut blocked_by = String::new();
        loop {
            let waiting = backlog(source, record.website, &plan).await?;
            let fits = rate.fits(budget).max(SMALL_BACKLOG);
            self.attempt
                .record_catch_up(applied, waiting, rate.per_second())
                .await?;
            if waiting <= fits {
                if !verified {
                    self.verify_bulk().await?;
                    verified = true;
                    caught_up = false;
                    continue;
                }
                // The freeze drains what waits and verifies the keys touched
                // since their last check, so both are kept small: the budget
                // is a ceiling, not a target. The freeze starts once a round
                // took everything that waited (what is left arrived during it)
                // and touched keys were checked a round or two ago, so it
                // follows the write rate, not how long the copy took.
                let unverified = verify_online::pending(target, record.id).await?;
                let settled = caught_up || waiting <= SMALL_BACKLOG;
                let checked = unverified <= SMALL_BACKLOG
                    || rounds_since_check.is_some_and(|rounds| rounds <= 2);
                if settled && checked && waiting + unverified <= fits {
                    if self.fence_clear(&quoted, &mut blocked_by).await? {
                        return Ok(());
                    }
                } else if !blocked_by.is_empty() {
                    self.attempt.record_freeze_wait(None).await?;
                    blocked_by.clear();
                }
                if settled && !checked {
                    self.verify_touched_early().await?;
                    rounds_since_check = Some(0);
                    caught_up = false;
                    continue;
                }
            }
            if started.elapsed() > timeout {
                return Err(gave_up(&record, timeout, (waiting, fits), blocked_by));
            }
            let round = Instant::now();
            let replayed =
                replay_batch(source, target, &job, Some(i64::from(engine.catch_up_batch))).await?;
            rate.observe(replayed, round.elapsed());
            caught_up = replayed < u64::from(engine.catch_up_batch);
            rounds_since_check = rounds_since_check.map(|rounds| rounds + 1);
            applied += replayed as i64;
            if replayed == 0 {
                tokio::time::sleep(IDLE).await;
            }
            self.attempt.tracker.check_cancel().await?;
        }
    }

    /// Ready to freeze: true once no lock would hold up the fence; otherwise
    /// records what it waits for (when that changed) and pauses a little.
    async fn fence_clear(
        &mut self,
        tables: &[String],
        blocked_by: &mut String,
    ) -> Result<bool, MoveError> {
        // Strong locks (autovacuum, DDL), and write locks held by a long
        // transaction (idle in transaction): the fence would queue behind both.
        let mut holders = fence::would_wait(self.source, tables).await?;
        holders.extend(fence::long_holders(self.source, tables).await?);
        holders.dedup();
        let holders = holders.join(", ");
        if holders.is_empty() {
            return Ok(true);
        }
        if holders != *blocked_by {
            info!(website_id = %self.record().website, sessions = %holders,
                  "ready to freeze, but the fence would queue behind these locks; catching up until they end");
            self.attempt.record_freeze_wait(Some(&holders)).await?;
            *blocked_by = holders;
        }
        tokio::time::sleep(LOCK_POLL).await;
        Ok(false)
    }

    /// Every row no change touched, checksummed on both sides while writes go
    /// on (tables the copy verified at its snapshot left out: `verify::at_copy`).
    async fn verify_bulk(&mut self) -> Result<(), MoveError> {
        let (source, target) = (self.source, self.target);
        let record = self.record().clone();
        let plan = self.plan().await?;
        for table in &plan {
            if self
                .attempt
                .verified_at_copy
                .contains(&table.name.to_string())
            {
                continue;
            }
            let scope = Scope::of(table, &record);
            let (src, dst) = verify_online::bulk(source, target, &scope).await?;
            self.attempt.record_checksums(table, &src, &dst).await?;
        }
        let unchecked: Vec<TenantTable> = plan
            .iter()
            .filter(|t| {
                !self
                    .attempt
                    .references_checked
                    .contains(&t.name.to_string())
            })
            .cloned()
            .collect();
        let rows = self.planned_rows(&unchecked).await?;
        references::check(target, &unchecked, &rows, record.website).await?;
        info!(website_id = %record.website, "rows untouched since the copy verified; catching up to the freeze");
        Ok(())
    }

    /// Touched keys whose rows agree now are verified and forgotten.
    async fn verify_touched_early(&mut self) -> Result<(), MoveError> {
        let (source, target) = (self.source, self.target);
        let record = self.record().clone();
        let plan = self.plan().await?;
        for table in &plan {
            let scope = Scope::of(table, &record);
            verify_online::prune(source, target, &scope).await?;
        }
        Ok(())
    }
}

/// Why catch-up stops at its timeout: locks that kept a ready move from
/// freezing, or a backlog (`waiting`, of which `fits` would fit) too big.
fn gave_up(
    record: &MoveRecord,
    timeout: Duration,
    (waiting, fits): (i64, i64),
    blocked_by: String,
) -> MoveError {
    if blocked_by.is_empty() {
        MoveError::CatchUpTimeout {
            seconds: timeout.as_secs(),
            waiting,
            fits,
        }
    } else {
        MoveError::FenceBlocked {
            shard: record.source.clone(),
            seconds: timeout.as_secs(),
            sessions: blocked_by,
        }
    }
}

/// Captured changes of the website still waiting on the source, of the plan's
/// tables only: a table's triggers may outlive its place in the plan (put in
/// `tenancy.exclude_tables` since), and changes nothing will replay must not
/// keep a freeze waiting for them.
pub(crate) async fn backlog(
    source: &PgPool,
    website: WebsiteId,
    plan: &[TenantTable],
) -> Result<i64, MoveError> {
    let relids: Vec<i64> = plan.iter().map(|t| i64::from(t.oid)).collect();
    sqlx::query_scalar(
        "SELECT count(*)::int8 FROM shardmover.changes
          WHERE website_id = $1 AND relid::int8 = ANY($2)",
    )
    .bind(website.get())
    .bind(&relids)
    .fetch_one(source)
    .await
    .context(|| "counting captured changes".into())
}
