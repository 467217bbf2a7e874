//! Preflight's primary-key collision check. The website's keys are streamed from
//! the source into a temporary table on the target (binary COPY, constant
//! memory) and joined there, so no key set is ever held by shardmover.

use futures_util::StreamExt;
use sqlx::{Acquire, PgPool, Row};

use super::error::{Context, MoveError};
use crate::ids::WebsiteId;
use crate::sql::audited;
use crate::tenancy::TenantTable;

const SAMPLE: i64 = 5;

/// Fails with `KeyCollision` if any of the website's keys exists on the target.
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
    if !target_has_rows {
        return Ok(()); // the common case: nothing there to collide with
    }
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
                "COPY (SELECT {pk} FROM {quoted} sm_t WHERE {}) TO STDOUT (FORMAT binary)",
                table.belongs("sm_t", &crate::sql::literal_i64(website.get()))
            ))
            .await
            .context(|| format!("reading the keys of {}", table.name))?;
        let mut sink = tx
            .copy_in_raw("COPY pg_temp.shardmover_keys FROM STDIN (FORMAT binary)")
            .await
            .context(|| "loading keys into the target".into())?;
        while let Some(bytes) = keys.next().await {
            sink.send(bytes.context(|| "reading keys".into())?)
                .await
                .context(|| "loading keys".into())?;
        }
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
