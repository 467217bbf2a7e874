//! Previewing a move: the preflight report, changing nothing. A transient
//! failure names the shard that is away instead of blaming the control database.

use super::MovesError;
use crate::ids::{ShardName, WebsiteId};
use crate::mover::{Mover, PreflightReport};

pub async fn preview(
    mover: &Mover,
    website: WebsiteId,
    target: &ShardName,
) -> Result<PreflightReport, MovesError> {
    match mover.preflight(website, target).await {
        Ok(report) => Ok(report),
        Err(error) if error.is_transient() => {
            match mover.unavailable_shard(website, target).await {
                Some(shard) => {
                    tracing::warn!(shard = %shard, error = %crate::db::logged(&error), "shard unavailable");
                    Err(MovesError::ShardUnavailable(shard))
                }
                None => Err(error.into()),
            }
        }
        Err(error) => Err(error.into()),
    }
}
