//! Where a move goes: the shard the tenant registry names for a website, the
//! pools of a move's two shards, and connections to the control database that
//! holds the registry.

use sqlx::PgPool;
use sqlx::pool::PoolConnection;

use crate::app::App;
use crate::control::registry;
use crate::ids::{ShardName, WebsiteId};
use crate::mover::error::{Context, MoveError};
use crate::shard_pools::PoolUse;

/// A pooled connection to the control database.
pub(crate) async fn control_conn(app: &App) -> Result<PoolConnection<sqlx::Postgres>, MoveError> {
    app.control
        .acquire()
        .await
        .context(|| "connecting to the control database".into())
}

/// The shard the registry names for the website.
pub(crate) async fn current_shard(app: &App, website: WebsiteId) -> Result<ShardName, MoveError> {
    let mut conn = control_conn(app).await?;
    current_shard_on(app, &mut conn, website).await
}

/// `current_shard` on the caller's connection (one connection per request).
pub(crate) async fn current_shard_on(
    app: &App,
    conn: &mut sqlx::PgConnection,
    website: WebsiteId,
) -> Result<ShardName, MoveError> {
    let name = registry::shard_of(conn, &app.settings.tenancy, website)
        .await
        .context(|| "reading the tenant registry".into())?
        .ok_or(MoveError::UnknownWebsite(website))?;
    ShardName::parse(&name).map_err(|_| MoveError::UnknownShard(name))
}

/// Source and target configured and distinct (status and capacity:
/// `checks::admission`), with their pools for running moves.
pub(crate) fn check_route<'a>(
    app: &'a App,
    website: WebsiteId,
    source: &ShardName,
    target: &ShardName,
) -> Result<(&'a PgPool, &'a PgPool), MoveError> {
    route(app, website, source, target, PoolUse::Move)
}

/// `check_route` with the pools of `pools`.
pub(crate) fn route<'a>(
    app: &'a App,
    website: WebsiteId,
    source: &ShardName,
    target: &ShardName,
    pools: PoolUse,
) -> Result<(&'a PgPool, &'a PgPool), MoveError> {
    app.settings
        .shard(target)
        .ok_or_else(|| MoveError::UnknownShard(target.to_string()))?;
    if source == target {
        return Err(MoveError::SameShard {
            website,
            shard: source.clone(),
        });
    }
    let source_pool = app
        .shards
        .get(source, pools)
        .ok_or_else(|| MoveError::UnknownShard(source.to_string()))?;
    let target_pool = app
        .shards
        .get(target, pools)
        .expect("configured shards have pools");
    Ok((source_pool, target_pool))
}

/// The pool for running moves of a configured shard.
pub(crate) fn shard_pool<'a>(app: &'a App, name: &ShardName) -> Result<&'a PgPool, MoveError> {
    app.shards
        .moves(name)
        .ok_or_else(|| MoveError::UnknownShard(name.to_string()))
}
