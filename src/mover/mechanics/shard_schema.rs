//! The only things shardmover keeps on a shard: schema `shardmover` with the
//! fence and capture lists, the change log of online moves (on the source), the
//! copy checkpoints and the rows touched by catch-up (on the target). The
//! triggers and their function are `fence`'s.

use sqlx::PgPool;

use crate::mover::error::{Context, MoveError};
use crate::sql::audited;

/// Serialises our DDL on one shard; concurrent `CREATE OR REPLACE FUNCTION`s
/// otherwise fail with "tuple concurrently updated".
pub const DDL_LOCK: i64 = 0x5348_4152_444d_4f56; // "SHARDMOV"

/// SQLSTATE raised by the fence trigger, for applications to recognise.
pub const FENCE_SQLSTATE: &str = "SMF01";

/// Creates (or refreshes) the shard-side schema of both shards of a move, at once.
pub async fn ensure_both(source: &PgPool, target: &PgPool) -> Result<(), MoveError> {
    tokio::try_join!(ensure(source), ensure(target))?;
    Ok(())
}

/// Creates (or refreshes) the shard-side schema. Idempotent.
pub async fn ensure(pool: &PgPool) -> Result<(), MoveError> {
    let statements = [
        format!("SELECT pg_advisory_xact_lock({DDL_LOCK})"),
        "CREATE SCHEMA IF NOT EXISTS shardmover".into(),
        "CREATE TABLE IF NOT EXISTS shardmover.fenced_websites (
            website_id   bigint PRIMARY KEY,
            migration_id bigint NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now())"
            .into(),
        "CREATE TABLE IF NOT EXISTS shardmover.captured_websites (
            website_id   bigint PRIMARY KEY,
            migration_id bigint NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now())"
            .into(),
        // Append-only (rows are deleted once replayed), so no updated_at.
        "CREATE TABLE IF NOT EXISTS shardmover.changes (
            id         bigserial PRIMARY KEY,
            website_id bigint NOT NULL,
            relid      oid    NOT NULL,
            pk         jsonb  NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now())"
            .into(),
        "CREATE INDEX IF NOT EXISTS changes_website ON shardmover.changes (website_id, id)".into(),
        // Keys catch-up wrote on the target: verified again inside the freeze.
        "CREATE TABLE IF NOT EXISTS shardmover.touched_rows (
            migration_id bigint NOT NULL,
            table_name   text   NOT NULL,
            pk           jsonb  NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (migration_id, table_name, pk))"
            .into(),
        // The tables carrying our triggers and the website column their `WHEN`
        // compares (NULL: rows that belong to a website through parents).
        "CREATE TABLE IF NOT EXISTS shardmover.guarded_tables (
            relid      oid PRIMARY KEY,
            key_column text,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now())"
            .into(),
        // The attempt that owns each move writing this shard (see owner_token).
        "CREATE TABLE IF NOT EXISTS shardmover.move_owners (
            migration_id bigint PRIMARY KEY,
            attempt      integer NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now())"
            .into(),
        "CREATE TABLE IF NOT EXISTS shardmover.copy_checkpoints (
            migration_id bigint NOT NULL,
            table_name   text   NOT NULL,
            rows_done    bigint NOT NULL,
            chunks_done  integer NOT NULL,
            finished     boolean NOT NULL DEFAULT false,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (migration_id, table_name))"
            .into(),
    ];
    // One round trip: statements sent together run as one transaction.
    sqlx::raw_sql(audited(&statements.join(";\n")))
        .execute(pool)
        .await
        .context(|| "creating the shardmover schema on a shard".into())?;
    Ok(())
}
