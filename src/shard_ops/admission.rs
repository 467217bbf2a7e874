//! Whether a shard takes more websites right now, from the control database:
//! its catalogue status, its capacity against the registry, its stored health.

use sqlx::PgConnection;

use super::catalogue::state_of;
use super::{ShardOps, ShardOpsError};
use crate::control::{migrations, registry};
use crate::ids::ShardName;

impl ShardOps<'_> {
    /// Refuses a target that is not `available`, lacks room for `extra` more
    /// websites (beyond those registered there and those moving in) or (with
    /// `check_health`) was last probed UNHEALTHY. With `lock`, holds the
    /// catalogue row so concurrent assignments and move requests count in turn.
    pub(crate) async fn admit(
        &self,
        conn: &mut PgConnection,
        target: &ShardName,
        extra: i64,
        check_health: bool,
        lock: bool,
    ) -> Result<(), ShardOpsError> {
        let read = async |conn: &mut PgConnection, lock| {
            state_of(conn, self.settings(), target, lock)
                .await
                .map_err(ShardOpsError::control("reading the shard catalogue"))?
                .ok_or_else(|| ShardOpsError::UnknownShard(target.to_string()))
        };
        let mut state = read(conn, false).await?;
        if lock && state.capacity.is_some() {
            // Room is at stake: read again under the row lock, so concurrent
            // requests count in turn. Without a capacity there is nothing to race for.
            state = read(conn, true).await?;
        }
        if !state.status.accepts_websites() {
            return Err(ShardOpsError::ShardNotAvailable {
                shard: target.to_string(),
                status: state.status.to_string(),
            });
        }
        if let Some(capacity) = state.capacity {
            let registered = registry::count_on(conn, &self.settings().tenancy, target)
                .await
                .map_err(ShardOpsError::control("counting websites"))?;
            // Moves heading there have been promised room: they cut over later.
            let arriving = migrations::count_arriving(conn, target)
                .await
                .map_err(ShardOpsError::control("counting moves"))?;
            let websites = registered + arriving;
            if websites + extra > capacity {
                return Err(ShardOpsError::ShardFull {
                    shard: target.to_string(),
                    websites,
                    capacity,
                });
            }
        }
        if check_health
            && let Some(health) = self.stored_health(conn).await?.remove(target)
            && self.vouches_unhealthy(&health)
        {
            return Err(ShardOpsError::ShardUnhealthy {
                shard: target.to_string(),
                detail: health.report.error_message,
            });
        }
        Ok(())
    }
}
