//! The only things shardmover keeps on a shard: schema `shardmover` with the
//! fence list, the copy checkpoints and the fence trigger function.

use sqlx::PgPool;

use super::error::{Context, MoveError};
use crate::sql::{audited, ident};

/// Serialises our DDL on one shard; concurrent `CREATE OR REPLACE FUNCTION`s
/// otherwise fail with "tuple concurrently updated".
const DDL_LOCK: i64 = 0x5348_4152_444d_4f56; // "SHARDMOV"

/// SQLSTATE raised by the fence trigger, for applications to recognise.
pub const FENCE_SQLSTATE: &str = "SMF01";

/// Creates (or refreshes) the shard-side schema. Idempotent.
pub async fn ensure(pool: &PgPool, key_column: &str) -> Result<(), MoveError> {
    let mut tx = pool
        .begin()
        .await
        .context(|| "opening a shard transaction".into())?;
    let statements = [
        format!("SELECT pg_advisory_xact_lock({DDL_LOCK})"),
        "CREATE SCHEMA IF NOT EXISTS shardmover".into(),
        "CREATE TABLE IF NOT EXISTS shardmover.fenced_websites (
            website_id   bigint PRIMARY KEY,
            migration_id bigint NOT NULL,
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
        fence_function(key_column),
    ];
    for sql in statements {
        sqlx::query(audited(&sql))
            .execute(&mut *tx)
            .await
            .context(|| "creating the shardmover schema on a shard".into())?;
    }
    tx.commit()
        .await
        .context(|| "committing shard schema".into())
}

/// The trigger body: rejects any write touching a fenced website unless the
/// session set `shardmover.bypass_fence` (only shardmover's own copy and cleanup do).
fn fence_function(key_column: &str) -> String {
    let key = ident(key_column);
    format!(
        "CREATE OR REPLACE FUNCTION shardmover.fence_guard() RETURNS trigger
         LANGUAGE plpgsql AS $fn$
         DECLARE
             touched bigint;
         BEGIN
             IF current_setting('shardmover.bypass_fence', true) = 'on' THEN
                 RETURN COALESCE(NEW, OLD);
             END IF;
             IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
                    SELECT 1 FROM shardmover.fenced_websites WHERE website_id = OLD.{key}) THEN
                 touched := OLD.{key};
             ELSIF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
                    SELECT 1 FROM shardmover.fenced_websites WHERE website_id = NEW.{key}) THEN
                 touched := NEW.{key};
             END IF;
             IF touched IS NOT NULL THEN
                 RAISE EXCEPTION 'shardmover fence: website % is moving or has moved off this shard; write to %.% refused',
                     touched, TG_TABLE_SCHEMA, TG_TABLE_NAME
                     USING ERRCODE = '{FENCE_SQLSTATE}',
                           HINT = 'look the website up in the registry and write to the shard it names';
             END IF;
             RETURN COALESCE(NEW, OLD);
         END
         $fn$"
    )
}

/// Installs the fence trigger on each table that lacks it (inert until a website is fenced).
pub async fn install_triggers(pool: &PgPool, tables: &[String]) -> Result<(), MoveError> {
    let mut tx = pool
        .begin()
        .await
        .context(|| "opening a shard transaction".into())?;
    sqlx::query(audited(&format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK})"
    )))
    .execute(&mut *tx)
    .await
    .context(|| "locking shard DDL".into())?;
    for table in tables {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger
                             WHERE tgrelid = to_regclass($1) AND tgname = 'shardmover_fence')",
        )
        .bind(table)
        .fetch_one(&mut *tx)
        .await
        .context(|| format!("checking the fence trigger on {table}"))?;
        if !exists {
            let sql = format!(
                "CREATE TRIGGER shardmover_fence BEFORE INSERT OR UPDATE OR DELETE ON {table}
                 FOR EACH ROW EXECUTE FUNCTION shardmover.fence_guard()"
            );
            sqlx::query(audited(&sql))
                .execute(&mut *tx)
                .await
                .context(|| format!("installing the fence trigger on {table}"))?;
        }
    }
    tx.commit()
        .await
        .context(|| "committing fence triggers".into())
}
