//! Phases 5 and 6: sequences (offline moves), then the registry flip. After cutover commits,
//! a move only goes forward. The flip commits only if this attempt still owns
//! the move and no cancel was accepted: both are read under the move row's lock
//! in the same transaction, so a cancel request (one conditional update of that
//! row) either lands first and is honoured, or finds the cutover done and is refused.

use std::time::Instant;

use sqlx::PgPool;
use tracing::info;

use crate::control::{MoveMode, Phase, migrations, registry};
use crate::mover::attempt::Attempt;
use crate::mover::error::{Context, MoveError};
use crate::mover::{Mover, sequences};

impl Mover {
    /// Verify (every row offline; online, inside the freeze, what changes
    /// touched), then cut over.
    pub(crate) async fn verify_and_cut_over(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        if attempt.record.phase == Phase::Verifying {
            let started = Instant::now();
            if attempt.record.mode == MoveMode::Online {
                self.verify_frozen(attempt, source, target).await?;
            } else {
                self.verify_all(attempt, source, target).await?;
            }
            attempt.timings.verify = started.elapsed();
            attempt.tracker.check_cancel().await?;
            self.set_phase(attempt, Phase::Cutover).await?;
        }
        if attempt.record.phase == Phase::Cutover {
            let started = Instant::now();
            self.cutover(attempt, target).await?;
            attempt.timings.cutover = started.elapsed();
        }
        Ok(())
    }

    /// Sequences, then the registry flip and the phase change in one control
    /// transaction: after it commits the move can only go forward.
    pub(crate) async fn cutover(
        &self,
        attempt: &mut Attempt<'_>,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        let source = self.shards.moves(&record.source).expect("route checked");
        if record.mode == MoveMode::Offline {
            // An online move's catch-up advanced them already, batch by batch.
            let plan = self.plan(attempt, source, target).await?;
            sequences::advance(target, &plan, record.website).await?;
        }
        attempt.within_freeze_limit(self.settings.engine.freeze_limit_ms)?;
        let mut tx = self
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
        let tenancy = &self.settings.tenancy;
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
