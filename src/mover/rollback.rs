//! Failure before cutover: the target loses every row this move wrote and its
//! checkpoints, the source's fence is lifted, the registry is untouched. The
//! need to roll back is recorded first, so a crash mid-rollback finishes it later.
//! Failure after cutover never goes back: the cleanup is left pending. Only the
//! attempt that owns the move may do either.

use tracing::{error, info, warn};

use super::Mover;
use super::checks::plan;
use super::error::{Context, MoveError};
use super::mechanics::fence::{self, FenceOptions};
use super::mechanics::routes::{control_conn, shard_pool};
use super::mechanics::{delete, traces};
use crate::control::{migrations, registry};
use crate::domain::{MoveRecord, Phase, Status};

impl Mover {
    /// Ends a move that hit a permanent error; returns the error to report.
    pub(crate) async fn fail(
        &self,
        record: &MoveRecord,
        attempt: i32,
        cause: MoveError,
    ) -> MoveError {
        let result = if record.phase >= Phase::Cleanup {
            self.leave_cleanup_pending(record, attempt, cause.code(), &cause.one_line())
                .await
        } else {
            self.roll_back(record, attempt, &cause).await
        };
        match result {
            Ok(()) => cause,
            Err(lost @ MoveError::LostOwnership { .. }) => {
                warn!(error = %lost, cause = %cause, "a newer attempt owns the move; it decides what happens");
                lost
            }
            Err(refused @ MoveError::RollbackRefused(_)) => refused,
            Err(rollback_error) => {
                error!(error = %rollback_error, cause = %cause, "rollback incomplete; it is retried when the move resumes");
                rollback_error
            }
        }
    }

    /// Called by the job layer when a move's retries are used up: before
    /// cutover its rollback is recorded (the next run does it); after, its
    /// cleanup is left pending. Only under `attempt`, the one the job's own run
    /// started: `LostOwnership` if a newer attempt owns the move.
    pub async fn give_up(
        &self,
        record: &MoveRecord,
        attempt: i32,
        cause: &MoveError,
    ) -> Result<(), MoveError> {
        let message = format!(
            "gave up after {} attempts: {}",
            attempt - record.retry_from,
            cause.one_line()
        );
        if record.phase >= Phase::Cleanup {
            return self
                .leave_cleanup_pending(record, attempt, "retries_exhausted", &message)
                .await;
        }
        let mut conn = control_conn(&self.app).await?;
        // A rollback already recorded (after a cancel, say) keeps its cause.
        let recorded = if record.rollback_required {
            migrations::owns(&mut conn, record.id, attempt).await
        } else {
            let code = "retries_exhausted";
            migrations::record_error(&mut conn, record.id, attempt, code, &message, true).await
        };
        lost_unless(
            recorded.context(|| "recording the rollback".into())?,
            record,
            attempt,
        )
    }

    async fn roll_back(
        &self,
        record: &MoveRecord,
        attempt: i32,
        cause: &MoveError,
    ) -> Result<(), MoveError> {
        let mut conn = control_conn(&self.app).await?;
        // A resumed rollback keeps the error its first attempt recorded.
        let owned = if matches!(cause, MoveError::Previously { .. }) {
            migrations::owns(&mut conn, record.id, attempt).await
        } else {
            let (code, message) = (cause.code(), cause.one_line());
            migrations::record_error(&mut conn, record.id, attempt, code, &message, true).await
        };
        lost_unless(
            owned.context(|| "recording the rollback".into())?,
            record,
            attempt,
        )?;
        // Before capture or copy nothing was fenced, captured or written: nothing to undo.
        if record.phase >= Phase::Capturing {
            let now = registry::shard_of(&mut conn, &self.app.settings.tenancy, record.website)
                .await
                .context(|| "reading the registry".into())?;
            if now.as_deref() != Some(record.source.as_str()) {
                drop(conn);
                return self.refuse_rollback(record, attempt, cause, now).await;
            }
            let (source, target) = (
                shard_pool(&self.app, &record.source)?,
                shard_pool(&self.app, &record.target)?,
            );
            // The fence first: the source is the website's home again, and its
            // writes must not wait on the target's rows being deleted.
            let options = FenceOptions::of(&self.app.settings);
            fence::lift(
                source,
                &record.source,
                record.website,
                Some(record.id),
                &options,
            )
            .await?;
            let ended = migrations::end_freeze_by_rollback(&mut conn, record.id, attempt).await;
            ended.context(|| "recording the end of the freeze".into())?;
            let plan = plan::discover(&self.app, source, target)
                .await
                .or_else(|e| match e {
                    MoveError::Database { .. } => Err(e),
                    // The shapes no longer match (that may be why we failed): the source's tables still name what to delete.
                    _ => Ok(Vec::new()),
                })?;
            let plan = if plan.is_empty() {
                plan::source_tables(&self.app, source).await?
            } else {
                plan
            };
            delete::delete_website_rows(
                target,
                &plan,
                record.website,
                self.app.settings.engine.delete_batch_rows,
            )
            .await?;
            traces::forget(record, (source, target), &options).await?;
        }
        drop(conn);
        // `cancelled` if a cancel was accepted, whatever this attempt's cause.
        let id = record.id;
        let ended = self
            .record_ending_if(move |tx| Box::pin(migrations::finish_rolled_back(tx, id, attempt)))
            .await
            .context(|| "recording the failure".into())?;
        lost_unless(ended, record, attempt)?;
        info!(website_id = %record.website, "move rolled back; the source is as it was");
        traces::drop_unused_triggers(&self.app, record).await;
        Ok(())
    }

    /// Someone else changed the registry mid-move: undoing our writes could
    /// destroy live data, so nothing is touched and the move ends `failed`
    /// (code `rollback_refused`) saying what was left where, with its notice.
    async fn refuse_rollback(
        &self,
        record: &MoveRecord,
        attempt: i32,
        cause: &MoveError,
        registered: Option<String>,
    ) -> Result<(), MoveError> {
        let refusal = MoveError::RollbackRefused(format!(
            "{}; website {} is registered on {} now, not on {} where this move started, so someone \
             else changed the registry; nothing was rolled back: the rows this move copied to {} \
             and the write fence (and an online move's change capture) on {} were left for an operator",
            cause.one_line(),
            record.website,
            registered.as_deref().unwrap_or("no shard"),
            record.source,
            record.target,
            record.source
        ));
        let mut conn = control_conn(&self.app).await?;
        let (code, message) = (refusal.code(), refusal.one_line());
        let recorded =
            migrations::record_error(&mut conn, record.id, attempt, code, &message, false)
                .await
                .context(|| "recording the refused rollback".into())?;
        lost_unless(recorded, record, attempt)?;
        drop(conn);
        let ended = self
            .record_ending(record.id, attempt, Status::Failed)
            .await
            .context(|| "recording the refused rollback".into())?;
        lost_unless(ended, record, attempt)?;
        error!(website_id = %record.website, error = %refusal, "rollback refused; the move ended failed");
        Err(refusal)
    }

    /// Past cutover: the move becomes `cleanup_pending`, saying plainly where
    /// the website lives and what is left, with its notice.
    async fn leave_cleanup_pending(
        &self,
        record: &MoveRecord,
        attempt: i32,
        code: &str,
        cause: &str,
    ) -> Result<(), MoveError> {
        let writes = if record.target_unfenced_at.is_none() {
            format!(
                "; its writes there stay refused while a fence an earlier move left on {} is not lifted",
                record.target
            )
        } else {
            String::new()
        };
        let message = format!(
            "{cause}; the website lives on {target} (the registry was switched after every checksum matched){writes}; \
             its old rows on {source} are still there, fenced; fix the cause, then resume the cleanup: \
             POST /api/v1/migrations/{id}/finalize or `shardmover finalize --website {website}`",
            target = record.target,
            source = record.source,
            id = record.id,
            website = record.website,
        );
        let (id, code_owned) = (record.id, code.to_owned());
        let left = self
            .record_ending_if(move |tx| {
                Box::pin(async move {
                    migrations::leave_cleanup_pending(tx, id, attempt, &code_owned, &message).await
                })
            })
            .await
            .context(|| "recording the pending cleanup".into())?;
        lost_unless(left, record, attempt)?;
        warn!(website_id = %record.website, code, "cleanup stopped; the website lives on the target and the cleanup waits for finalize");
        Ok(())
    }
}

fn lost_unless(written: bool, record: &MoveRecord, attempt: i32) -> Result<(), MoveError> {
    if written {
        Ok(())
    } else {
        Err(MoveError::LostOwnership {
            migration: record.id,
            attempt,
        })
    }
}
