//! Which database a transient failure came from. The engine's errors say what
//! it was doing ("connecting to the target shard"), not which shard; after a
//! failure that touched shards, the shards involved are asked directly so the
//! answer names the one that is away instead of blaming the control database.

use actix_web::http::StatusCode;

use super::ApiError;
use crate::ids::{ShardName, WebsiteId};
use crate::mover::{MoveError, Mover};

/// `error` as an answer: 503 naming the first of the website's source shard
/// and `target` that does not answer, or the error's own answer.
pub async fn name_the_shard(
    mover: &Mover,
    website: WebsiteId,
    target: &ShardName,
    error: MoveError,
) -> ApiError {
    let mut involved = Vec::new();
    if let Ok(mut conn) = mover.control_conn().await
        && let Ok(source) = mover.current_shard_on(&mut conn, website).await
    {
        involved.push(source);
    }
    involved.push(target.clone());
    for shard in involved {
        if !answers(mover, &shard).await {
            tracing::warn!(shard = %shard, error = %error, "shard unavailable");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shard_unavailable",
                format!("shard {shard} is unavailable; retry later"),
            );
        }
    }
    error.into()
}

async fn answers(mover: &Mover, shard: &ShardName) -> bool {
    let Some(pool) = mover.shards.get(shard) else {
        return true;
    };
    let probe = sqlx::query("SELECT 1").execute(pool);
    let timeout = mover.settings().shard_ops.probe_timeout();
    matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(_)))
}
