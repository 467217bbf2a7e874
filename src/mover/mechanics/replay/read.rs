//! Reading a batch of captured changes on the source: the change rows, and
//! for each changed key the row as it is now (one repeatable-read snapshot).

use std::collections::BTreeMap;

use sqlx::{PgConnection, PgPool};

use super::job::Replay;
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::verify::canonicalise;
use crate::sql::audited;
use crate::tenancy::TenantTable;

/// One table's part of a batch: rows that exist now (as JSON objects, read back
/// by column name whatever the target's column order) with their keys,
/// and keys whose rows are gone from the website.
#[derive(Debug, Default)]
pub(super) struct TableChanges {
    pub rows: Vec<String>,
    pub present: Vec<String>,
    pub gone: Vec<String>,
}

/// The batch's change ids and, per table (by plan index), the current rows.
pub(super) async fn read_batch(
    source: &PgPool,
    job: &Replay<'_>,
    limit: Option<i64>,
) -> Result<(Vec<i64>, BTreeMap<usize, TableChanges>), MoveError> {
    let reading = || "reading captured changes on the source".to_owned();
    let mut tx = source.begin().await.context(reading)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .context(reading)?;
    canonicalise(&mut tx).await?;
    let names: Vec<String> = job.plan.iter().map(|t| t.name.quoted()).collect();
    let logged: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT c.id, t.ord - 1, c.pk::text
           FROM shardmover.changes c
           JOIN (SELECT n::regclass::oid AS relid, ord
                   FROM unnest($2::text[]) WITH ORDINALITY u(n, ord)) t ON t.relid = c.relid
          WHERE c.website_id = $1
          ORDER BY c.id LIMIT $3",
    )
    .bind(job.website.get())
    .bind(&names)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await
    .context(reading)?;
    let ids = logged.iter().map(|(id, _, _)| *id).collect();
    let mut keys: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (_, index, pk) in logged {
        keys.entry(index as usize).or_default().push(pk);
    }
    let mut changes = BTreeMap::new();
    for (index, mut pks) in keys {
        pks.sort_unstable();
        pks.dedup();
        let table = &job.plan[index];
        changes.insert(index, current_rows(&mut tx, table, job, pks).await?);
    }
    tx.commit().await.context(reading)?;
    Ok((ids, changes))
}

async fn current_rows(
    tx: &mut PgConnection,
    table: &TenantTable,
    job: &Replay<'_>,
    pks: Vec<String>,
) -> Result<TableChanges, MoveError> {
    let sql = format!(
        // One primary-key lookup per key, whatever the planner's statistics say.
        "SELECT sm_k.pk, CASE WHEN r.w = $2 THEN r.row END
           FROM {keys}
           LEFT JOIN LATERAL (SELECT {key} AS w, row_to_json(sm_t)::text AS row
                                FROM {table} sm_t WHERE {equals} OFFSET 0) r ON true",
        key = table.website_of("sm_t"),
        keys = table.keys_from("$1"),
        table = table.name.quoted(),
        equals = table.same_key("sm_t", "sm_p"),
    );
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(audited(&sql))
        .bind(&pks)
        .bind(job.website.get())
        .fetch_all(&mut *tx)
        .await
        .context(|| format!("reading changed rows of {}", table.name))?;
    let mut changes = TableChanges::default();
    for (pk, row) in rows {
        match row {
            Some(row) => {
                changes.rows.push(row);
                changes.present.push(pk);
            }
            None => changes.gone.push(pk),
        }
    }
    Ok(changes)
}
