//! Statistics of one shard: websites (registry), rows per tenant table (exact
//! counts), database and index sizes, table count and the ten largest tables.

use serde::Serialize;
use sqlx::{PgConnection, Row};
use utoipa::ToSchema;

use super::{ShardOps, ShardOpsError};
use crate::control::registry;
use crate::mover::catalog;
use crate::sql::audited;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShardStatistics {
    pub shard: String,
    pub location: String,
    pub websites: i64,
    /// Every tenant table with its exact row count.
    pub tenant_tables: Vec<TableRows>,
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
    pub async fn statistics(&self, name: &str) -> Result<ShardStatistics, ShardOpsError> {
        let name = self.shard(name)?;
        let websites = {
            let mut conn = self.conn().await?;
            registry::count_on(&mut conn, &self.settings().tenancy, &name)
                .await
                .map_err(ShardOpsError::control("counting websites"))?
        };
        let unreachable = |e: sqlx::Error| ShardOpsError::ShardUnreachable {
            shard: name.to_string(),
            message: e.to_string(),
        };
        let pool = self
            .mover
            .shards
            .get(&name)
            .expect("configured shards have pools");
        let mut conn = pool.acquire().await.map_err(unreachable)?;
        let tables = catalog::discover(&mut conn, &self.settings().tenancy).await?;
        let mut tenant_tables = Vec::with_capacity(tables.len());
        for table in &tables {
            let sql = format!("SELECT count(*)::int8 FROM {}", table.name.quoted());
            let rows: i64 = sqlx::query_scalar(audited(&sql))
                .fetch_one(&mut *conn)
                .await
                .map_err(unreachable)?;
            tenant_tables.push(TableRows {
                name: table.name.to_string(),
                rows,
            });
        }
        let (database_size, table_count, index_size) =
            sizes(&mut conn).await.map_err(unreachable)?;
        Ok(ShardStatistics {
            location: self.location(&name),
            shard: name.to_string(),
            websites,
            tenant_tables,
            database_size,
            table_count,
            index_size,
            largest_tables: largest(&mut conn).await.map_err(unreachable)?,
        })
    }
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
