//! Preflight's primary-key collision check. Every real target already holds
//! other websites, so the check must not cost what the tenant weighs when the
//! keys cannot collide: for a key led by an integer column (sequence-allocated
//! ids, the tenant key itself) it first reads the website's range of that
//! column and probes the target's key index for keys in that range. Only when
//! the target holds keys inside the range are the website's keys in the
//! overlap streamed from the source into a temporary table on the target
//! (binary COPY, constant memory) and joined there, so no key set is ever held
//! by shardmover. The copy's own unique index still refuses whatever arrives
//! on the target after this check.

use bytes::BytesMut;
use futures_util::StreamExt;
use sqlx::{Acquire, PgPool, Row};

use super::copy::format::SEND_BYTES;
use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident};
use crate::tenancy::TenantTable;

const SAMPLE: i64 = 5;

/// Key columns whose order is the integer order under every operator class, so
/// a range read on one database means the same range on the other.
const INTEGER_TYPES: [&str; 3] = ["smallint", "integer", "bigint"];

/// Fails with `KeyCollision` if any of the website's keys exists on the target.
/// Runs after `check_target_is_clear`, which it relies on (see `cannot_collide`).
pub async fn check(
    source: &PgPool,
    target: &PgPool,
    table: &TenantTable,
    website: WebsiteId,
) -> Result<(), MoveError> {
    let quoted = table.name.quoted();
    let target_has_rows: bool =
        sqlx::query_scalar(audited(&format!("SELECT EXISTS (SELECT 1 FROM {quoted})")))
            .fetch_one(target)
            .await
            .context(|| format!("looking at {} on the target", table.name))?;
    if !target_has_rows || cannot_collide(table) {
        return Ok(()); // the common cases: nothing there, or nothing it could match
    }
    let overlap = match leading_integer(table) {
        Some(column) => match overlap(source, target, table, &column, website).await? {
            Some(range) => Some((column, range)),
            None => return Ok(()), // no target key inside the website's range
        },
        None => None,
    };
    let filter = match &overlap {
        Some((column, (low, high))) => format!(" AND sm_t.{column} BETWEEN {low} AND {high}"),
        None => String::new(),
    };
    exact(source, target, table, website, &filter).await
}

/// A key that holds the table's own tenant column can only equal a key of a
/// row of the same website, and preflight refuses a target holding any row of
/// the website before this check runs.
fn cannot_collide(table: &TenantTable) -> bool {
    table
        .owner
        .own_column()
        .is_some_and(|column| table.primary_key.iter().any(|k| k == column))
}

/// The quoted leading key column, when its type is an integer one.
fn leading_integer(table: &TenantTable) -> Option<String> {
    let first = table.primary_key.first()?;
    let column = table.columns.iter().find(|c| &c.name == first)?;
    INTEGER_TYPES
        .contains(&column.data_type.as_str())
        .then(|| ident(first))
}

/// The target's keys' leading values that fall inside the website's range on
/// the source, as (lowest, highest); `None` when there are none. Two equal
/// keys have equal leading values, so every collision lies in this range and
/// none is possible without it. The target's side is two probes of the key's
/// index (its first and last entry in the range), whatever the target holds;
/// the source's reads the website's rows by its key column.
async fn overlap(
    source: &PgPool,
    target: &PgPool,
    table: &TenantTable,
    column: &str,
    website: WebsiteId,
) -> Result<Option<(i64, i64)>, MoveError> {
    let quoted = table.name.quoted();
    let range = |value: &str, from_where: String| {
        format!("SELECT min({value})::int8, max({value})::int8 FROM {quoted} sm_t {from_where}")
    };
    // On the source, `+ 0` keeps the planner from reading the key's index in
    // order until it meets one of the website's rows (through every other
    // website's, or a deleted tenant's dead rows): the website's own rows,
    // found by its key column, are aggregated instead.
    let (low, high): (Option<i64>, Option<i64>) = sqlx::query_as(audited(&range(
        &format!("sm_t.{column} + 0"),
        format!("WHERE {}", table.belongs("sm_t", "$1")),
    )))
    .bind(website.get())
    .fetch_one(source)
    .await
    .context(|| format!("reading the key range of {}", table.name))?;
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(None); // the website has no rows here
    };
    let (low, high): (Option<i64>, Option<i64>) = sqlx::query_as(audited(&range(
        &format!("sm_t.{column}"),
        format!("WHERE sm_t.{column} BETWEEN $1 AND $2"),
    )))
    .bind(low)
    .bind(high)
    .fetch_one(target)
    .await
    .context(|| format!("probing {} on the target for keys in range", table.name))?;
    Ok(low.zip(high))
}

/// The exact check: the website's keys (those matching `filter`, an `AND …`
/// over alias `sm_t`) streamed into the target and joined with its keys.
async fn exact(
    source: &PgPool,
    target: &PgPool,
    table: &TenantTable,
    website: WebsiteId,
    filter: &str,
) -> Result<(), MoveError> {
    let quoted = table.name.quoted();
    let pk = table.primary_key_list();
    let (mut source_conn, mut target_conn) = crate::shard_pools::acquire_both(source, target)
        .await
        .context(|| "connecting to both shards".into())?;
    let mut tx = target_conn
        .begin()
        .await
        .context(|| "opening a target transaction".into())?;
    sqlx::query(audited(&format!(
        "CREATE TEMP TABLE shardmover_keys ON COMMIT DROP AS SELECT {pk} FROM {quoted} WITH NO DATA"
    )))
    .execute(&mut *tx)
    .await
    .context(|| "creating a temporary key table".into())?;
    {
        let mut keys = source_conn
            .copy_out_raw(&format!(
                "COPY (SELECT {pk} FROM {quoted} sm_t WHERE {}{filter}) TO STDOUT (FORMAT binary)",
                table.belongs("sm_t", &crate::sql::literal_i64(website.get()))
            ))
            .await
            .context(|| format!("reading the keys of {}", table.name))?;
        let mut sink = tx
            .copy_in_raw("COPY pg_temp.shardmover_keys FROM STDIN (FORMAT binary)")
            .await
            .context(|| "loading keys into the target".into())?;
        // One write per SEND_BYTES, not per key (see `copy_format::framed`).
        let mut buf = BytesMut::with_capacity(SEND_BYTES);
        while let Some(bytes) = keys.next().await {
            buf.extend_from_slice(&bytes.context(|| "reading keys".into())?);
            if buf.len() >= SEND_BYTES {
                sink.send(buf.split())
                    .await
                    .context(|| "loading keys".into())?;
            }
        }
        sink.send(buf).await.context(|| "loading keys".into())?;
        sink.finish().await.context(|| "loading keys".into())?;
    }
    let row = sqlx::query(audited(&format!(
        "SELECT count(*)::int8 AS n,
                (SELECT string_agg(k, ', ') FROM (SELECT ROW({pk})::text AS k FROM pg_temp.shardmover_keys
                    JOIN {quoted} USING ({pk}) LIMIT {SAMPLE}) s) AS sample
           FROM pg_temp.shardmover_keys JOIN {quoted} USING ({pk})"
    )))
    .fetch_one(&mut *tx)
    .await
    .context(|| format!("checking {} for key collisions", table.name))?;
    tx.rollback()
        .await
        .context(|| "closing the key check".into())?;
    let count: i64 = row.get("n");
    if count > 0 {
        return Err(MoveError::KeyCollision {
            table: table.name.to_string(),
            website,
            count,
            sample: row.get::<Option<String>, _>("sample").unwrap_or_default(),
        });
    }
    Ok(())
}

/// A key taken on the target after preflight looked (a website there wrote
/// it since) is refused by the copy's own unique index: named like the ones
/// preflight finds, with the first the copy met (it stops there).
pub(crate) fn taken_during_copy(
    error: MoveError,
    table: &TenantTable,
    website: WebsiteId,
) -> MoveError {
    let MoveError::Database {
        source: sqlx::Error::Database(db),
        ..
    } = &error
    else {
        return error;
    };
    if db.code().as_deref() != Some("23505") {
        return error;
    }
    let detail = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .and_then(|pg| pg.detail())
        .unwrap_or_default();
    // "Key (id)=(700000005) already exists."
    let key = detail
        .strip_prefix("Key ")
        .and_then(|rest| rest.strip_suffix(" already exists."))
        .unwrap_or(detail);
    MoveError::KeyCollision {
        table: table.name.to_string(),
        website,
        count: 1,
        sample: key.to_owned(),
    }
}
