//! Requesting a move: on the caller's transaction, the move and its audit
//! entry are recorded, tied to the request that asked for it, and its first job
//! is queued — all three commit together or not at all. The API's POST and the
//! dashboard's Start both come through here; so do their Finalize buttons,
//! which queue a pending cleanup again.

use std::time::Duration;

use sqlx::PgConnection;

use super::{MoveError, MoveRequest, Mover};
use crate::control::migrations::{self, MigrationRecord};
use crate::ids::MigrationId;
use crate::queue::MoveJob;

/// Who asked: the request id carried into the job's logs, and the caller's
/// idempotency key if any.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub request_id: &'a str,
    pub idempotency_key: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestMoveError {
    /// Refused (`Busy`, unknown website or shard, a full target, ...).
    #[error(transparent)]
    Refused(#[from] MoveError),
    /// Tying the move to its request failed (a reused idempotency key is a unique violation).
    #[error("recording the request: {0}")]
    Record(#[source] sqlx::Error),
    /// The job could not be queued.
    #[error("queueing the move: {0}")]
    Enqueue(#[source] apalis_postgres::Error),
}

impl Mover {
    /// Records the move, its request and its first job on `tx`; the caller commits.
    pub async fn request_move(
        &self,
        tx: &mut PgConnection,
        request: &MoveRequest,
        origin: Origin<'_>,
    ) -> Result<MigrationRecord, RequestMoveError> {
        let record = self.request_in(tx, request).await?;
        migrations::set_request(tx, record.id, origin.idempotency_key, origin.request_id)
            .await
            .map_err(RequestMoveError::Record)?;
        let job = MoveJob {
            migration_id: record.id,
            request_id: Some(origin.request_id.to_owned()),
        };
        job.enqueue(tx, Duration::ZERO)
            .await
            .map_err(RequestMoveError::Enqueue)?;
        Ok(record)
    }

    /// Queues the cleanup of a `cleanup_pending` move again with a fresh retry
    /// budget, on `tx` (the caller commits); `None` when it has no pending cleanup.
    pub async fn resume_cleanup(
        &self,
        tx: &mut PgConnection,
        id: MigrationId,
        request_id: Option<String>,
    ) -> Result<Option<MigrationRecord>, RequestMoveError> {
        let Some(record) = migrations::resume_cleanup(tx, id)
            .await
            .map_err(RequestMoveError::Record)?
        else {
            return Ok(None);
        };
        let job = MoveJob {
            migration_id: id,
            request_id,
        };
        job.enqueue(tx, Duration::ZERO)
            .await
            .map_err(RequestMoveError::Enqueue)?;
        Ok(Some(record))
    }
}
