//! Phase 7, past cutover: the website lives on the target. First any fence an
//! earlier move off the target left there is lifted (until then the website's
//! writes are refused on its own shard) and the copy's checkpoints forgotten,
//! then the source's rows are deleted. Each step is recorded when done, so a
//! resumed attempt does only what is left; nothing here ever goes back. Last,
//! the triggers neither shard needs any longer are dropped (best effort).

use sqlx::PgPool;
use tracing::info;

use crate::control::migrations::{self, CleanupStep, MigrationRecord};
use crate::mover::attempt::Attempt;
use crate::mover::error::{Context, MoveError};
use crate::mover::{Mover, checkpoint, delete, fence};

impl Mover {
    pub(crate) async fn clean_up(
        &self,
        attempt: &mut Attempt<'_>,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        let record = attempt.record.clone();
        if record.target_unfenced_at.is_none() {
            let options = self.fence_options();
            fence::lift(target, &record.target, record.website, None, &options).await?;
            // The source is fenced for the website now: capture has nothing left to see.
            self.forget_traces(&record, source, target).await?;
            self.record_step(attempt, CleanupStep::TargetUnfenced)
                .await?;
            info!(website_id = %record.website, target = %record.target, "the website takes writes on the target");
        }
        if record.source_cleaned_at.is_none() {
            if !record.keep_source {
                let plan = self.plan(attempt, source, target).await?;
                attempt.source_rows_deleted = delete::delete_website_rows(
                    source,
                    &plan,
                    record.website,
                    self.settings.engine.delete_batch_rows,
                )
                .await?;
            }
            self.record_step(attempt, CleanupStep::SourceCleaned)
                .await?;
        }
        self.drop_unused_triggers(&record).await;
        Ok(())
    }

    /// The end of a move (cleanup or rollback) is where the triggers that no
    /// move needs any longer are dropped, on both its shards, as far as lock
    /// holders allow: what is left stays `WHEN (false)` until a later move's end.
    pub(crate) async fn drop_unused_triggers(&self, record: &MigrationRecord) {
        let options = self.fence_options();
        for shard in [&record.source, &record.target] {
            if let Ok(pool) = self.shard_pool(shard) {
                fence::drop_unused(pool, shard, &options).await;
            }
        }
    }

    /// What a move keeps while it runs, beside the fence: the copy's
    /// checkpoints and the keys catch-up touched on the target, and an online
    /// move's change capture on the source. Cleanup and rollback both end with
    /// it; each part does nothing when absent.
    pub(crate) async fn forget_traces(
        &self,
        record: &MigrationRecord,
        source: &PgPool,
        target: &PgPool,
    ) -> Result<(), MoveError> {
        checkpoint::clear(target, record.id).await?;
        checkpoint::clear_touched(target, record.id).await?;
        checkpoint::clear_owner(target, record.id).await?;
        let options = self.fence_options();
        fence::release(
            source,
            &record.source,
            record.website,
            Some(record.id),
            &options,
        )
        .await
    }

    async fn record_step(
        &self,
        attempt: &mut Attempt<'_>,
        step: CleanupStep,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let recorded =
            migrations::record_cleanup_step(&mut conn, attempt.record.id, attempt.token, step)
                .await
                .context(|| "recording a cleanup step".into())?;
        attempt.owned(recorded)
    }
}
