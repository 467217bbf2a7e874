//! Deletes one website's rows from a shard, children before parents, in bounded
//! batches. Cleanup uses it on the source after cutover; rollback on the target.

use sqlx::PgPool;

use super::error::{Context, MoveError};
use crate::db::begin_bypassing_fence;
use crate::ids::WebsiteId;
use crate::sql::{audited, ident};
use crate::tenancy::TenantTable;

/// `tables` in copy order (parents first); they are deleted in reverse.
pub async fn delete_website_rows(
    pool: &PgPool,
    tables: &[TenantTable],
    key_column: &str,
    website: WebsiteId,
    batch_rows: u32,
) -> Result<u64, MoveError> {
    let mut deleted = 0;
    for table in tables.iter().rev() {
        let key = ident(key_column);
        let quoted = table.name.quoted();
        // A self-referencing table goes in one statement: its key checks run at
        // statement end, when the whole subtree is gone.
        let sql = if table.self_referencing {
            format!("DELETE FROM {quoted} WHERE {key} = $1")
        } else {
            format!(
                "DELETE FROM {quoted} WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM {quoted} WHERE {key} = $1 LIMIT $2))"
            )
        };
        loop {
            let mut tx = begin_bypassing_fence(pool)
                .await
                .context(|| "opening a delete transaction".into())?;
            let query = sqlx::query(audited(&sql)).bind(website.get());
            let query = if table.self_referencing {
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
            if table.self_referencing || done < u64::from(batch_rows) {
                break;
            }
        }
    }
    Ok(deleted)
}
