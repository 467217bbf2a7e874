//! Phase 7, past cutover: the website lives on the target. First any fence an
//! earlier move off the target left there is lifted (until then the website's
//! writes are refused on its own shard) and the copy's checkpoints forgotten,
//! then the source's rows are deleted. Each step is recorded when done, so a
//! resumed attempt does only what is left; nothing here ever goes back. Last,
//! the triggers neither shard needs any longer are dropped (best effort).

use std::time::Instant;

use tracing::info;

use super::context::PhaseContext;
use crate::control::migrations::CleanupStep;
use crate::mover::error::MoveError;
use crate::mover::mechanics::{delete, fence, traces};

/// Cleanup; the walk records the move completed after it.
pub(crate) async fn run(cx: &mut PhaseContext<'_, '_>) -> Result<(), MoveError> {
    let started = Instant::now();
    cx.clean_up().await?;
    cx.attempt.timings.cleanup = started.elapsed();
    Ok(())
}

impl PhaseContext<'_, '_> {
    async fn clean_up(&mut self) -> Result<(), MoveError> {
        let (source, target) = (self.source, self.target);
        let record = self.record().clone();
        if record.target_unfenced_at.is_none() {
            let options = self.fence_options();
            fence::lift(target, &record.target, record.website, None, &options).await?;
            // The source is fenced for the website now: capture has nothing left to see.
            traces::forget(&record, (source, target), &options).await?;
            self.attempt
                .record_cleanup_step(CleanupStep::TargetUnfenced)
                .await?;
            info!(website_id = %record.website, target = %record.target, "the website takes writes on the target");
        }
        if record.source_cleaned_at.is_none() {
            if !record.keep_source {
                let plan = self.plan().await?;
                self.attempt.source_rows_deleted = delete::delete_website_rows(
                    source,
                    &plan,
                    record.website,
                    self.engine().delete_batch_rows,
                )
                .await?;
            }
            self.attempt
                .record_cleanup_step(CleanupStep::SourceCleaned)
                .await?;
        }
        traces::drop_unused_triggers(self.app, &record).await;
        Ok(())
    }
}
