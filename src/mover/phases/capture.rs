//! Phase 2 of an online move: the website's changes are recorded on the source
//! from here on, so the copy may read at any snapshot and catch-up replays
//! whatever it missed.

use tracing::info;

use super::context::PhaseContext;
use crate::domain::Phase;
use crate::mover::error::MoveError;
use crate::mover::mechanics::shard_schema;

pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let plan = cx.plan().await?;
    shard_schema::ensure_both(cx.source, cx.target).await?;
    cx.capture_changes(&plan).await?;
    info!(website_id = %cx.record().website, "capturing the website's changes; copying while it takes writes");
    cx.attempt.set_phase(Phase::Copying).await
}
