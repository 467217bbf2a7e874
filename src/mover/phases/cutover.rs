//! Phases 5 and 6: sequences (offline moves), then the registry flip. After cutover commits,
//! a move only goes forward. The flip commits only if this attempt still owns
//! the move and no cancel was accepted: both are read under the move row's lock
//! in the same transaction, so a cancel request (one conditional update of that
//! row) either lands first and is honoured, or finds the cutover done and is refused.

use std::time::Instant;

use tracing::info;

use super::context::PhaseContext;
use crate::control::{migrations, registry};
use crate::domain::{MoveMode, Phase};
use crate::mover::error::{Context, MoveError};
use crate::mover::mechanics::sequences;

/// Cutover; the move is in Cleanup once it commits.
pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let started = Instant::now();
    cx.cutover().await?;
    cx.attempt.timings.cutover = started.elapsed();
    Ok(())
}

impl PhaseContext<'_, '_> {
    /// Sequences, then the registry flip and the phase change in one control
    /// transaction: after it commits the move can only go forward.
    async fn cutover(&mut self) -> Result<(), MoveError> {
        let target = self.target;
        let record = self.record().clone();
        if record.mode == MoveMode::Offline {
            // An online move's catch-up advanced them already, batch by batch.
            let plan = self.plan().await?;
            sequences::advance(target, &plan, record.website).await?;
        }
        let attempt = &mut *self.attempt;
        attempt.within_freeze_limit(self.app.settings.engine.freeze_limit_ms)?;
        let mut tx = self
            .app
            .control
            .begin()
            .await
            .context(|| "opening the cutover transaction".into())?;
        let claim = migrations::claim(&mut tx, record.id, attempt.token, true)
            .await
            .context(|| "locking the move for cutover".into())?;
        attempt.owned(claim.owned)?;
        if claim.cancel_requested {
            return Err(MoveError::Cancelled);
        }
        let tenancy = &self.app.settings.tenancy;
        let flipped = registry::move_website(
            &mut tx,
            tenancy,
            record.website,
            &record.source,
            &record.target,
        )
        .await
        .context(|| "updating the tenant registry".into())?;
        if !flipped {
            let now = registry::shard_of(&mut tx, tenancy, record.website)
                .await
                .context(|| "reading the registry".into())?;
            if now.as_deref() != Some(record.target.as_str()) {
                return Err(MoveError::SourceChanged {
                    website: record.website,
                    expected: record.source.clone(),
                    actual: now.unwrap_or_default(),
                });
            }
        }
        if record.mode == MoveMode::Online {
            let ended =
                migrations::end_freeze(&mut tx, record.id, attempt.token, attempt.freeze_drained)
                    .await
                    .context(|| "recording the end of the freeze".into())?;
            attempt.owned(ended)?;
        }
        let moved = migrations::set_phase(&mut tx, record.id, attempt.token, Phase::Cleanup)
            .await
            .context(|| "recording cutover".into())?;
        attempt.owned(moved)?;
        attempt.cutover_sent = true;
        tx.commit().await.context(|| "committing cutover".into())?;
        attempt.record.phase = Phase::Cleanup;
        attempt.tracker.set_phase(Phase::Cleanup);
        info!(website_id = %record.website, target = %record.target, "registry now points at the target");
        // Lifting any fence an older move left on the target is the cleanup's
        // first step: recorded, so a crash right here is finished on resume.
        Ok(())
    }
}
