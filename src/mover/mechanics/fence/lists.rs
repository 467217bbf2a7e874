//! The two website lists on a shard, `fenced_websites` and `captured_websites`,
//! and the catalogue facts the triggers are compiled from.

use sqlx::PgConnection;

use super::sql::Lists;
use crate::ids::{MoveId, WebsiteId};

pub(super) enum Change {
    Raise(WebsiteId, MoveId),
    Lift(WebsiteId, Option<MoveId>),
    Capture(WebsiteId, MoveId),
    Release(WebsiteId, Option<MoveId>),
}

/// Writes the change to its list; false when there was nothing to lift or release.
pub(super) async fn record(tx: &mut PgConnection, what: &Change) -> Result<bool, sqlx::Error> {
    Ok(match what {
        Change::Raise(website, migration) => {
            add(tx, "fenced_websites", *website, *migration).await?;
            true
        }
        Change::Capture(website, migration) => {
            // Changes an earlier move of the website left behind mean nothing now.
            sqlx::query("DELETE FROM shardmover.changes WHERE website_id = $1")
                .bind(website.get())
                .execute(&mut *tx)
                .await?;
            add(tx, "captured_websites", *website, *migration).await?;
            true
        }
        Change::Lift(website, only_for) => {
            remove(tx, "fenced_websites", *website, *only_for).await?
        }
        Change::Release(website, only_for) => {
            let released = remove(tx, "captured_websites", *website, *only_for).await?;
            if released {
                sqlx::query("DELETE FROM shardmover.changes WHERE website_id = $1")
                    .bind(website.get())
                    .execute(&mut *tx)
                    .await?;
            }
            released
        }
    })
}

/// `list` is one of our two fixed table names, never input.
async fn add(
    tx: &mut PgConnection,
    list: &'static str,
    website: WebsiteId,
    migration: MoveId,
) -> Result<(), sqlx::Error> {
    sqlx::query(crate::sql::audited(&format!(
        "INSERT INTO shardmover.{list} (website_id, migration_id) VALUES ($1, $2)
         ON CONFLICT (website_id) DO UPDATE
            SET migration_id = EXCLUDED.migration_id, updated_at = now()"
    )))
    .bind(website.get())
    .bind(migration.get())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn remove(
    tx: &mut PgConnection,
    list: &'static str,
    website: WebsiteId,
    only_for: Option<MoveId>,
) -> Result<bool, sqlx::Error> {
    if !exists(tx, list).await? {
        return Ok(false);
    }
    let removed = sqlx::query(crate::sql::audited(&format!(
        "DELETE FROM shardmover.{list}
          WHERE website_id = $1 AND ($2::int8 IS NULL OR migration_id = $2)"
    )))
    .bind(website.get())
    .bind(only_for.map(|m| m.get()))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(removed > 0)
}

/// Both lists as they are now, in the caller's transaction. A shard last
/// touched by a release without capture has no `captured_websites` yet.
pub(super) async fn current(tx: &mut PgConnection) -> Result<Lists, sqlx::Error> {
    let fenced = list(tx, "fenced_websites").await?;
    let captured = list(tx, "captured_websites").await?;
    Ok(Lists { fenced, captured })
}

async fn list(tx: &mut PgConnection, list: &'static str) -> Result<Vec<i64>, sqlx::Error> {
    if !exists(tx, list).await? {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(crate::sql::audited(&format!(
        "SELECT coalesce(array_agg(website_id ORDER BY website_id), '{{}}') FROM shardmover.{list}"
    )))
    .fetch_one(&mut *tx)
    .await
}

/// The table's oid (its guard function is named after it) and its
/// primary-key columns, in key order.
pub(super) async fn oid_and_primary_key(
    tx: &mut PgConnection,
    table: &str,
) -> Result<(u32, Vec<String>), sqlx::Error> {
    let (oid, key): (sqlx::postgres::types::Oid, Vec<String>) = sqlx::query_as(
        "SELECT $1::regclass::oid,
                (SELECT coalesce(array_agg(a.attname::text ORDER BY k.ord), '{}')
                   FROM pg_index i
                  CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = $1::regclass AND i.indisprimary)",
    )
    .bind(table)
    .fetch_one(&mut *tx)
    .await?;
    Ok((oid.0, key))
}

async fn exists(tx: &mut PgConnection, list: &'static str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("shardmover.{list}"))
        .fetch_one(&mut *tx)
        .await
}

/// Whether a lift or release has anything to undo, read without any lock: a
/// fence never raised (or already lifted) needs neither the DDL lock nor the
/// tables' locks, so undoing nothing never waits behind anyone.
pub(super) async fn undoes_something(
    conn: &mut PgConnection,
    what: &Change,
) -> Result<bool, sqlx::Error> {
    let (list, website, only_for) = match what {
        Change::Lift(website, only_for) => ("fenced_websites", website, only_for),
        Change::Release(website, only_for) => ("captured_websites", website, only_for),
        Change::Raise(..) | Change::Capture(..) => return Ok(true),
    };
    if !exists(conn, list).await? {
        return Ok(false);
    }
    sqlx::query_scalar(crate::sql::audited(&format!(
        "SELECT EXISTS (SELECT 1 FROM shardmover.{list}
                         WHERE website_id = $1 AND ($2::int8 IS NULL OR migration_id = $2))"
    )))
    .bind(website.get())
    .bind(only_for.map(|m| m.get()))
    .fetch_one(conn)
    .await
}
