//! Verification of an online move, in two parts whose cost inside the freeze
//! follows the changes, not the tenant. Every key catch-up wrote is in the
//! target's `touched_rows`, and every key changed since is still in the source's
//! change log; any other row of the website has not changed on either side since
//! the copy (or its last replay). So:
//! - `bulk`, before the freeze: both sides' fingerprints over every row *except*
//!   those keys, while the application still writes;
//! - `touched`, inside the freeze (writes refused, log drained): those keys
//!   compared one by one, so a mismatch names its key.

use std::collections::BTreeMap;

use sqlx::{Acquire, PgConnection, PgPool, Row};

use super::{Fingerprint, RowHash, Sides, canonicalise, lacks_hash_function, locate, row_hash};
use crate::domain::MoveRecord;
use crate::ids::{MoveId, WebsiteId};
use crate::mover::error::{Context, MoveError};
use crate::sql::audited;
use crate::tenancy::TenantTable;

pub struct Scope<'a> {
    pub table: &'a TenantTable,
    pub website: WebsiteId,
    pub migration: MoveId,
    /// Rows per chunk when a mismatch is located.
    pub chunk_rows: u32,
}

impl<'a> Scope<'a> {
    pub fn of(table: &'a TenantTable, record: &MoveRecord) -> Self {
        Self {
            table,
            website: record.website,
            migration: record.id,
            chunk_rows: record.batch_rows,
        }
    }
}

/// Fingerprints of the rows no change touched, on both sides; they must match.
pub async fn bulk(
    source: &PgPool,
    target: &PgPool,
    scope: &Scope<'_>,
) -> Result<(Fingerprint, Fingerprint), MoveError> {
    let mut hash = RowHash::Typed;
    loop {
        match bulk_with(source, target, scope, hash).await {
            Err(e) if hash == RowHash::Typed && lacks_hash_function(&e) => hash = RowHash::Text,
            Err(e) => return Err(e),
            Ok((src, dst, _)) if src == dst => return Ok((src, dst)),
            Ok((src, dst, excluded)) => {
                let sides = Sides {
                    source,
                    target,
                    table: scope.table,
                    website: scope.website,
                    hash,
                };
                let located = locate(&sides, scope.chunk_rows, &src, &dst, &excluded).await?;
                return Err(MoveError::ChecksumMismatch {
                    table: scope.table.name.to_string(),
                    detail: format!("among rows no change touched: {located}"),
                });
            }
        }
    }
}

async fn bulk_with(
    source: &PgPool,
    target: &PgPool,
    scope: &Scope<'_>,
    hash: RowHash,
) -> Result<(Fingerprint, Fingerprint, Vec<String>), MoveError> {
    let table = scope.table;
    let mut excluded = touched_keys(target, scope).await?;
    // Both sides are read at once (below), on connections taken together.
    let (mut src_conn, mut dst_conn) = crate::shard_pools::acquire_both(source, target)
        .await
        .context(|| "connecting to both shards".into())?;
    let mut src_tx = src_conn
        .begin()
        .await
        .context(|| "connecting to the source shard".into())?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *src_tx)
        .await
        .context(|| "opening a verification snapshot".into())?;
    canonicalise(&mut src_tx).await?;
    let logged: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT pk::text FROM shardmover.changes
          WHERE website_id = $1 AND relid = $2::regclass",
    )
    .bind(scope.website.get())
    .bind(table.name.quoted())
    .fetch_all(&mut *src_tx)
    .await
    .context(|| "reading the change log".into())?;
    excluded.extend(logged);
    excluded.sort_unstable();
    excluded.dedup();
    let sql = format!(
        "SELECT count(*)::int8 AS n, coalesce(sum({hash}), 0)::text AS sum
           FROM {table} sm_t
          WHERE {mine} AND {not_excluded}",
        table = table.name.quoted(),
        hash = row_hash(table, hash),
        mine = table.belongs("sm_t", "$1"),
        not_excluded = table.key_not_in("sm_t", "$2"),
    );
    // Both sides at once: nothing writes the target while catch-up verifies,
    // so when its scan runs changes nothing, and the bulk check costs one
    // tenant scan of wall time instead of two.
    let target_side = async {
        let mut dst_tx = dst_conn
            .begin()
            .await
            .context(|| "connecting to the target shard".into())?;
        canonicalise(&mut dst_tx).await?;
        fingerprint(&mut dst_tx, &sql, scope.website, &excluded).await
    };
    let (src, dst) = tokio::try_join!(
        fingerprint(&mut src_tx, &sql, scope.website, &excluded),
        target_side
    )?;
    Ok((src, dst, excluded))
}

async fn fingerprint(
    conn: &mut PgConnection,
    sql: &str,
    website: WebsiteId,
    excluded: &[String],
) -> Result<Fingerprint, MoveError> {
    let row = sqlx::query(audited(sql))
        .bind(website.get())
        .bind(excluded)
        .fetch_one(&mut *conn)
        .await
        .context(|| "checksumming untouched rows".into())?;
    Ok(Fingerprint {
        rows: row.get("n"),
        checksum: row.get("sum"),
    })
}

/// Keys catch-up wrote for this table on the target.
async fn touched_keys(target: &PgPool, scope: &Scope<'_>) -> Result<Vec<String>, MoveError> {
    sqlx::query_scalar(
        "SELECT pk::text FROM shardmover.touched_rows WHERE migration_id = $1 AND table_name = $2",
    )
    .bind(scope.migration.get())
    .bind(scope.table.name.to_string())
    .fetch_all(target)
    .await
    .context(|| "reading the keys catch-up touched".into())
}

/// Inside the freeze: every touched key's row, hashed on both sides, must agree
/// (present on both with the same hash, or absent from the website on both).
/// Returns how many keys were compared.
pub async fn touched(
    source: &PgPool,
    target: &PgPool,
    scope: &Scope<'_>,
) -> Result<u64, MoveError> {
    let keys = touched_keys(target, scope).await?;
    let (src, dst) = hashes_of(source, target, scope, &keys).await?;
    if let Some(key) = keys.iter().find(|k| src.get(*k) != dst.get(*k)) {
        let state = |side: &BTreeMap<String, String>| {
            if side.contains_key(key) {
                "present"
            } else {
                "absent"
            }
        };
        return Err(MoveError::ChecksumMismatch {
            table: scope.table.name.to_string(),
            detail: format!(
                "key {key} changed during the move and differs (source: {}, target: {})",
                state(&src),
                state(&dst)
            ),
        });
    }
    Ok(keys.len() as u64)
}

/// Before the freeze, while writes go on: touched keys whose rows already agree
/// are verified now and forgotten, so the freeze verifies only what changed
/// since (a key changed again is replayed, and so touched, again). A key that
/// differs stays: its newer change is still waiting in the log. Returns the
/// keys still to verify.
pub async fn prune(source: &PgPool, target: &PgPool, scope: &Scope<'_>) -> Result<u64, MoveError> {
    let keys = touched_keys(target, scope).await?;
    let (src, dst) = hashes_of(source, target, scope, &keys).await?;
    let (agree, differ): (Vec<String>, Vec<String>) =
        keys.into_iter().partition(|k| src.get(k) == dst.get(k));
    // A join, not `pk = ANY($3)`: under a generic plan that is a filter
    // scanning the whole array for every row, quadratic in the keys — minutes
    // at 14,000 keys, while the writes it waits on add more.
    sqlx::query(
        "DELETE FROM shardmover.touched_rows t
          USING unnest($3::text[]) AS k(pk)
          WHERE t.migration_id = $1 AND t.table_name = $2 AND t.pk = k.pk::jsonb",
    )
    .bind(scope.migration.get())
    .bind(scope.table.name.to_string())
    .bind(&agree)
    .execute(target)
    .await
    .context(|| "forgetting verified keys".into())?;
    Ok(differ.len() as u64)
}

/// Both sides' row hashes of `keys`.
async fn hashes_of(
    source: &PgPool,
    target: &PgPool,
    scope: &Scope<'_>,
    keys: &[String],
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>), MoveError> {
    if keys.is_empty() {
        return Ok(Default::default());
    }
    let mut hash = RowHash::Typed;
    loop {
        let both = tokio::try_join!(
            row_hashes(source, scope, keys, hash),
            row_hashes(target, scope, keys, hash)
        );
        match both {
            Err(e) if hash == RowHash::Typed && lacks_hash_function(&e) => hash = RowHash::Text,
            other => return other,
        }
    }
}

/// Keys still to verify in the freeze, over every table.
pub async fn pending(target: &PgPool, migration: MoveId) -> Result<i64, MoveError> {
    sqlx::query_scalar("SELECT count(*)::int8 FROM shardmover.touched_rows WHERE migration_id = $1")
        .bind(migration.get())
        .fetch_one(target)
        .await
        .context(|| "counting the keys still to verify".into())
}

/// key → row hash of the website's rows among `keys`.
async fn row_hashes(
    pool: &PgPool,
    scope: &Scope<'_>,
    keys: &[String],
    hash: RowHash,
) -> Result<BTreeMap<String, String>, MoveError> {
    let table = scope.table;
    let sql = format!(
        // Driven by the keys, one primary-key lookup each: the cost follows
        // the changes, not the tenant.
        // (OFFSET 0 keeps the planner from turning it into a join led by the
        // website's key column, whose statistics are stale right after a copy.)
        "SELECT r.k, r.h FROM {keys}
           CROSS JOIN LATERAL (SELECT {object}::text AS k, ({hash})::text AS h, {key} AS w
                                 FROM {table} sm_t WHERE {same} OFFSET 0) r
          WHERE r.w = $1",
        keys = table.keys_from("$2"),
        object = table.key_object("sm_t."),
        hash = row_hash(table, hash),
        table = table.name.quoted(),
        key = table.website_of("sm_t"),
        same = table.same_key("sm_t", "sm_p"),
    );
    let mut tx = pool
        .begin()
        .await
        .context(|| "connecting for the freeze's verification".into())?;
    canonicalise(&mut tx).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(audited(&sql))
        .bind(scope.website.get())
        .bind(keys)
        .fetch_all(&mut *tx)
        .await
        .context(|| format!("verifying changed rows of {}", table.name))?;
    Ok(rows.into_iter().collect())
}
