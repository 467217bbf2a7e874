//! The move engine: preflight, fence, copy, verify, sequences, cutover, cleanup.
//! `Mover::request` records a move; `Mover::run` drives it to an end, resuming
//! from whatever phase and checkpoint an earlier attempt reached.

mod admin;
pub(crate) mod checks;
mod ending;
mod error;
mod mechanics;
mod phases;
pub mod progress;
mod rollback;
mod run;

// The old flat names, while the files settle into their folders.
pub(crate) use checks as preflight;
pub use checks::privileges;
use checks::{schema as schema_checks, schema_notes};
use mechanics::copy::{checkpoint, format as copy_format, row_reader, sql as copy_sql};
use mechanics::verify::online as verify_online;
use mechanics::{collisions, copy, delete, fence, lock, owner_token, raw_pipe, references};
use mechanics::{replay, sequences, shard_schema, verify};
use phases::{attempt, catch_up};

use std::sync::Arc;

use sqlx::PgPool;

pub use admin::fences::{FenceEntry, LiftRefused};
pub use attempt::{MoveOutcome, Run, Timings};
pub use copy::SEND_BYTES;
pub use ending::EndOfMove;
pub use error::MoveError;
pub use preflight::{PreflightReport, TableReport};
pub use progress::{ProgressSink, Silent, Snapshot};
pub use raw_pipe::raw_pipe;
pub use schema_notes::{MaterializedView, SchemaNotes};
pub use shard_schema::{DDL_LOCK, FENCE_SQLSTATE};

use crate::app::App;
use crate::control::migrations::{self, MigrationRecord, NewMigration};
use crate::ids::{ShardName, WebsiteId};
pub(crate) use error::Context;

/// The move engine over the application context (its settings, control pool,
/// shard pools and stop flag, reached through `Deref`), telling each move's
/// end to `endings`.
pub struct Mover {
    app: App,
    endings: Arc<dyn EndOfMove>,
}

impl std::ops::Deref for Mover {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

#[derive(Debug, Clone)]
pub struct MoveRequest {
    pub website: WebsiteId,
    pub target: ShardName,
    pub keep_source: bool,
    pub batch_rows: Option<u32>,
    pub requested_by: Option<String>,
    pub notes: Option<String>,
    pub mode: crate::control::MoveMode,
}

impl Mover {
    pub fn new(app: App, endings: Arc<dyn EndOfMove>) -> Self {
        Self { app, endings }
    }

    /// This mover with another control pool (the API's or the workers'), sharing
    /// settings, shard pools, the stop flag and what it tells of a move's end.
    pub fn with_control_pool(&self, control: PgPool) -> Self {
        Self::new(self.app.with_control_pool(control), self.endings.clone())
    }

    /// The context this mover runs in.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// A pooled connection to the control database.
    pub(crate) async fn control_conn(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, MoveError> {
        self.control
            .acquire()
            .await
            .context(|| "connecting to the control database".into())
    }

    pub(crate) fn fence_options(&self) -> fence::FenceOptions {
        let engine = &self.settings.engine;
        fence::FenceOptions {
            key_column: self.settings.tenancy.key_column.clone(),
            lock_timeout: std::time::Duration::from_millis(engine.fence_lock_timeout_ms),
            give_up_after: std::time::Duration::from_secs(engine.fence_drain_timeout_secs),
        }
    }

    /// Starts (`on`) or stops capturing `website`'s changes on a shard exactly
    /// as an online move does, outside any move: the benchmark measures what
    /// capture costs the website's writes.
    pub(crate) async fn set_capture(
        &self,
        (pool, shard): (&PgPool, &ShardName),
        website: WebsiteId,
        migration: crate::ids::MigrationId,
        tables: &[crate::tenancy::TenantTable],
        on: bool,
    ) -> Result<(), MoveError> {
        let options = self.fence_options();
        if on {
            fence::capture(pool, shard, website, migration, tables, &options).await
        } else {
            fence::release(pool, shard, website, Some(migration), &options).await
        }
    }

    /// Records a pending move (and its audit entry) after the cheap checks:
    /// website known, route valid. A website with an unfinished move gets `Busy`.
    pub async fn request(&self, request: &MoveRequest) -> Result<MigrationRecord, MoveError> {
        let mut tx = self
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
    ) -> Result<MigrationRecord, MoveError> {
        let source = self.current_shard_on(conn, request.website).await?;
        self.check_route(request.website, &source, &request.target)?;
        self.check_admission(conn, &request.target, preflight::Admission::NewMove)
            .await?;
        let new = NewMigration {
            website: request.website,
            source: &source,
            target: &request.target,
            keep_source: request.keep_source,
            batch_rows: request
                .batch_rows
                .unwrap_or(self.settings.engine.batch_rows)
                .max(1),
            requested_by: request.requested_by.as_deref(),
            notes: request.notes.as_deref(),
            mode: request.mode,
        };
        insert_unless_busy(conn, &new).await
    }

    /// The website's unfinished move, if one exists.
    pub async fn active_move(
        &self,
        website: WebsiteId,
    ) -> Result<Option<MigrationRecord>, MoveError> {
        let mut conn = self.control_conn().await?;
        migrations::find_active(&mut conn, website)
            .await
            .context(|| "reading the active move".into())
    }

    /// Shard changes, newest first.
    pub async fn audit_log(
        &self,
        filter: &crate::control::audit_logs::AuditFilter,
    ) -> Result<Vec<crate::control::audit_logs::AuditEntry>, MoveError> {
        let mut conn = self.control_conn().await?;
        crate::control::audit_logs::list(&mut conn, filter)
            .await
            .context(|| "reading the audit log".into())
    }

    /// Cancels a queued move at once, or asks a running one to stop at its next
    /// checkpoint and roll back; false once it has ended or passed cutover.
    pub async fn cancel(&self, id: crate::ids::MigrationId) -> Result<bool, MoveError> {
        if self
            .record_ending_if(|tx| Box::pin(migrations::cancel_pending(tx, id)))
            .await
            .context(|| "cancelling".into())?
        {
            return Ok(true);
        }
        let mut conn = self.control_conn().await?;
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
    new: &NewMigration<'_>,
) -> Result<MigrationRecord, MoveError> {
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
