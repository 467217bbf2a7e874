//! Shard operations ask `crate::admission` whether a shard takes more websites.

use sqlx::PgConnection;

use super::{ShardOps, ShardOpsError};
use crate::admission::{self, Ask, Refusal};
use crate::ids::ShardName;

impl ShardOps<'_> {
    /// Refuses a target that is not `available`, lacks room for `extra` more
    /// websites or (with `check_health`) was last probed UNHEALTHY. With `lock`,
    /// holds the catalogue row so concurrent assignments and move requests count in turn.
    pub(crate) async fn admit(
        &self,
        conn: &mut PgConnection,
        target: &ShardName,
        extra: i64,
        check_health: bool,
        lock: bool,
    ) -> Result<(), ShardOpsError> {
        let ask = Ask {
            extra,
            check_health,
            lock,
        };
        Ok(admission::admit(conn, self.settings(), target, ask).await?)
    }
}

impl From<Refusal> for ShardOpsError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::UnknownShard(name) => Self::UnknownShard(name),
            Refusal::NotAvailable { shard, status } => Self::ShardNotAvailable {
                shard: shard.to_string(),
                status: status.to_string(),
            },
            Refusal::Full {
                shard,
                websites,
                capacity,
            } => Self::ShardFull {
                shard: shard.to_string(),
                websites,
                capacity,
            },
            Refusal::Unhealthy { shard, detail } => Self::ShardUnhealthy {
                shard: shard.to_string(),
                detail,
            },
            Refusal::Database { context, source } => Self::Database {
                context: context.to_owned(),
                source,
            },
        }
    }
}
