//! Finalizing a move past its cutover: the cleanup of a `cleanup_pending` move
//! is queued again with a fresh retry budget (job and budget commit together).
//! A cleanup already running is left to its live job; anything else is a
//! conflict saying why there is nothing to resume.

use std::time::Duration;

use super::MovesError;
use crate::control::migrations;
use crate::domain::{MoveRecord, Phase, Status};
use crate::ids::MoveId;
use crate::jobs::MoveJob;
use crate::mover::Mover;

pub async fn finalize(
    mover: &Mover,
    id: MoveId,
    request_id: Option<String>,
) -> Result<(), MovesError> {
    let mut tx = mover.control_pool().begin().await?;
    if let Some(record) = migrations::resume_cleanup(&mut tx, id).await? {
        let job = MoveJob {
            migration_id: id,
            request_id,
        };
        job.enqueue(&mut tx, Duration::ZERO)
            .await
            .map_err(MovesError::Queue)?;
        tx.commit().await?;
        tracing::info!(migration_id = %id, website_id = %record.website, "cleanup resumed");
        return Ok(());
    }
    let record = migrations::find(&mut tx, id)
        .await?
        .ok_or(MovesError::UnknownMove(id))?;
    if record.status == Status::InProgress && record.phase == Phase::Cleanup {
        // Its job is live (the sweeper sees to that): nothing more to queue.
        return Ok(());
    }
    Err(MovesError::conflict("cannot_finalize", refusal(&record)))
}

fn refusal(record: &MoveRecord) -> String {
    let id = record.id;
    match record.status {
        Status::Completed if record.keep_source => format!(
            "move {id} completed and kept its source rows on purpose; delete them with `shardmover finalize --website {}`",
            record.website
        ),
        Status::Completed => format!("move {id} completed: nothing is left to clean"),
        _ => format!(
            "move {id} is {} in phase {}: it is not past cutover, so there is no cleanup to resume",
            record.status, record.phase
        ),
    }
}
