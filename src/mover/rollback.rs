//! Failure before cutover: the target loses every row this move wrote and its
//! checkpoints, the source's fence is lifted, the registry is untouched. The
//! need to roll back is recorded first, so a crash mid-rollback finishes it later.

use tracing::{error, info};

use super::error::{Context, MoveError};
use super::{Mover, checkpoint, delete, fence};
use crate::control::{Phase, Status, migrations, migrations::MigrationRecord, registry};

impl Mover {
    /// Ends a move that hit a permanent error; returns the error to report.
    pub(crate) async fn fail(&self, record: &MigrationRecord, cause: MoveError) -> MoveError {
        let status = if matches!(cause, MoveError::Cancelled) {
            Status::Cancelled
        } else {
            Status::Failed
        };
        let result = if record.phase >= Phase::Cleanup {
            self.stop_after_cutover(record, &cause).await
        } else {
            self.roll_back(record, &cause, status).await
        };
        match result {
            Ok(()) => cause,
            Err(rollback_error) => {
                error!(error = %rollback_error, cause = %cause, "rollback incomplete; it is retried when the move resumes");
                rollback_error
            }
        }
    }

    async fn roll_back(
        &self,
        record: &MigrationRecord,
        cause: &MoveError,
        status: Status,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        // A resumed rollback keeps the error its first attempt recorded.
        if !matches!(cause, MoveError::Previously { .. }) {
            migrations::record_error(&mut conn, record.id, cause.code(), &cause.one_line(), true)
                .await
                .context(|| "recording the rollback".into())?;
        }
        // Before the copy phase nothing was fenced or written: nothing to undo.
        if record.phase >= Phase::Copying {
            let now = registry::shard_of(&mut conn, &self.settings.tenancy, record.website)
                .await
                .context(|| "reading the registry".into())?;
            if now.as_deref() != Some(record.source.as_str()) {
                return Err(MoveError::CleanupRefused(format!(
                    "website {} is registered on {:?}, not {}; its target rows were left for an operator",
                    record.website, now, record.source
                )));
            }
            let (source, target) = (
                self.shard_pool(&record.source)?,
                self.shard_pool(&record.target)?,
            );
            let plan = self
                .discover_plan(source, target)
                .await
                .or_else(|e| match e {
                    MoveError::Database { .. } => Err(e),
                    // The shapes no longer match (that may be why we failed): the source's tables still name what to delete.
                    _ => Ok(Vec::new()),
                })?;
            let plan = if plan.is_empty() {
                self.source_tables(source).await?
            } else {
                plan
            };
            let key = &self.settings.tenancy.key_column;
            delete::delete_website_rows(
                target,
                &plan,
                key,
                record.website,
                self.settings.engine.delete_batch_rows,
            )
            .await?;
            if table_exists(target, "shardmover.copy_checkpoints").await? {
                checkpoint::clear(target, record.id).await?;
            }
            fence::lift(
                source,
                &record.source,
                record.website,
                Some(record.id),
                &self.fence_options(),
            )
            .await?;
        }
        drop(conn);
        self.conclude(record.id, status)
            .await
            .context(|| "recording the failure".into())?;
        info!(website_id = %record.website, status = %status, "move rolled back; the source is as it was");
        Ok(())
    }

    async fn stop_after_cutover(
        &self,
        record: &MigrationRecord,
        cause: &MoveError,
    ) -> Result<(), MoveError> {
        let mut conn = self.control_conn().await?;
        let message = format!(
            "{}; the website already lives on {} and its old rows on {} stay fenced; fix the cause, then run `shardmover finalize --website {}`",
            cause.one_line(),
            record.target,
            record.source,
            record.website
        );
        migrations::record_error(&mut conn, record.id, cause.code(), &message, false)
            .await
            .context(|| "recording the failure".into())?;
        drop(conn);
        self.conclude(record.id, Status::Failed)
            .await
            .context(|| "recording the failure".into())
    }

    pub(crate) fn shard_pool(
        &self,
        name: &crate::ids::ShardName,
    ) -> Result<&sqlx::PgPool, MoveError> {
        self.shards
            .get(name)
            .ok_or_else(|| MoveError::UnknownShard(name.to_string()))
    }

    async fn source_tables(
        &self,
        source: &sqlx::PgPool,
    ) -> Result<Vec<super::TenantTable>, MoveError> {
        let mut conn = source
            .acquire()
            .await
            .context(|| "connecting to the source shard".into())?;
        let tables = super::catalog::discover(&mut conn, &self.settings.tenancy).await?;
        super::plan::order_by_foreign_keys(tables)
    }
}

async fn table_exists(pool: &sqlx::PgPool, name: &str) -> Result<bool, MoveError> {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .context(|| format!("looking for {name}"))
}
