//! Statistics of one shard: websites (registry), rows per tenant table
//! (estimated unless asked to count), database and index sizes, table count
//! and the ten largest tables.

use serde::Serialize;
use sqlx::{PgConnection, Row};
use utoipa::ToSchema;

use super::row_counts::{self, RowCounts};
use super::{ShardOps, ShardOpsError};
use crate::control::registry;
use crate::sql::audited;
use crate::tenancy;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShardStatistics {
    pub shard: String,
    pub location: String,
    pub websites: i64,
    /// Every tenant table with its row count.
    pub tenant_tables: Vec<TableRows>,
    /// The counts are the catalogue's estimates; `?exact=true` counts the rows.
    pub estimate: bool,
    /// Bytes.
    pub database_size: i64,
    /// User tables in every schema but the system ones.
    pub table_count: i64,
    /// Bytes of all indexes of those tables.
    pub index_size: i64,
    pub largest_tables: Vec<TableSize>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TableRows {
    pub name: String,
    pub rows: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TableSize {
    pub name: String,
    /// Table, indexes and TOAST, in bytes.
    pub total_bytes: i64,
}

impl ShardOps<'_> {
    pub async fn statistics(
        &self,
        name: &str,
        counts: RowCounts,
    ) -> Result<ShardStatistics, ShardOpsError> {
        let name = self.shard(name)?;
        let websites = {
            let mut conn = self.conn().await?;
            registry::count_on(&mut conn, &self.settings().tenancy, &name)
                .await
                .map_err(ShardOpsError::control("counting websites"))?
        };
        let pool = self
            .app
            .shards
            .reads(&name)
            .expect("configured shards have pools");
        // Exact counts can take long on a big shard: bounded, so a hanging
        // shard or a huge table answers 503 instead of holding the request.
        let measuring = measure(pool, &self.settings().tenancy, counts);
        let measured = tokio::time::timeout(STATISTICS_TIMEOUT, measuring)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "no answer within {} s",
                    STATISTICS_TIMEOUT.as_secs()
                ))
            })
            .map_err(|message| ShardOpsError::ShardUnreachable {
                shard: name.to_string(),
                message,
            })?;
        let (tenant_tables, (database_size, table_count, index_size), largest_tables) = measured;
        Ok(ShardStatistics {
            location: self.location(&name),
            shard: name.to_string(),
            websites,
            tenant_tables,
            estimate: counts == RowCounts::Estimated,
            database_size,
            table_count,
            index_size,
            largest_tables,
        })
    }
}

/// How long one shard's statistics may take, counting included.
const STATISTICS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

type Measured = (Vec<TableRows>, (i64, i64, i64), Vec<TableSize>);

/// Everything read from the shard itself, in one read-only transaction whose
/// statements the server also stops at the timeout.
async fn measure(
    pool: &sqlx::PgPool,
    tenancy: &crate::config::TenancySettings,
    counts: RowCounts,
) -> Result<Measured, String> {
    let text = |e: sqlx::Error| crate::db::error_message(&e);
    let mut tx = pool.begin().await.map_err(text)?;
    let timeout = format!(
        "SET LOCAL statement_timeout = '{}s'",
        STATISTICS_TIMEOUT.as_secs()
    );
    sqlx::raw_sql(audited(&timeout))
        .execute(&mut *tx)
        .await
        .map_err(text)?;
    let tables = tenancy::discover(&mut tx, tenancy)
        .await
        .map_err(|e| e.one_line())?;
    let tenant_tables = row_counts::count(&mut tx, &tables, counts)
        .await
        .map_err(text)?;
    let sizes = sizes(&mut tx).await.map_err(text)?;
    let largest = largest(&mut tx).await.map_err(text)?;
    Ok((tenant_tables, sizes, largest))
}

const USER_TABLES: &str = "c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'";

async fn sizes(conn: &mut PgConnection) -> Result<(i64, i64, i64), sqlx::Error> {
    let sql = format!(
        "SELECT pg_database_size(current_database())::int8,
                count(*)::int8,
                coalesce(sum(pg_indexes_size(c.oid)), 0)::int8
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_TABLES}"
    );
    sqlx::query_as(audited(&sql)).fetch_one(conn).await
}

async fn largest(conn: &mut PgConnection) -> Result<Vec<TableSize>, sqlx::Error> {
    let sql = format!(
        "SELECT n.nspname || '.' || c.relname AS name, pg_total_relation_size(c.oid)::int8 AS bytes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER_TABLES}
          ORDER BY 2 DESC, 1 LIMIT 10"
    );
    let rows = sqlx::query(audited(&sql)).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(TableSize {
                name: r.try_get("name")?,
                total_bytes: r.try_get("bytes")?,
            })
        })
        .collect()
}
