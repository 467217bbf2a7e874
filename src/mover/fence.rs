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

mod guarded;
mod lists;
mod sql;

use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};

use super::error::{Context, MoveError};
use super::shard_schema::DDL_LOCK;
use crate::ids::{MigrationId, ShardName, WebsiteId};
use crate::sql::audited;
use crate::tenancy::TenantTable;
use lists::{Change, record};
use sql::{GuardSpec, guard_function, guard_name, trigger_statements};

/// How the fence is changed on a shard.
#[derive(Debug, Clone)]
pub struct FenceOptions {
    /// The key column of tables guarded by releases that did not record theirs.
    pub key_column: String,
    /// Longest one try may queue for the table locks; writers of those tables
    /// wait behind it, so this bounds the pause other tenants can see.
    pub lock_timeout: Duration,
    /// Tries go on this long before the move gives up (transiently) for now.
    pub give_up_after: Duration,
}

/// Fences `website` on the shard (installing the triggers on `tables` first if
/// they lack them). Returns once no transaction that wrote those tables before
/// the fence is still open.
pub async fn raise(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    migration: MigrationId,
    tables: &[TenantTable],
    options: &FenceOptions,
) -> Result<(), MoveError> {
    change(
        pool,
        shard,
        tables,
        Change::Raise(website, migration),
        options,
    )
    .await
}

/// Lifts the fence. With `only_for`, only a fence raised by that move is lifted,
/// so rolling back one move never lifts a fence that another move left behind.
/// Does nothing (and takes no lock) when there is nothing to lift.
pub async fn lift(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    only_for: Option<MigrationId>,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    change(pool, shard, &[], Change::Lift(website, only_for), options).await
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
    migration: MigrationId,
    tables: &[TenantTable],
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let what = Change::Capture(website, migration);
    change(pool, shard, tables, what, options).await
}

/// Stops recording `website`'s changes and deletes those still logged. With
/// `only_for`, only a capture started by that move. Takes no lock when there is
/// nothing to release.
pub async fn release(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    only_for: Option<MigrationId>,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let what = Change::Release(website, only_for);
    change(pool, shard, &[], what, options).await
}

/// Applies `what`, retrying lock timeouts until `give_up_after`.
async fn change(
    pool: &PgPool,
    shard: &ShardName,
    tables: &[TenantTable],
    what: Change,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let started = Instant::now();
    loop {
        let mut tx = pool
            .begin()
            .await
            .context(|| format!("connecting to {shard} to change its fence"))?;
        match apply(&mut tx, tables, &what, options).await {
            Ok(()) => {
                return tx
                    .commit()
                    .await
                    .context(|| format!("committing the fence on {shard}"));
            }
            Err(e) if is_lock_timeout(&e) && started.elapsed() < options.give_up_after => {
                drop(tx);
                tokio::time::sleep(options.lock_timeout.min(Duration::from_millis(250))).await;
            }
            Err(e) if is_lock_timeout(&e) => {
                drop(tx);
                return Err(MoveError::FenceDrainTimeout {
                    shard: shard.clone(),
                    seconds: options.give_up_after.as_secs(),
                    pids: lock_holders(pool, &quoted(tables)).await,
                });
            }
            Err(e) => return Err(e).context(|| format!("changing the fence on {shard}")),
        }
    }
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

async fn apply(
    tx: &mut PgConnection,
    extra_tables: &[TenantTable],
    what: &Change,
    options: &FenceOptions,
) -> Result<(), sqlx::Error> {
    let timeout_ms = options.lock_timeout.as_millis().max(1);
    sqlx::query(audited(&format!("SET LOCAL lock_timeout = {timeout_ms}")))
        .execute(&mut *tx)
        .await?;
    sqlx::query(audited(&format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK})"
    )))
    .execute(&mut *tx)
    .await?;
    if !record(tx, what).await? {
        return Ok(());
    }
    let tables = guarded::all(tx, extra_tables, &options.key_column).await?;
    if tables.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    sqlx::query(audited(&format!(
        "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
        names.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    let lists = lists::current(tx).await?;
    for guarded in &tables {
        let function = guard_name(guarded.oid);
        // Under the locks: no write runs the function while it is replaced.
        if let Some(table) = guarded.table {
            let spec = GuardSpec {
                owner: &table.owner,
                primary_key: &table.primary_key,
                root_oid: table.oid,
            };
            sqlx::query(audited(&guard_function(&function, &spec)))
                .execute(&mut *tx)
                .await?;
        } else if let Some(key) = &guarded.key_column {
            // Guarded by a release whose triggers called one shared function.
            legacy_guard(tx, guarded, &function, key).await?;
        }
        let key = guarded.key_column.as_deref();
        for sql in trigger_statements(&guarded.name, &function, key, &lists) {
            sqlx::query(audited(&sql)).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// Compiles the guard function of a table guarded before guard functions were
/// per table, from the catalogue, unless it has one already.
async fn legacy_guard(
    tx: &mut PgConnection,
    guarded: &guarded::Guarded<'_>,
    function: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    let exists: bool = sqlx::query_scalar("SELECT to_regprocedure($1 || '()') IS NOT NULL")
        .bind(function)
        .fetch_one(&mut *tx)
        .await?;
    if exists {
        return Ok(());
    }
    let (oid, primary_key) = lists::oid_and_primary_key(tx, &guarded.name).await?;
    let owner = crate::tenancy::Ownership::Column {
        column: key.to_owned(),
    };
    let spec = GuardSpec {
        owner: &owner,
        primary_key: &primary_key,
        root_oid: oid,
    };
    sqlx::query(audited(&guard_function(function, &spec)))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The quoted names of `tables`.
fn quoted(tables: &[TenantTable]) -> Vec<String> {
    tables.iter().map(|t| t.name.quoted()).collect()
}

/// Sessions holding a lock on `tables` that raising the fence would queue
/// behind for more than a moment: `SHARE UPDATE EXCLUSIVE` and stronger
/// (autovacuum, a manual `VACUUM`, `CREATE INDEX`, DDL), not the ordinary
/// writers' `ROW EXCLUSIVE`, which come and go. Autovacuum yields only to a
/// waiter older than `deadlock_timeout`, longer than one fence try waits, so
/// the freeze is better started once they are gone. `pg_locks` shows every role's locks.
pub async fn would_wait(source: &PgPool, tables: &[String]) -> Result<Vec<String>, MoveError> {
    sqlx::query_scalar(
        "SELECT format('pid %s (%s on %s)', pid, mode, relation::regclass) FROM pg_locks
          WHERE granted AND pid <> pg_backend_pid() AND locktype = 'relation'
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND relation = ANY ($1::text[]::regclass[])
            AND mode IN ('ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock',
                         'ExclusiveLock', 'AccessExclusiveLock')
          ORDER BY pid, relation",
    )
    .bind(tables)
    .fetch_all(source)
    .await
    .context(|| "reading the locks on the tenant tables".into())
}

/// Sessions holding write locks on the fenced tables: whom the fence waited for.
/// `pg_locks` shows every role's locks, unlike `pg_stat_activity`'s details.
async fn lock_holders(pool: &PgPool, tables: &[String]) -> String {
    sqlx::query_scalar(
        "SELECT coalesce(string_agg(DISTINCT pid::text, ','), 'unknown') FROM pg_locks
          WHERE granted AND pid <> pg_backend_pid() AND mode <> 'AccessShareLock'
            AND relation IN (SELECT c.oid FROM pg_class c
                              WHERE c.oid = ANY($1::text[]::regclass[])
                                 OR EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid
                                               AND t.tgname LIKE 'shardmover\\_fence%'))",
    )
    .bind(tables)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|_| "unknown".into())
}
