//! Start-up: what every entry point (CLI, API, workers, tests) does once
//! before work begins.

use sqlx::PgPool;

/// Applies the control database's migrations: ours (schema `shardmover`) and
/// the job queue's (schema `apalis`); each keeps its own migrations table.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    crate::db::MIGRATOR.run(pool).await?;
    crate::queue::setup(pool).await?;
    Ok(())
}
