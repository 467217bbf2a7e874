//! A transient failure's answer names the shard that is away (found by
//! `Mover::unavailable_shard`) instead of blaming the control database.

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
    if let Some(shard) = mover.unavailable_shard(website, target).await {
        tracing::warn!(shard = %shard, error = %crate::db::logged(&error), "shard unavailable");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shard_unavailable",
            format!("shard {shard} is unavailable; retry later"),
        );
    }
    error.into()
}
