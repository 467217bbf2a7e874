//! Repository for `shardmover.migration_tables`: per-table progress and checksums.
//! Writes are conditional on the attempt that owns the move (see
//! `migrations::start_attempt`) and say whether they happened.

use std::collections::HashMap;

use sqlx::{PgConnection, Row};

use crate::ids::MoveId;

/// Also the API's per-table progress object (field names are a contract).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TableProgress {
    pub name: String,
    pub rows_total: i64,
    pub rows_copied: i64,
    pub source_checksum: Option<String>,
    pub target_checksum: Option<String>,
    pub verified: bool,
}

/// Records the planned tables and their sizes (idempotent for resumed moves).
pub async fn plan(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    tables: &[(String, i64)],
) -> Result<bool, sqlx::Error> {
    let total: i64 = tables.iter().map(|(_, rows)| rows).sum();
    let owned = sqlx::query(
        "UPDATE shardmover.migrations SET rows_total = $3
          WHERE id = $1 AND attempts = $2 AND status = 'in_progress'",
    )
    .bind(id.get())
    .bind(attempt)
    .bind(total)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !owned {
        return Ok(false);
    }
    for (position, (name, rows)) in tables.iter().enumerate() {
        sqlx::query(
            "INSERT INTO shardmover.migration_tables (migration_id, table_name, position, rows_total)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (migration_id, table_name) DO UPDATE SET rows_total = EXCLUDED.rows_total",
        )
        .bind(id.get())
        .bind(name)
        .bind(position as i32)
        .bind(rows)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// Writes copy progress for one table and the move as a whole.
pub async fn record_copied(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    table: &str,
    table_rows: i64,
    all_rows: i64,
) -> Result<bool, sqlx::Error> {
    let owned: bool = sqlx::query_scalar(
        "WITH m AS (UPDATE shardmover.migrations SET rows_copied = $4, current_table = $2
                     WHERE id = $1 AND attempts = $5 AND status = 'in_progress' RETURNING id),
              t AS (UPDATE shardmover.migration_tables SET rows_copied = $3
                     WHERE migration_id IN (SELECT id FROM m) AND table_name = $2)
         SELECT EXISTS (SELECT 1 FROM m)",
    )
    .bind(id.get())
    .bind(table)
    .bind(table_rows)
    .bind(all_rows)
    .bind(attempt)
    .fetch_one(conn)
    .await?;
    Ok(owned)
}

pub async fn record_checksums(
    conn: &mut PgConnection,
    id: MoveId,
    attempt: i32,
    table: &str,
    source: &str,
    target: &str,
) -> Result<bool, sqlx::Error> {
    let owned: bool = sqlx::query_scalar(
        "WITH m AS (SELECT id FROM shardmover.migrations
                     WHERE id = $1 AND attempts = $5 AND status = 'in_progress'),
              t AS (UPDATE shardmover.migration_tables
                       SET source_checksum = $3, target_checksum = $4, verified = ($3 = $4)
                     WHERE migration_id IN (SELECT id FROM m) AND table_name = $2)
         SELECT EXISTS (SELECT 1 FROM m)",
    )
    .bind(id.get())
    .bind(table)
    .bind(source)
    .bind(target)
    .bind(attempt)
    .fetch_one(conn)
    .await?;
    Ok(owned)
}

pub async fn list(conn: &mut PgConnection, id: MoveId) -> Result<Vec<TableProgress>, sqlx::Error> {
    let mut by_move = list_many(conn, &[id]).await?;
    Ok(by_move.remove(&id.get()).unwrap_or_default())
}

/// `list` for many moves in one query, by move id.
pub async fn list_many(
    conn: &mut PgConnection,
    ids: &[MoveId],
) -> Result<HashMap<i64, Vec<TableProgress>>, sqlx::Error> {
    let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    let rows = sqlx::query(
        "SELECT migration_id, table_name, rows_total, rows_copied, source_checksum,
                target_checksum, verified
           FROM shardmover.migration_tables WHERE migration_id = ANY($1)
          ORDER BY migration_id, position",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    let mut by_move: HashMap<i64, Vec<TableProgress>> = HashMap::new();
    for r in &rows {
        by_move
            .entry(r.try_get("migration_id")?)
            .or_default()
            .push(TableProgress {
                name: r.try_get("table_name")?,
                rows_total: r.try_get("rows_total")?,
                rows_copied: r.try_get("rows_copied")?,
                source_checksum: r.try_get("source_checksum")?,
                target_checksum: r.try_get("target_checksum")?,
                verified: r.try_get("verified")?,
            });
    }
    Ok(by_move)
}
