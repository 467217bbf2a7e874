//! The write fence. `shardmover.fenced_websites` on a shard lists the websites
//! whose writes that shard refuses; the list is compiled into the `WHEN` clause
//! of triggers on every tenant table, so a write of any other website costs one
//! integer comparison in C and never calls a function or reads a table.
//!
//! Changing the list is DDL under `SHARE ROW EXCLUSIVE` locks on the tenant
//! tables, which is also what makes the fence airtight: taking the locks waits
//! for every transaction that has written those tables, and a transaction that
//! writes afterwards reads triggers from the catalogue as it is now, whatever its
//! snapshot (even a `REPEATABLE READ` one opened before the fence). No
//! `pg_stat_activity` reading, so no extra privilege, is needed to drain.

use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};

use super::error::{Context, MoveError};
use super::shard_schema::{DDL_LOCK, FENCE_SQLSTATE};
use crate::ids::{MigrationId, ShardName, WebsiteId};
use crate::sql::{audited, ident};

/// The four triggers every fenced table carries. Row triggers fire `AFTER`:
/// a `BEFORE UPDATE`/`DELETE` trigger makes Postgres fetch and lock the old row
/// once more for every write, fenced website or not, and any `BEFORE INSERT`
/// trigger turns off `COPY`'s batched inserts; an error raised after the row is
/// written undoes the statement all the same. `shardmover_fence` is the name
/// older releases used for one unconditional trigger; replacing it keeps
/// upgrades free of `DROP TRIGGER`, which only a table's owner may run.
const TRIGGERS: [(&str, &str, When); 4] = [
    ("shardmover_fence", "AFTER UPDATE", When::OldOrNew),
    ("shardmover_fence_insert", "AFTER INSERT", When::New),
    ("shardmover_fence_delete", "AFTER DELETE", When::Old),
    (
        "shardmover_fence_truncate",
        "BEFORE TRUNCATE",
        When::AnyFenced,
    ),
];

#[derive(Clone, Copy)]
enum When {
    New,
    Old,
    OldOrNew,
    AnyFenced,
}

/// How the fence is changed on a shard.
#[derive(Debug, Clone)]
pub struct FenceOptions {
    pub key_column: String,
    /// Longest one try may queue for the table locks; writers of those tables
    /// wait behind it, so this bounds the pause other tenants can see.
    pub lock_timeout: Duration,
    /// Tries go on this long before the move gives up (transiently) for now.
    pub give_up_after: Duration,
}

enum Change {
    Raise(WebsiteId, MigrationId),
    Lift(WebsiteId, Option<MigrationId>),
}

/// Fences `website` on the shard (installing the triggers on `tables` first if
/// they lack them). Returns once no transaction that wrote those tables before
/// the fence is still open.
pub async fn raise(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    migration: MigrationId,
    tables: &[String],
    options: &FenceOptions,
) -> Result<(), MoveError> {
    change(
        pool,
        shard,
        tables,
        Change::Raise(website, migration),
        options,
    )
    .await
}

/// Lifts the fence. With `only_for`, only a fence raised by that move is lifted,
/// so rolling back one move never lifts a fence that another move left behind.
/// Does nothing (and takes no lock) when there is nothing to lift.
pub async fn lift(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    only_for: Option<MigrationId>,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    change(pool, shard, &[], Change::Lift(website, only_for), options).await
}

/// Applies `what`, retrying lock timeouts until `give_up_after`.
async fn change(
    pool: &PgPool,
    shard: &ShardName,
    tables: &[String],
    what: Change,
    options: &FenceOptions,
) -> Result<(), MoveError> {
    let started = Instant::now();
    loop {
        let mut tx = pool
            .begin()
            .await
            .context(|| format!("connecting to {shard} to change its fence"))?;
        match apply(&mut tx, tables, &what, options).await {
            Ok(()) => {
                return tx
                    .commit()
                    .await
                    .context(|| format!("committing the fence on {shard}"));
            }
            Err(e) if is_lock_timeout(&e) && started.elapsed() < options.give_up_after => {
                drop(tx);
                tokio::time::sleep(options.lock_timeout.min(Duration::from_millis(250))).await;
            }
            Err(e) if is_lock_timeout(&e) => {
                drop(tx);
                return Err(MoveError::FenceDrainTimeout {
                    shard: shard.clone(),
                    seconds: options.give_up_after.as_secs(),
                    pids: lock_holders(pool, tables).await,
                });
            }
            Err(e) => return Err(e).context(|| format!("changing the fence on {shard}")),
        }
    }
}

fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

async fn apply(
    tx: &mut PgConnection,
    extra_tables: &[String],
    what: &Change,
    options: &FenceOptions,
) -> Result<(), sqlx::Error> {
    let timeout_ms = options.lock_timeout.as_millis().max(1);
    sqlx::query(audited(&format!("SET LOCAL lock_timeout = {timeout_ms}")))
        .execute(&mut *tx)
        .await?;
    sqlx::query(audited(&format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK})"
    )))
    .execute(&mut *tx)
    .await?;
    let changed = match what {
        Change::Raise(website, migration) => {
            sqlx::query(
                "INSERT INTO shardmover.fenced_websites (website_id, migration_id) VALUES ($1, $2)
                 ON CONFLICT (website_id) DO UPDATE
                    SET migration_id = EXCLUDED.migration_id, updated_at = now()",
            )
            .bind(website.get())
            .bind(migration.0)
            .execute(&mut *tx)
            .await?;
            true
        }
        Change::Lift(website, only_for) => {
            let present: bool =
                sqlx::query_scalar("SELECT to_regclass('shardmover.fenced_websites') IS NOT NULL")
                    .fetch_one(&mut *tx)
                    .await?;
            present
                && sqlx::query(
                    "DELETE FROM shardmover.fenced_websites
                      WHERE website_id = $1 AND ($2::int8 IS NULL OR migration_id = $2)",
                )
                .bind(website.get())
                .bind(only_for.map(|m| m.0))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0
        }
    };
    if !changed {
        return Ok(());
    }
    let tables = fenced_tables(tx, extra_tables).await?;
    if tables.is_empty() {
        return Ok(());
    }
    sqlx::query(audited(&format!(
        "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
        tables.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    let fenced: Vec<i64> = sqlx::query_scalar(
        "SELECT coalesce(array_agg(website_id ORDER BY website_id), '{}')
           FROM shardmover.fenced_websites",
    )
    .fetch_one(&mut *tx)
    .await?;
    // Under the locks, so no old-style trigger ever calls the new function.
    sqlx::query(audited(&guard_function(&options.key_column)))
        .execute(&mut *tx)
        .await?;
    for table in &tables {
        for sql in trigger_statements(table, &options.key_column, &fenced) {
            sqlx::query(audited(&sql)).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// `extra` plus every table that already carries our triggers, quoted, in a
/// stable order (locks are always taken in the same order).
async fn fenced_tables(
    tx: &mut PgConnection,
    extra: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT c.oid::regclass::text FROM pg_class c
          WHERE c.oid = ANY($1::text[]::regclass[])
             OR EXISTS (SELECT 1 FROM pg_trigger t
                         WHERE t.tgrelid = c.oid AND t.tgname LIKE 'shardmover\\_fence%')
          ORDER BY c.oid",
    )
    .bind(extra)
    .fetch_all(&mut *tx)
    .await
}

/// The four `CREATE OR REPLACE TRIGGER`s of one table for the given fence list.
fn trigger_statements(table: &str, key_column: &str, fenced: &[i64]) -> Vec<String> {
    let key = ident(key_column);
    let list = fenced
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let is_fenced = |row: &str| {
        if fenced.is_empty() {
            "false".to_owned()
        } else {
            format!("{row}.{key} = ANY ('{{{list}}}'::int8[])")
        }
    };
    TRIGGERS
        .iter()
        .map(|(name, event, when)| {
            let (level, condition) = match when {
                When::New => ("ROW", is_fenced("NEW")),
                When::Old => ("ROW", is_fenced("OLD")),
                When::OldOrNew if fenced.is_empty() => ("ROW", "false".to_owned()),
                When::OldOrNew => (
                    "ROW",
                    format!("{} OR {}", is_fenced("OLD"), is_fenced("NEW")),
                ),
                When::AnyFenced => ("STATEMENT", (!fenced.is_empty()).to_string()),
            };
            format!(
                "CREATE OR REPLACE TRIGGER {name} {event} ON {table} FOR EACH {level}
                 WHEN ({condition}) EXECUTE FUNCTION shardmover.fence_guard('{list}')"
            )
        })
        .collect()
}

/// The function the triggers call, only for rows of fenced websites (and for a
/// `TRUNCATE` while any website is fenced): it lets shardmover's own sessions
/// through and refuses everyone else with `SMF01`. `SECURITY DEFINER` with a
/// pinned `search_path`, so the application needs no grant on our schema.
fn guard_function(key_column: &str) -> String {
    let key = ident(key_column);
    format!(
        "CREATE OR REPLACE FUNCTION shardmover.fence_guard() RETURNS trigger
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
         DECLARE
             fenced bigint[] := string_to_array(TG_ARGV[0], ',')::bigint[];
             touched bigint;
         BEGIN
             IF current_setting('shardmover.bypass_fence', true) = 'on' THEN
                 RETURN COALESCE(NEW, OLD);
             END IF;
             IF TG_LEVEL = 'STATEMENT' THEN
                 RAISE EXCEPTION 'shardmover fence: TRUNCATE of %.% refused while websites % are fenced on this shard',
                     TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0]
                     USING ERRCODE = '{FENCE_SQLSTATE}',
                           HINT = 'delete the rows of the websites you mean instead';
             END IF;
             IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.{key} = ANY (fenced) THEN
                 touched := OLD.{key};
             ELSIF TG_OP IN ('INSERT', 'UPDATE') AND NEW.{key} = ANY (fenced) THEN
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

/// Sessions holding write locks on the fenced tables: whom the fence waited for.
/// `pg_locks` shows every role's locks, unlike `pg_stat_activity`'s details.
async fn lock_holders(pool: &PgPool, tables: &[String]) -> String {
    sqlx::query_scalar(
        "SELECT coalesce(string_agg(DISTINCT pid::text, ','), 'unknown') FROM pg_locks
          WHERE granted AND pid <> pg_backend_pid() AND mode <> 'AccessShareLock'
            AND relation IN (SELECT c.oid FROM pg_class c
                              WHERE c.oid = ANY($1::text[]::regclass[])
                                 OR EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid
                                               AND t.tgname LIKE 'shardmover\\_fence%'))",
    )
    .bind(tables)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_fence_list_compiles_to_triggers_that_never_fire() {
        let sql = trigger_statements("\"public\".\"pages\"", "website_id", &[]);
        assert_eq!(sql.len(), 4);
        assert!(sql.iter().all(|s| s.contains("WHEN (false)")), "{sql:?}");
    }

    #[test]
    fn fenced_websites_are_listed_in_every_row_trigger() {
        let sql = trigger_statements("\"public\".\"pages\"", "website_id", &[7, 9]);
        assert!(sql[0].contains("OLD.\"website_id\" = ANY ('{7,9}'::int8[]) OR NEW."));
        assert!(sql[1].contains("WHEN (NEW.\"website_id\" = ANY ('{7,9}'::int8[]))"));
        assert!(sql[3].contains("FOR EACH STATEMENT") && sql[3].contains("WHEN (true)"));
    }
}
