//! Asking the engine about moves before and beside running them: a dry run,
//! recording a move request (after the cheap checks), the website's unfinished
//! move, the audit log, and cancelling.

use super::Mover;
use super::checks::admission::{self, Admission};
use super::checks::{self, report::PreflightReport};
use super::error::{Context, MoveError};
use super::mechanics::routes::{check_route, control_conn, current_shard_on};
use crate::control::migrations::{self, NewMove};
use crate::domain::{MoveRecord, MoveRequest};
use crate::ids::{EmailAddress, ShardName, WebsiteId};

impl Mover {
    /// Runs every preflight check of a move not yet recorded (a dry run);
    /// touches nothing on either shard.
    pub async fn preflight(
        &self,
        website: WebsiteId,
        target: &ShardName,
    ) -> Result<PreflightReport, MoveError> {
        checks::preflight(&self.app, website, target, Admission::DryRun).await
    }

    /// Records a pending move (and its audit entry) after the cheap checks:
    /// website known, route valid. A website with an unfinished move gets `Busy`.
    pub async fn request(&self, request: &MoveRequest) -> Result<MoveRecord, MoveError> {
        let mut tx = self
            .app
            .control
            .begin()
            .await
            .context(|| "connecting to the control database".into())?;
        let record = self.request_in(&mut tx, request).await?;
        tx.commit().await.context(|| "recording the move".into())?;
        Ok(record)
    }

    /// `request` on the caller's transaction, so the caller can enqueue the job
    /// in it; the target's catalogue row stays locked until it ends, so
    /// concurrent requests count the target's capacity in turn.
    pub async fn request_in(
        &self,
        conn: &mut sqlx::PgConnection,
        request: &MoveRequest,
    ) -> Result<MoveRecord, MoveError> {
        let source = current_shard_on(&self.app, conn, request.website).await?;
        check_route(&self.app, request.website, &source, &request.target)?;
        admission::check(conn, &self.app, &request.target, Admission::NewMove).await?;
        let new = NewMove {
            website: request.website,
            source: &source,
            target: &request.target,
            keep_source: request.keep_source,
            batch_rows: request
                .batch_rows
                .unwrap_or(self.app.settings.engine.batch_rows)
                .max(1),
            requested_by: request.requested_by.as_ref().map(EmailAddress::as_str),
            notes: request.notes.as_deref(),
            mode: request.mode,
        };
        insert_unless_busy(conn, &new).await
    }

    /// The website's unfinished move, if one exists.
    pub async fn active_move(&self, website: WebsiteId) -> Result<Option<MoveRecord>, MoveError> {
        let mut conn = control_conn(&self.app).await?;
        migrations::find_active(&mut conn, website)
            .await
            .context(|| "reading the active move".into())
    }

    /// Shard changes, newest first.
    pub async fn audit_log(
        &self,
        filter: &crate::control::audit_logs::AuditFilter,
    ) -> Result<Vec<crate::control::audit_logs::AuditEntry>, MoveError> {
        let mut conn = control_conn(&self.app).await?;
        crate::control::audit_logs::list(&mut conn, filter)
            .await
            .context(|| "reading the audit log".into())
    }

    /// Cancels a queued move at once, or asks a running one to stop at its next
    /// checkpoint and roll back; false once it has ended or passed cutover.
    pub async fn cancel(&self, id: crate::ids::MoveId) -> Result<bool, MoveError> {
        if self
            .record_ending_if(|tx| Box::pin(migrations::cancel_pending(tx, id)))
            .await
            .context(|| "cancelling".into())?
        {
            return Ok(true);
        }
        let mut conn = control_conn(&self.app).await?;
        migrations::request_cancel(&mut conn, id)
            .await
            .context(|| "requesting cancel".into())
    }
}

/// Inserts the move, or refuses with `Busy` naming the website's unfinished
/// move. The insert runs under a savepoint so the caller's transaction
/// survives the unique violation and the existing move is read on the same
/// connection: a request never waits for a second pooled connection.
async fn insert_unless_busy(
    conn: &mut sqlx::PgConnection,
    new: &NewMove<'_>,
) -> Result<MoveRecord, MoveError> {
    use sqlx::Connection;
    let context = || "recording the move".to_owned();
    let mut savepoint = conn.begin().await.context(context)?;
    let error = match migrations::insert(&mut savepoint, new).await {
        Ok(record) => {
            savepoint.commit().await.context(context)?;
            return Ok(record);
        }
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => sqlx::Error::Database(db),
        Err(source) => {
            return Err(MoveError::Database {
                context: context(),
                source,
            });
        }
    };
    savepoint.rollback().await.context(context)?;
    match migrations::find_active(conn, new.website)
        .await
        .context(|| "reading the active move".into())?
    {
        Some(existing) => Err(MoveError::Busy {
            website: new.website,
            existing: existing.id,
        }),
        None => Err(MoveError::Database {
            context: context(),
            source: error,
        }),
    }
}
