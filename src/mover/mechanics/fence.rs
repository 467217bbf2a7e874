//! The write fence and change capture. `shardmover.fenced_websites` on a shard
//! lists the websites whose writes that shard refuses; `captured_websites` those
//! whose changes it records for an online move's catch-up. Both lists are
//! compiled into the `WHEN` clause of triggers on every tenant table, so a
//! write of any other website costs one integer comparison in C and never calls
//! a function or reads a table.
//!
//! Changing the list is DDL under `SHARE ROW EXCLUSIVE` locks on the tenant
//! tables, which is also what makes the fence airtight: taking the locks waits
//! for every transaction that has written those tables, and a transaction that
//! writes afterwards reads triggers from the catalogue as it is now, whatever its
//! snapshot (even a `REPEATABLE READ` one opened before the fence). No
//! `pg_stat_activity` reading, so no extra privilege, is needed to drain.
//! Once neither list names a website, `sweep` drops the triggers when it can.

mod apply;
mod guarded;
mod holders;
mod lists;
mod options;
mod sql;
mod sweep;

use std::time::Instant;

use sqlx::PgPool;

use crate::db::is_lock_timeout;
use crate::ids::{MoveId, ShardName, WebsiteId};
use crate::mover::error::{Context, MoveError};
use crate::tenancy::TenantTable;
use holders::lock_holders;
pub use holders::{long_holders, would_wait};
use lists::Change;
pub use options::FenceOptions;
use options::jittered;
pub use sweep::drop_unused;

/// Fences `website` on the shard (installing the triggers on `tables` first if
/// they lack them). Returns once no transaction that wrote those tables before
/// the fence is still open.
pub async fn raise(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    migration: MoveId,
    tables: &[TenantTable],
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let what = Change::Raise(website, migration);
    change(pool, shard, tables, what, None, options).await
}

/// Like [`raise`], in a transaction that first checks (`FOR SHARE`) that
/// `attempt` still owns the move on this shard (`owner_token`): once the
/// freeze watcher has taken a move over and lifted its fence, a stale attempt
/// still trying to raise it gets `LostOwnership` and raises nothing.
pub async fn raise_owned(
    pool: &PgPool,
    shard: &ShardName,
    (website, migration, attempt): (WebsiteId, MoveId, i32),
    tables: &[TenantTable],
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let what = Change::Raise(website, migration);
    let owner = Some((migration, attempt));
    change(pool, shard, tables, what, owner, options).await
}

/// Lifts the move's fence as the attempt that owns the move on this shard, so
/// a stale attempt never lifts a fence a newer attempt raised.
pub async fn lift_owned(
    pool: &PgPool,
    shard: &ShardName,
    (website, migration, attempt): (WebsiteId, MoveId, i32),
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let what = Change::Lift(website, Some(migration));
    let owner = Some((migration, attempt));
    change(pool, shard, &[], what, owner, options).await
}

/// Lifts the fence. With `only_for`, only a fence raised by that move is lifted,
/// so rolling back one move never lifts a fence that another move left behind.
/// Does nothing (and takes no lock) when there is nothing to lift.
pub async fn lift(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    only_for: Option<MoveId>,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    change(
        pool,
        shard,
        &[],
        Change::Lift(website, only_for),
        None,
        options,
    )
    .await
}

/// Starts recording every change to `website`'s rows on the shard (installing
/// the triggers on `tables` first if they lack them), forgetting changes an
/// earlier move recorded. Returns once every transaction that wrote those
/// tables without being recorded has ended: a copy started afterwards sees all
/// it missed in the change log.
pub async fn capture(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    migration: MoveId,
    tables: &[TenantTable],
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let what = Change::Capture(website, migration);
    change(pool, shard, tables, what, None, options).await
}

/// Stops recording `website`'s changes and deletes those still logged. With
/// `only_for`, only a capture started by that move. Takes no lock when there is
/// nothing to release.
pub async fn release(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    only_for: Option<MoveId>,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let what = Change::Release(website, only_for);
    change(pool, shard, &[], what, None, options).await
}

/// Applies `what` (as `owner`, the move and attempt, when given), retrying
/// lock timeouts until `give_up_after`.
async fn change(
    pool: &PgPool,
    shard: &ShardName,
    tables: &[TenantTable],
    what: Change,
    owner: Option<(MoveId, i32)>,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let started = Instant::now();
    let names = quoted(tables);
    {
        let mut conn = pool
            .acquire()
            .await
            .context(|| format!("connecting to {shard} to change its fence"))?;
        if !lists::undoes_something(&mut conn, &what)
            .await
            .context(|| format!("reading the fence lists on {shard}"))?
        {
            return Ok(());
        }
    }
    loop {
        let mut tx = pool
            .begin()
            .await
            .context(|| format!("connecting to {shard} to change its fence"))?;
        if let Some((migration, attempt)) = owner {
            super::owner_token::check(&mut tx, migration, attempt).await?;
        }
        match apply::apply(&mut tx, tables, &what, options).await {
            Ok(()) => {
                return tx
                    .commit()
                    .await
                    .context(|| format!("committing the fence on {shard}"));
            }
            Err(e) if is_lock_timeout(&e) && started.elapsed() < options.give_up_after => {
                drop(tx);
                wait_out_long_holders(pool, shard, &names, started, options).await?;
                tokio::time::sleep(jittered(options.lock_timeout)).await;
            }
            Err(e) if is_lock_timeout(&e) => {
                drop(tx);
                return Err(MoveError::FenceDrainTimeout {
                    shard: shard.clone(),
                    seconds: options.give_up_after.as_secs(),
                    pids: lock_holders(pool, &names).await,
                });
            }
            Err(e) => return Err(e).context(|| format!("changing the fence on {shard}")),
        }
    }
}

/// After a try timed out: while a transaction holds a write lock on these
/// tables for long (idle in transaction, a long batch), wait for it without
/// queueing — a request queued behind it would hold every other writer of the
/// tables behind it too. Short writers come and go; the first try does not
/// look (the freeze's own fence would pay for the look every time), so a
/// neighbour waits at most one try's `lock_timeout` per change.
async fn wait_out_long_holders(
    pool: &PgPool,
    shard: &ShardName,
    names: &[String],
    started: Instant,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    loop {
        let waiting_for = long_holders(pool, names).await?;
        if waiting_for.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= options.give_up_after {
            return Err(MoveError::FenceDrainTimeout {
                shard: shard.clone(),
                seconds: options.give_up_after.as_secs(),
                pids: waiting_for.join(", "),
            });
        }
        tracing::debug!(%shard, sessions = %waiting_for.join(", "), "fence change waits for long transactions");
        tokio::time::sleep(jittered(options.lock_timeout)).await;
    }
}

/// The quoted names of `tables`.
fn quoted(tables: &[TenantTable]) -> Vec<String> {
    tables.iter().map(|t| t.name.quoted()).collect()
}
