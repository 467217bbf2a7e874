//! Dropping the triggers no move needs any longer. Once neither list on a
//! shard names a website, every table's triggers compile to `WHEN (false)`:
//! cheap, but still on the application's tables. Only a table's owner may
//! `DROP TRIGGER`; shardmover owns the guard functions, though, and
//! `DROP FUNCTION … CASCADE` drops the triggers that call one.
//!
//! That takes an `ACCESS EXCLUSIVE` lock on the table, which its readers queue
//! behind as well as its writers, so a pass is opportunistic: under the DDL
//! lock (taken only if free: a fence change under way means a move wants the
//! triggers), one table at a time (one guard function each, a leaf partition
//! included), never while a transaction has held any lock on the table for
//! long, each try queueing for at most `lock_timeout`. What it cannot drop now
//! stays, still `WHEN (false)`, for the next pass: each move's end (cleanup or
//! rollback) makes one on both its shards, as does a fence lifted by hand.

use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};

use super::holders::{Request, long_held};
use super::lists;
use super::options::{FenceOptions, jittered};
use crate::db::is_lock_timeout;
use crate::ids::ShardName;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::shard_schema::DDL_LOCK;
use crate::sql::audited;

/// Tries per guard function; each queues for at most one `lock_timeout`.
const TRIES: usize = 3;

/// A pass starts no new drop after this long: the rest waits for the next.
const PASS_BUDGET: Duration = Duration::from_secs(1);

/// What one pass did on a shard.
#[derive(Debug, Clone, Copy, Default)]
struct Swept {
    /// Guard functions dropped, with their triggers.
    dropped: usize,
    /// Guard functions left for a later pass (lock holders, a fence change).
    left: usize,
}

/// One guard function and the tables whose triggers call it, in oid order.
struct Guard {
    function: String,
    tables: Vec<(i64, String)>,
}

impl Guard {
    fn names(&self) -> Vec<String> {
        self.tables.iter().map(|(_, name)| name.clone()).collect()
    }
}

enum Outcome {
    Dropped,
    /// Held by another session; the next pass tries again.
    Busy,
    /// A website is listed (or being listed) again: the triggers are needed.
    Needed,
}

/// Drops the guard functions, and with them the triggers, that no website on
/// `shard`'s lists needs. Never fails and never waits for a lock holder: what
/// it cannot drop now is left for a later pass (and logged).
pub async fn drop_unused(pool: &PgPool, shard: &ShardName, options: &FenceOptions) {
    match sweep(pool, options).await {
        Ok(Swept { dropped, left }) if dropped > 0 || left > 0 => {
            tracing::info!(%shard, dropped, left,
                "dropped the fence triggers no move needs; any left go at a later move's end");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%shard, %error, "could not drop the fence triggers no move needs; a later move's end tries again");
        }
    }
}

async fn sweep(pool: &PgPool, options: &FenceOptions) -> Result<Swept, MoveError> {
    let started = Instant::now();
    let guards = {
        let mut conn = pool
            .acquire()
            .await
            .context(|| "connecting to drop unused fence triggers".into())?;
        unused(&mut conn)
            .await
            .context(|| "reading the fence triggers".into())?
    };
    let mut swept = Swept::default();
    if guards.is_empty() {
        return Ok(swept);
    }
    let all: Vec<String> = guards.iter().flat_map(Guard::names).collect();
    let busy = long_held(pool, &all, Request::Drop).await?;
    for (i, guard) in guards.iter().enumerate() {
        let held = guard
            .tables
            .iter()
            .any(|(oid, _)| busy.iter().any(|h| h.relid == *oid));
        let outcome = if held || started.elapsed() > PASS_BUDGET {
            Outcome::Busy
        } else {
            drop_one(pool, guard, options).await.unwrap_or_else(|error| {
                tracing::warn!(function = %guard.function, %error, "could not drop a guard function; a later pass tries again");
                Outcome::Busy
            })
        };
        match outcome {
            Outcome::Dropped => swept.dropped += 1,
            Outcome::Busy => swept.left += 1,
            Outcome::Needed => {
                swept.left += guards.len() - i;
                break;
            }
        }
    }
    Ok(swept)
}

/// Our guard functions and the tables calling each, when neither list names
/// a website; none otherwise (or on a shard without our schema).
async fn unused(conn: &mut PgConnection) -> Result<Vec<Guard>, sqlx::Error> {
    let ours: bool = sqlx::query_scalar("SELECT to_regnamespace('shardmover') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !ours || listed(conn).await? {
        return Ok(Vec::new());
    }
    // `fence_guard_<oid>`, or `fence_guard`, which older releases shared
    // between tables; CASCADE drops whatever calls it.
    let rows: Vec<(String, Vec<i64>, Vec<String>)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text,
                coalesce(array_agg(t.tgrelid::int8 ORDER BY t.tgrelid) FILTER (WHERE t.tgrelid IS NOT NULL), '{}'),
                coalesce(array_agg(t.tgrelid::regclass::text ORDER BY t.tgrelid) FILTER (WHERE t.tgrelid IS NOT NULL), '{}')
           FROM pg_proc p
           LEFT JOIN (SELECT DISTINCT tgfoid, tgrelid FROM pg_trigger) t ON t.tgfoid = p.oid
          WHERE p.pronamespace = 'shardmover'::regnamespace AND p.prorettype = 'trigger'::regtype
            AND p.proname ~ '^fence_guard(_[0-9]+)?$'
          GROUP BY p.oid
          ORDER BY min(t.tgrelid) NULLS FIRST, p.oid",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(function, oids, names)| Guard {
            function,
            tables: oids.into_iter().zip(names).collect(),
        })
        .collect())
}

/// Whether either list names a website.
async fn listed(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let lists = lists::current(conn).await?;
    Ok(!lists.fenced.is_empty() || !lists.captured.is_empty())
}

/// A few tries at dropping one guard function, looking at the locks again
/// before each retry.
async fn drop_one(
    pool: &PgPool,
    guard: &Guard,
    options: &FenceOptions,
) -> Result<Outcome, MoveError> {
    for _ in 0..TRIES {
        match try_drop(pool, guard, options).await {
            Err(e) if is_lock_timeout(&e) => {
                tokio::time::sleep(jittered(options.lock_timeout)).await;
                if !long_held(pool, &guard.names(), Request::Drop)
                    .await?
                    .is_empty()
                {
                    return Ok(Outcome::Busy);
                }
            }
            done => {
                return done.context(|| format!("dropping {} and its triggers", guard.function));
            }
        }
    }
    Ok(Outcome::Busy)
}

async fn try_drop(
    pool: &PgPool,
    guard: &Guard,
    options: &FenceOptions,
) -> Result<Outcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let timeout_ms = options.lock_timeout.as_millis().max(1);
    sqlx::query(audited(&format!("SET LOCAL lock_timeout = {timeout_ms}")))
        .execute(&mut *tx)
        .await?;
    let ddl: bool = sqlx::query_scalar(audited(&format!(
        "SELECT pg_try_advisory_xact_lock({DDL_LOCK})"
    )))
    .fetch_one(&mut *tx)
    .await?;
    if !ddl || listed(&mut tx).await? {
        return Ok(Outcome::Needed);
    }
    // Takes each table's ACCESS EXCLUSIVE lock as it drops its triggers: the
    // function's owner needs no privilege on the table for that.
    sqlx::query(audited(&format!(
        "DROP FUNCTION IF EXISTS {} CASCADE",
        guard.function
    )))
    .execute(&mut *tx)
    .await?;
    // A table without our triggers needs no entry: the next move registers its own.
    sqlx::query(
        "DELETE FROM shardmover.guarded_tables g WHERE NOT EXISTS (
             SELECT 1 FROM pg_trigger t WHERE t.tgrelid = g.relid AND t.tgname LIKE 'shardmover\\_fence%')",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Outcome::Dropped)
}
