//! Cancelling a move: a queued one ends at once, a running one stops at its
//! next checkpoint and rolls back; past cutover or ended, it is a conflict.

use super::MovesError;
use crate::control::migrations;
use crate::ids::MoveId;
use crate::mover::Mover;

pub async fn cancel(mover: &Mover, id: MoveId) -> Result<(), MovesError> {
    {
        let mut conn = mover.control_pool().acquire().await?;
        migrations::find(&mut conn, id)
            .await?
            .ok_or(MovesError::UnknownMove(id))?;
    }
    if mover.cancel(id).await? {
        tracing::info!(migration_id = %id, "move cancelled");
        Ok(())
    } else {
        Err(MovesError::conflict(
            "cannot_cancel",
            format!("move {id} has ended or is past cutover"),
        ))
    }
}
