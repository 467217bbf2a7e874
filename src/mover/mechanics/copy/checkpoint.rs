//! Copy checkpoints, kept on the target in `shardmover.copy_checkpoints` and
//! written in the same transaction as the chunk they describe.

use sqlx::{PgConnection, PgPool, Row};

use crate::ids::MoveId;
use crate::mover::error::{Context, MoveError};

#[derive(Debug, Default, Clone, Copy)]
pub struct Checkpoint {
    pub rows_done: i64,
    pub chunks_done: i32,
    pub finished: bool,
}

pub async fn read(
    target: &mut PgConnection,
    migration: MoveId,
    table: &str,
) -> Result<Checkpoint, MoveError> {
    let row = sqlx::query(
        "SELECT rows_done, chunks_done, finished FROM shardmover.copy_checkpoints
          WHERE migration_id = $1 AND table_name = $2",
    )
    .bind(migration.get())
    .bind(table)
    .fetch_optional(target)
    .await
    .context(|| format!("reading the copy checkpoint of {table}"))?;
    Ok(row.map_or_else(Checkpoint::default, |r| Checkpoint {
        rows_done: r.get("rows_done"),
        chunks_done: r.get("chunks_done"),
        finished: r.get("finished"),
    }))
}

pub async fn write(
    conn: &mut PgConnection,
    migration: MoveId,
    table: &str,
    at: Checkpoint,
) -> Result<(), MoveError> {
    sqlx::query(
        "INSERT INTO shardmover.copy_checkpoints (migration_id, table_name, rows_done, chunks_done, finished)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (migration_id, table_name) DO UPDATE
            SET rows_done = EXCLUDED.rows_done, chunks_done = EXCLUDED.chunks_done,
                finished = EXCLUDED.finished, updated_at = now()",
    )
    .bind(migration.get())
    .bind(table)
    .bind(at.rows_done)
    .bind(at.chunks_done)
    .bind(at.finished)
    .execute(conn)
    .await
    .context(|| format!("writing the copy checkpoint of {table}"))?;
    Ok(())
}

/// Forgets a move's checkpoints on the target (after cutover or rollback).
pub async fn clear(target: &PgPool, migration: MoveId) -> Result<(), MoveError> {
    forget(target, "copy_checkpoints", migration).await
}

/// Forgets which attempt owned the move on the target.
pub async fn clear_owner(target: &PgPool, migration: MoveId) -> Result<(), MoveError> {
    forget(target, "move_owners", migration).await
}

/// Forgets the keys an online move's catch-up touched on the target.
pub async fn clear_touched(target: &PgPool, migration: MoveId) -> Result<(), MoveError> {
    forget(target, "touched_rows", migration).await
}

/// Deletes the move's rows from one of our fixed tables (`table` is never
/// input), which a shard the move never reached may not have.
async fn forget(target: &PgPool, table: &'static str, migration: MoveId) -> Result<(), MoveError> {
    let present: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("shardmover.{table}"))
        .fetch_one(target)
        .await
        .context(|| format!("looking for shardmover.{table}"))?;
    if present {
        sqlx::query(crate::sql::audited(&format!(
            "DELETE FROM shardmover.{table} WHERE migration_id = $1"
        )))
        .bind(migration.get())
        .execute(target)
        .await
        .context(|| format!("clearing shardmover.{table}"))?;
    }
    Ok(())
}
