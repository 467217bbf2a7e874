//! Which shard a transient failure came from. The engine's errors say what it
//! was doing ("connecting to the target shard"), not which shard; after a
//! failure that touched shards, the shards involved are asked directly, so the
//! API and the dashboard can name the one that is away instead of blaming the
//! control database.

use crate::ids::{ShardName, WebsiteId};
use crate::mover::Mover;

impl Mover {
    /// The first of the website's current shard and `target` that does not
    /// answer within the probe timeout, if any.
    pub async fn unavailable_shard(
        &self,
        website: WebsiteId,
        target: &ShardName,
    ) -> Option<ShardName> {
        let mut involved = Vec::new();
        if let Ok(mut conn) = self.control_conn().await
            && let Ok(source) = self.current_shard_on(&mut conn, website).await
        {
            involved.push(source);
        }
        involved.push(target.clone());
        for shard in involved {
            if !self.answers(&shard).await {
                return Some(shard);
            }
        }
        None
    }

    async fn answers(&self, shard: &ShardName) -> bool {
        let Some(pool) = self.shards.reads(shard) else {
            return true;
        };
        let probe = sqlx::query("SELECT 1").execute(pool);
        let timeout = self.settings().shard_ops.probe_timeout();
        matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(_)))
    }
}
