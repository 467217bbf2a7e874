//! Which shard a transient failure came from. The engine's errors say what it
//! was doing ("connecting to the target shard"), not which shard; after a
//! failure that touched shards, the shards involved are asked directly, so the
//! API and the dashboard can name the one that is away instead of blaming the
//! control database.

use crate::app::App;
use crate::ids::{ShardName, WebsiteId};
use crate::mover::mechanics::routes::{control_conn, current_shard_on};

/// The first of the website's current shard and `target` that does not
/// answer within the probe timeout, if any.
pub(crate) async fn unavailable_shard(
    app: &App,
    website: WebsiteId,
    target: &ShardName,
) -> Option<ShardName> {
    let mut involved = Vec::new();
    if let Ok(mut conn) = control_conn(app).await
        && let Ok(source) = current_shard_on(app, &mut conn, website).await
    {
        involved.push(source);
    }
    involved.push(target.clone());
    for shard in involved {
        if !answers(app, &shard).await {
            return Some(shard);
        }
    }
    None
}

async fn answers(app: &App, shard: &ShardName) -> bool {
    let Some(pool) = app.shards.reads(shard) else {
        return true;
    };
    let probe = sqlx::query("SELECT 1").execute(pool);
    let timeout = app.settings.shard_ops.probe_timeout();
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(_)))
}
