//! Catch-up's unit of work: a batch of captured changes replayed onto the
//! target. For each changed key the source row as it is *now* is read (not the
//! change itself), so replaying is idempotent: a batch applied twice, or an old
//! change applied after a newer one, ends the same. A batch's writes and the
//! keys it touched commit together on the target; only then are its change rows
//! deleted from the source, so a crash in between replays them once more, harmlessly.

mod job;
mod read;

use std::collections::BTreeMap;

use sqlx::{PgConnection, PgPool};

use crate::db::bypass_fence;

use super::sequences;
use super::verify::canonicalise;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident};
use crate::tenancy::TenantTable;
pub use job::Replay;
use read::{TableChanges, read_batch};

/// Larger batches tried after a foreign-key violation before the whole log.
const WIDENINGS: u32 = 3;

/// Replays up to `limit` captured changes (all of them with `None`); returns
/// how many change rows it consumed.
pub async fn replay_batch(
    source: &PgPool,
    target: &PgPool,
    job: &Replay<'_>,
    limit: Option<i64>,
) -> Result<u64, MoveError> {
    let mut limit = limit;
    let mut widened = 0;
    loop {
        match replay_once(source, target, job, limit).await {
            // A row's current state may reference a parent whose own change
            // sits later in the log. A wider batch usually holds it (memory
            // follows the batch); the whole log, read from one snapshot, always does.
            Err(e) if limit.is_some() && is_foreign_key_violation(&e) => {
                widened += 1;
                limit = limit
                    .filter(|_| widened <= WIDENINGS)
                    .map(|n| n.saturating_mul(4));
            }
            other => return other,
        }
    }
}

async fn replay_once(
    source: &PgPool,
    target: &PgPool,
    job: &Replay<'_>,
    limit: Option<i64>,
) -> Result<u64, MoveError> {
    let (ids, changes) = read_batch(source, job, limit).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    apply(target, job, &changes).await?;
    sqlx::query("DELETE FROM shardmover.changes WHERE id = ANY($1)")
        .bind(&ids)
        .execute(source)
        .await
        .context(|| "forgetting replayed changes on the source".into())?;
    Ok(ids.len() as u64)
}

fn is_foreign_key_violation(error: &MoveError) -> bool {
    matches!(error, MoveError::Database { source: sqlx::Error::Database(db), .. }
        if db.code().as_deref() == Some("23503"))
}

/// Writes one batch on the target: upserts parents first (advancing their
/// sequences past the rows written), deletes children first, and records every
/// key touched, in one transaction.
async fn apply(
    target: &PgPool,
    job: &Replay<'_>,
    changes: &BTreeMap<usize, TableChanges>,
) -> Result<(), MoveError> {
    let writing = || "replaying changes on the target".to_owned();
    let mut tx = target.begin().await.context(writing)?;
    bypass_fence(&mut tx).await.context(writing)?;
    super::owner_token::check(&mut tx, job.migration, job.attempt).await?;
    canonicalise(&mut tx).await?;
    for (index, change) in changes {
        if !change.rows.is_empty() {
            let table = &job.plan[*index];
            upsert(&mut tx, table, job, change).await?;
            sequences::advance_past_rows(&mut tx, table, &job.sequences[*index], &change.rows)
                .await?;
        }
    }
    for (index, change) in changes.iter().rev() {
        let table = &job.plan[*index];
        if !change.gone.is_empty() {
            delete(&mut tx, table, job, &change.gone).await?;
        }
        let touched: Vec<&String> = change.present.iter().chain(&change.gone).collect();
        sqlx::query(
            "INSERT INTO shardmover.touched_rows (migration_id, table_name, pk)
             SELECT $1, $2, k::jsonb FROM unnest($3::text[]) k ON CONFLICT DO NOTHING",
        )
        .bind(job.migration.get())
        .bind(table.name.to_string())
        .bind(touched)
        .execute(&mut *tx)
        .await
        .context(writing)?;
    }
    tx.commit().await.context(writing)
}

/// Inserts or updates the rows; a key held on the target by another website
/// (its own tenants wrote it meanwhile) is a collision that fails the move.
/// Rows are read back by column name; identity columns keep the source's
/// values (`OVERRIDING SYSTEM VALUE`), and one `GENERATED ALWAYS` is never
/// updated (Postgres refuses; the key it is part of matched anyway).
async fn upsert(
    tx: &mut PgConnection,
    table: &TenantTable,
    job: &Replay<'_>,
    change: &TableChanges,
) -> Result<(), MoveError> {
    let columns = table.copy_columns();
    let updatable: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| !c.generated && !c.identity_always)
        .map(|c| c.name.as_str())
        .collect();
    let set = if updatable.is_empty() {
        "NOTHING".to_owned()
    } else {
        format!(
            "UPDATE SET {} WHERE {}",
            updatable
                .iter()
                .map(|c| format!("{0} = EXCLUDED.{0}", ident(c)))
                .collect::<Vec<_>>()
                .join(", "),
            table.belongs("sm_t", "$2")
        )
    };
    let sql = format!(
        "INSERT INTO {table} AS sm_t ({cols}) OVERRIDING SYSTEM VALUE
         SELECT {fields} FROM (SELECT json_populate_record(NULL::{table}, sm_r::json) AS sm_x
                                 FROM unnest($1::text[]) sm_r) sm_s
         ON CONFLICT ({pk}) DO {set}",
        table = table.name.quoted(),
        cols = table.copy_column_list(),
        fields = columns
            .iter()
            .map(|c| format!("(sm_s.sm_x).{}", ident(c)))
            .collect::<Vec<_>>()
            .join(", "),
        pk = table.primary_key_list(),
    );
    let written = sqlx::query(audited(&sql))
        .bind(&change.rows)
        .bind(job.website.get())
        .execute(&mut *tx)
        .await
        .context(|| format!("replaying rows of {} on the target", table.name))?
        .rows_affected();
    if written == change.rows.len() as u64 {
        return Ok(());
    }
    let sample = sqlx::query_scalar(audited(&format!(
        "SELECT sm_k.pk FROM {keys} JOIN {table} sm_t ON {equals} WHERE NOT ({mine}) LIMIT 1",
        keys = table.keys_from("$1"),
        table = table.name.quoted(),
        equals = table.same_key("sm_t", "sm_p"),
        mine = table.belongs("sm_t", "$2"),
    )))
    .bind(&change.present)
    .bind(job.website.get())
    .fetch_optional(&mut *tx)
    .await
    .context(|| format!("naming the colliding key in {}", table.name))?;
    Err(MoveError::KeyCollision {
        table: table.name.to_string(),
        website: job.website,
        count: change.rows.len() as i64 - written as i64,
        sample: sample.unwrap_or_else(|| "unknown".into()),
    })
}

async fn delete(
    tx: &mut PgConnection,
    table: &TenantTable,
    job: &Replay<'_>,
    gone: &[String],
) -> Result<(), MoveError> {
    // A row reached through parents whose parent is already gone (deleted
    // first, its cascade not run here) is nobody's: it goes too.
    let whose = match table.owner.own_column() {
        Some(_) => "r.w = $2",
        None => "(r.w = $2 OR r.w IS NULL)",
    };
    let found = format!(
        "FROM {keys}
         CROSS JOIN LATERAL (SELECT sm_t.tableoid, sm_t.ctid, {key} AS w FROM {table} sm_t
                              WHERE {equals} OFFSET 0) r
         WHERE {whose}",
        keys = table.keys_from("$1"),
        equals = table.same_key("sm_t", "sm_p"),
        key = table.website_of("sm_t"),
        table = table.name.quoted(),
    );
    let sql = format!(
        "DELETE FROM {} WHERE {}",
        table.name.quoted(),
        table.rows_where("r", &found)
    );
    sqlx::query(audited(&sql))
        .bind(gone)
        .bind(job.website.get())
        .execute(&mut *tx)
        .await
        .context(|| format!("replaying deletes in {} on the target", table.name))?;
    Ok(())
}
