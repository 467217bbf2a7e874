//! Rows per tenant table for a shard's statistics: the catalogue's estimates
//! by default, since exact counts read every table whole (up to the statistics
//! timeout on a big shard, on a connection other reads wait for).

use sqlx::PgConnection;

use super::statistics::TableRows;
use crate::sql::audited;
use crate::tenancy::TenantTable;

/// How a shard's statistics count its rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowCounts {
    /// `pg_class.reltuples` (as of the last VACUUM or ANALYZE), or the
    /// live-row counter of a table never analyzed: instant, approximate.
    #[default]
    Estimated,
    /// `count(*)` of every tenant table.
    Exact,
}

impl RowCounts {
    pub fn exact_if(exact: bool) -> Self {
        if exact { Self::Exact } else { Self::Estimated }
    }
}

pub(super) async fn count(
    conn: &mut PgConnection,
    tables: &[TenantTable],
    counts: RowCounts,
) -> Result<Vec<TableRows>, sqlx::Error> {
    match counts {
        RowCounts::Estimated => estimated(conn, tables).await,
        RowCounts::Exact => exact(conn, tables).await,
    }
}

async fn exact(
    conn: &mut PgConnection,
    tables: &[TenantTable],
) -> Result<Vec<TableRows>, sqlx::Error> {
    let mut counted = Vec::with_capacity(tables.len());
    for table in tables {
        let sql = format!("SELECT count(*)::int8 FROM {}", table.name.quoted());
        let rows: i64 = sqlx::query_scalar(audited(&sql))
            .fetch_one(&mut *conn)
            .await?;
        counted.push(TableRows {
            name: table.name.to_string(),
            rows,
        });
    }
    Ok(counted)
}

/// A table's rows are those of its leaves (partitions, inheritance children
/// and itself), as `count(*)` on it would see them; no table is read.
const ESTIMATES: &str = "
WITH RECURSIVE tree (root, relid) AS (
    SELECT r, r::oid FROM unnest($1::int8[]) r
  UNION ALL
    SELECT t.root, i.inhrelid FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid
)
SELECT t.root,
       round(coalesce(sum(CASE WHEN c.reltuples >= 0 THEN c.reltuples
                               ELSE coalesce(s.n_live_tup, 0) END), 0))::int8
  FROM tree t
  JOIN pg_class c ON c.oid = t.relid
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE c.relkind = 'r'
 GROUP BY t.root";

async fn estimated(
    conn: &mut PgConnection,
    tables: &[TenantTable],
) -> Result<Vec<TableRows>, sqlx::Error> {
    let oids: Vec<i64> = tables.iter().map(|t| i64::from(t.oid)).collect();
    let found: Vec<(i64, i64)> = sqlx::query_as(ESTIMATES)
        .bind(&oids)
        .fetch_all(conn)
        .await?;
    Ok(tables
        .iter()
        .map(|table| TableRows {
            name: table.name.to_string(),
            // A partitioned table without partitions has no leaf, and no rows.
            rows: found
                .iter()
                .find(|(oid, _)| *oid == i64::from(table.oid))
                .map_or(0, |(_, rows)| *rows),
        })
        .collect())
}
