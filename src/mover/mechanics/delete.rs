//! Deletes one website's rows from a shard, children before parents, in bounded
//! batches. Cleanup uses it on the source after cutover; rollback on the target.

use sqlx::PgPool;

use crate::db::begin_bypassing_fence;
use crate::ids::WebsiteId;
use crate::mover::error::{Context, MoveError};
use crate::sql::{audited, ident};
use crate::tenancy::TenantTable;

/// `tables` in copy order (parents first); they are deleted in reverse.
pub async fn delete_website_rows(
    pool: &PgPool,
    tables: &[TenantTable],
    website: WebsiteId,
    batch_rows: u32,
) -> Result<u64, MoveError> {
    let mut deleted = 0;
    for table in tables.iter().rev() {
        let quoted = table.name.quoted();
        let mine = table.belongs("sm_t", "$1");
        let two_passes = table.links_later()
            && super::copy::two_passes(table, count(pool, table, website).await?, batch_rows);
        if two_passes {
            unlink(pool, table, website, batch_rows).await?;
        }
        // A self-referencing tree not cut first goes in one statement: its key
        // checks run at statement end, when the whole subtree is gone.
        let one_statement = table.self_referencing && !two_passes;
        let sql = if one_statement {
            format!("DELETE FROM {quoted} sm_t WHERE {mine}")
        } else {
            format!(
                "DELETE FROM {quoted} WHERE {}",
                table.rows_where("sm_t", &format!("FROM {quoted} sm_t WHERE {mine} LIMIT $2"))
            )
        };
        loop {
            let mut tx = begin_bypassing_fence(pool)
                .await
                .context(|| "opening a delete transaction".into())?;
            let query = sqlx::query(audited(&sql)).bind(website.get());
            let query = if one_statement {
                query
            } else {
                query.bind(i64::from(batch_rows))
            };
            let done = query
                .execute(&mut *tx)
                .await
                .context(|| format!("deleting website {website}'s rows from {}", table.name))?
                .rows_affected();
            tx.commit()
                .await
                .context(|| "committing a delete batch".into())?;
            deleted += done;
            if one_statement || done < u64::from(batch_rows) {
                break;
            }
        }
    }
    Ok(deleted)
}

/// Sets the website's self-references in `table` to NULL in bounded batches,
/// so its rows can then be deleted in batches in any order.
async fn unlink(
    pool: &PgPool,
    table: &TenantTable,
    website: WebsiteId,
    batch_rows: u32,
) -> Result<(), MoveError> {
    let quoted = table.name.quoted();
    let set = table
        .self_keys
        .iter()
        .map(|k| format!("{} = NULL", ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let linked = table
        .self_keys
        .iter()
        .map(|k| format!("{} IS NOT NULL", ident(k)))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!(
        "UPDATE {quoted} SET {set} WHERE {rows}",
        rows = table.rows_where(
            "sm_t",
            &format!(
                "FROM {quoted} sm_t WHERE {} AND ({linked}) LIMIT $2",
                table.belongs("sm_t", "$1")
            )
        ),
    );
    loop {
        let mut tx = begin_bypassing_fence(pool)
            .await
            .context(|| "opening an unlink transaction".into())?;
        let done = sqlx::query(audited(&sql))
            .bind(website.get())
            .bind(i64::from(batch_rows))
            .execute(&mut *tx)
            .await
            .context(|| format!("unlinking website {website}'s rows in {}", table.name))?
            .rows_affected();
        tx.commit()
            .await
            .context(|| "committing an unlink batch".into())?;
        if done < u64::from(batch_rows) {
            return Ok(());
        }
    }
}

async fn count(pool: &PgPool, table: &TenantTable, website: WebsiteId) -> Result<i64, MoveError> {
    let sql = format!(
        "SELECT count(*)::int8 FROM {} sm_t WHERE {}",
        table.name.quoted(),
        table.belongs("sm_t", "$1")
    );
    sqlx::query_scalar(audited(&sql))
        .bind(website.get())
        .fetch_one(pool)
        .await
        .context(|| format!("counting website {website}'s rows in {}", table.name))
}
