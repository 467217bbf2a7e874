//! A website's rows on each shard, counted over the shard's tenant tables (as
//! the move engine discovers them), every shard in parallel under the probe timeout.

use futures_util::future::join_all;
use sqlx::PgPool;

use super::{ShardOps, ShardOpsError};
use crate::ids::{ShardName, WebsiteId};
use crate::mover::{MoveError, catalog, preflight};

/// Rows of one website per tenant table, on one shard (tables with none left out).
pub(crate) async fn rows_on(
    pool: &PgPool,
    tenancy: &crate::config::TenancySettings,
    website: WebsiteId,
) -> Result<Vec<(String, i64)>, MoveError> {
    let tables = {
        let mut conn = pool.acquire().await.map_err(|source| MoveError::Database {
            context: "connecting to the shard".into(),
            source,
        })?;
        catalog::discover(&mut conn, tenancy).await?
    };
    let mut found = Vec::new();
    for table in &tables {
        let rows = preflight::count_rows(pool, table, &tenancy.key_column, website).await?;
        if rows > 0 {
            found.push((table.name.to_string(), rows));
        }
    }
    Ok(found)
}

impl ShardOps<'_> {
    /// The website's rows on every configured shard; an unreachable shard is an error,
    /// since "no rows anywhere" cannot be vouched for without it.
    pub(crate) async fn rows_everywhere(
        &self,
        website: WebsiteId,
    ) -> Result<Vec<(ShardName, Vec<(String, i64)>)>, ShardOpsError> {
        let timeout = self.settings().shard_ops.probe_timeout() * 2;
        let tenancy = &self.settings().tenancy;
        let names = self.configured();
        let counts = names.iter().map(|name| async move {
            let pool = self
                .mover
                .shards
                .get(name)
                .expect("configured shards have pools");
            let counted = rows_on(pool, tenancy, website);
            match tokio::time::timeout(timeout, counted).await {
                Ok(Ok(rows)) => Ok(rows),
                Ok(Err(e)) => Err(ShardOpsError::ShardUnreachable {
                    shard: name.to_string(),
                    message: e.one_line(),
                }),
                Err(_) => Err(ShardOpsError::ShardUnreachable {
                    shard: name.to_string(),
                    message: format!("no answer within {} ms", timeout.as_millis()),
                }),
            }
        });
        let results = join_all(counts).await;
        names
            .into_iter()
            .zip(results)
            .map(|(name, rows)| Ok((name, rows?)))
            .collect()
    }

    /// Refuses with `website_has_rows` if any shard holds rows of the website.
    pub(crate) async fn ensure_no_rows(&self, website: WebsiteId) -> Result<(), ShardOpsError> {
        for (shard, rows) in self.rows_everywhere(website).await? {
            if !rows.is_empty() {
                let detail = rows
                    .iter()
                    .map(|(table, n)| format!("{n} in {table}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ShardOpsError::HasRows {
                    website,
                    shard: shard.to_string(),
                    detail,
                });
            }
        }
        Ok(())
    }
}
