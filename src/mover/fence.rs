//! The write fence: once a website is listed in `shardmover.fenced_websites` on a
//! shard, that shard's own triggers refuse every write to the website's rows.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::error::{Context, MoveError};
use crate::ids::{MigrationId, ShardName, WebsiteId};

/// Fences `website` on the shard, then waits until every application
/// transaction that began before the fence has ended, so none of their writes
/// can land after the copy has read the rows.
pub async fn raise(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    migration: MigrationId,
    drain_timeout: Duration,
) -> Result<(), MoveError> {
    sqlx::query(
        "INSERT INTO shardmover.fenced_websites (website_id, migration_id) VALUES ($1, $2)
         ON CONFLICT (website_id) DO UPDATE
            SET migration_id = EXCLUDED.migration_id, updated_at = now()",
    )
    .bind(website.get())
    .bind(migration.0)
    .execute(pool)
    .await
    .context(|| format!("fencing website {website} on {shard}"))?;
    let fenced_at: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(pool)
        .await
        .context(|| format!("reading the clock of {shard}"))?;
    drain(pool, shard, fenced_at, drain_timeout).await
}

async fn drain(
    pool: &PgPool,
    shard: &ShardName,
    fenced_at: DateTime<Utc>,
    timeout: Duration,
) -> Result<(), MoveError> {
    let started = Instant::now();
    loop {
        let pids: String = sqlx::query_scalar(
            "SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND backend_type = 'client backend' AND xact_start < $1
                AND application_name NOT LIKE $2",
        )
        .bind(fenced_at)
        .bind(format!("{}%", crate::db::APPLICATION_NAME))
        .fetch_one(pool)
        .await
        .context(|| format!("listing open transactions on {shard}"))?;
        if pids.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(MoveError::FenceDrainTimeout {
                shard: shard.clone(),
                seconds: timeout.as_secs(),
                pids,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lifts the fence. With `only_for`, only a fence raised by that move is lifted,
/// so rolling back one move never lifts a fence that another move left behind.
pub async fn lift(
    pool: &PgPool,
    shard: &ShardName,
    website: WebsiteId,
    only_for: Option<MigrationId>,
) -> Result<(), MoveError> {
    let present: bool =
        sqlx::query_scalar("SELECT to_regclass('shardmover.fenced_websites') IS NOT NULL")
            .fetch_one(pool)
            .await
            .context(|| format!("looking for a fence on {shard}"))?;
    if !present {
        return Ok(());
    }
    sqlx::query(
        "DELETE FROM shardmover.fenced_websites
          WHERE website_id = $1 AND ($2::int8 IS NULL OR migration_id = $2)",
    )
    .bind(website.get())
    .bind(only_for.map(|m| m.0))
    .execute(pool)
    .await
    .context(|| format!("lifting the fence of website {website} on {shard}"))?;
    Ok(())
}
