//! Who holds locks on the tenant tables that a fence change would queue
//! behind. `pg_locks` shows every role's locks to any role (unlike
//! `pg_stat_activity`'s details), so no extra privilege is needed.

use std::time::Duration;

use sqlx::PgPool;

use crate::mover::error::{Context, MoveError};

/// The modes a `SHARE ROW EXCLUSIVE` request conflicts with.
const CONFLICTING: &str = "'RowExclusiveLock', 'ShareUpdateExclusiveLock', 'ShareLock',
    'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'";

/// How long apart two looks at the locks are: a transaction holding a write
/// lock in both is long enough that a request queued behind it would stall
/// the table's other writers for longer than a lock timeout.
const LONG_HOLD: Duration = Duration::from_millis(40);

/// What a lock request of ours would queue behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Request {
    /// A fence change's `SHARE ROW EXCLUSIVE`: writers' locks and stronger,
    /// on `tables` and on every table carrying our triggers.
    Fence,
    /// Dropping triggers, `ACCESS EXCLUSIVE`: every lock, readers' included,
    /// on `tables` only.
    Drop,
}

/// A session holding a lock `Request` would queue behind.
pub(super) struct Holder {
    /// The table it holds the lock on.
    pub relid: i64,
    /// `pid N (mode on table)`.
    pub what: String,
}

/// Sessions that held a conflicting lock on `tables` (or on any table with our
/// triggers) across two looks `LONG_HOLD` apart, in the same transaction.
pub async fn long_holders(pool: &PgPool, tables: &[String]) -> Result<Vec<String>, MoveError> {
    let held = long_held(pool, tables, Request::Fence).await?;
    Ok(held.into_iter().map(|h| h.what).collect())
}

/// Sessions that held a lock `request` conflicts with across two looks
/// `LONG_HOLD` apart, in the same transaction.
pub(super) async fn long_held(
    pool: &PgPool,
    tables: &[String],
    request: Request,
) -> Result<Vec<Holder>, MoveError> {
    let first = holders(pool, tables, request).await?;
    if first.is_empty() {
        return Ok(Vec::new());
    }
    tokio::time::sleep(LONG_HOLD).await;
    let second = holders(pool, tables, request).await?;
    Ok(second
        .into_iter()
        .filter(|(vxid, _)| first.iter().any(|(earlier, _)| earlier == vxid))
        .map(|(_, holder)| holder)
        .collect())
}

/// (virtual transaction, holder) of each session holding a conflicting lock.
async fn holders(
    pool: &PgPool,
    tables: &[String],
    request: Request,
) -> Result<Vec<(String, Holder)>, MoveError> {
    let (modes, guarded) = match request {
        Request::Fence => (
            format!("AND l.mode IN ({CONFLICTING})"),
            "UNION SELECT t.tgrelid FROM pg_trigger t WHERE t.tgname LIKE 'shardmover\\_fence%'",
        ),
        Request::Drop => (String::new(), ""),
    };
    let sql = format!(
        "SELECT l.virtualtransaction, l.relation::int8,
                format('pid %s (%s on %s)', l.pid, l.mode, l.relation::regclass)
           FROM pg_locks l
          WHERE l.granted AND l.pid <> pg_backend_pid() AND l.locktype = 'relation'
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            {modes}
            AND l.relation IN (
                SELECT p.relid FROM unnest($1::text[]) n, pg_partition_tree(n::regclass) p
                UNION SELECT n::regclass FROM unnest($1::text[]) n
                {guarded})
          ORDER BY 3"
    );
    let rows: Vec<(String, i64, String)> = sqlx::query_as(crate::sql::audited(&sql))
        .bind(tables)
        .fetch_all(pool)
        .await
        .context(|| "reading the locks on the tenant tables".into())?;
    Ok(rows
        .into_iter()
        .map(|(vxid, relid, what)| (vxid, Holder { relid, what }))
        .collect())
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
pub(super) async fn lock_holders(pool: &PgPool, tables: &[String]) -> String {
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
