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
            Refusal::Database { context, source } => Self::Database {
                context: context.to_owned(),
                source,
            },
            refused => Self::Refused(refused),
        }
    }
}
