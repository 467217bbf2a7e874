//! Websites' rows on each shard, counted over the shard's tenant tables (as
//! the move engine discovers them), every shard in parallel under the probe timeout.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use futures_util::future::join_all;
use sqlx::PgPool;

use super::{ShardOps, ShardOpsError};
use crate::ids::{ShardName, WebsiteId};
use crate::sql::audited;
use crate::tenancy::{self, TenancyError};

/// One website's rows per tenant table, on one shard (tables with none left out).
pub(crate) async fn rows_on(
    pool: &PgPool,
    tenancy: &crate::config::TenancySettings,
    website: WebsiteId,
) -> Result<Vec<(String, i64)>, TenancyError> {
    let mut found = rows_of_many_on(pool, tenancy, &[website]).await?;
    Ok(found.remove(&website).unwrap_or_default())
}

/// Rows per tenant table of each of `websites` on one shard, one query per
/// table however many websites are asked about (a bulk preview asks about many).
pub(crate) async fn rows_of_many_on(
    pool: &PgPool,
    tenancy: &crate::config::TenancySettings,
    websites: &[WebsiteId],
) -> Result<HashMap<WebsiteId, Vec<(String, i64)>>, TenancyError> {
    let counted = counted_on(pool, tenancy, websites).await?;
    Ok(counted
        .into_iter()
        .map(|(website, tables)| {
            let rows = tables.into_iter().map(|(t, rows, _)| (t, rows)).collect();
            (website, rows)
        })
        .collect())
}

/// Rows and bytes (the rows as stored, `pg_column_size`; indexes left out) of
/// each of `websites` on one shard, summed over its tenant tables.
pub(crate) async fn sizes_on(
    pool: &PgPool,
    tenancy: &crate::config::TenancySettings,
    websites: &[WebsiteId],
) -> Result<HashMap<WebsiteId, (i64, i64)>, TenancyError> {
    let counted = counted_on(pool, tenancy, websites).await?;
    Ok(counted
        .into_iter()
        .map(|(website, tables)| {
            let rows = tables.iter().map(|t| t.1).sum();
            let bytes = tables.iter().map(|t| t.2).sum();
            (website, (rows, bytes))
        })
        .collect())
}

/// Per website, per tenant table: (table, rows, bytes).
type Counted = HashMap<WebsiteId, Vec<(String, i64, i64)>>;

async fn counted_on(
    pool: &PgPool,
    tenancy: &crate::config::TenancySettings,
    websites: &[WebsiteId],
) -> Result<Counted, TenancyError> {
    let tables = {
        let mut conn = pool
            .acquire()
            .await
            .map_err(TenancyError::database(|| "connecting to the shard".into()))?;
        tenancy::discover(&mut conn, tenancy).await?
    };
    let ids: Vec<i64> = websites.iter().map(|w| w.get()).collect();
    let mut found = Counted::new();
    for table in &tables {
        let sql = format!(
            "SELECT {key}::int8, count(*)::int8, sum(pg_column_size(sm_t.*))::int8
               FROM {table} sm_t WHERE {mine} GROUP BY 1",
            key = table.website_of("sm_t"),
            mine = table.belongs("sm_t", "ANY($1)"),
            table = table.name.quoted(),
        );
        // One row per website, folded as it arrives rather than collected first.
        let mut counts = sqlx::query_as::<_, (i64, i64, i64)>(audited(&sql))
            .bind(&ids)
            .fetch(pool);
        let failed = || TenancyError::database(|| format!("counting rows of {}", table.name));
        while let Some((id, rows, bytes)) = counts.try_next().await.map_err(failed())? {
            if let Ok(website) = WebsiteId::new(id) {
                found
                    .entry(website)
                    .or_default()
                    .push((table.name.to_string(), rows, bytes));
            }
        }
    }
    Ok(found)
}

/// Each website's rows on each shard where it has any.
pub(crate) type RowsEverywhere = HashMap<WebsiteId, Vec<(ShardName, Vec<(String, i64)>)>>;

impl ShardOps<'_> {
    /// The websites' rows on every configured shard, every shard in parallel; an
    /// unreachable shard is an error, since "no rows anywhere" cannot be vouched for without it.
    pub(crate) async fn rows_everywhere(
        &self,
        websites: &[WebsiteId],
    ) -> Result<RowsEverywhere, ShardOpsError> {
        let timeout = self.settings().shard_ops.probe_timeout() * 2;
        let tenancy = &self.settings().tenancy;
        let names = self.configured();
        let counts = names.iter().map(|name| async move {
            let pool = self
                .app
                .shards
                .reads(name)
                .expect("configured shards have pools");
            let counted = rows_of_many_on(pool, tenancy, websites);
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
        let mut everywhere = RowsEverywhere::new();
        let counted = join_all(counts).await;
        for (name, rows) in names.iter().zip(counted) {
            for (website, tables) in rows? {
                everywhere
                    .entry(website)
                    .or_default()
                    .push((name.clone(), tables));
            }
        }
        Ok(everywhere)
    }

    /// Refuses with `website_has_rows` if any shard holds rows of the website.
    pub(crate) async fn ensure_no_rows(&self, website: WebsiteId) -> Result<(), ShardOpsError> {
        match has_rows(website, &self.rows_everywhere(&[website]).await?) {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }
}

/// The `website_has_rows` refusal of `website`, if `found` holds rows of it.
pub(crate) fn has_rows(website: WebsiteId, found: &RowsEverywhere) -> Option<ShardOpsError> {
    let (shard, rows) = found.get(&website)?.first()?;
    let detail = rows
        .iter()
        .map(|(table, n)| format!("{n} in {table}"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(ShardOpsError::HasRows {
        website,
        shard: shard.to_string(),
        detail,
    })
}
