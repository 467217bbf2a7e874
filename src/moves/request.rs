//! Requesting a move: the move, its audit entry, the request that asked for it
//! and its first job commit together or not at all. A repeat of a request
//! under the same `Idempotency-Key` is answered with the move the first one
//! created; the same key with another request is refused.

use std::time::Duration;

use super::MovesError;
use crate::control::migrations;
use crate::domain::{MoveRecord, MoveRequest};
use crate::jobs::MoveJob;
use crate::mover::{MoveError, Mover};

/// Who asked: the request id carried into the job's logs, and the caller's
/// idempotency key if any.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub request_id: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// Records and queues the move (or answers with the one this key created).
pub async fn request(
    mover: &Mover,
    request: &MoveRequest,
    origin: Origin<'_>,
) -> Result<MoveRecord, MovesError> {
    if let Some(existing) = earlier_move(mover, origin.idempotency_key, request).await? {
        return Ok(existing);
    }
    let mut tx = mover.control_pool().begin().await?;
    let record = match mover.request_in(&mut tx, request).await {
        Ok(record) => record,
        Err(busy @ MoveError::Busy { .. }) => {
            drop(tx);
            // A concurrent request with the same key won the race: answer as it did.
            return match earlier_move(mover, origin.idempotency_key, request).await? {
                Some(existing) => Ok(existing),
                None => Err(busy.into()),
            };
        }
        Err(refused) => return Err(refused.into()),
    };
    migrations::set_request(
        &mut tx,
        record.id,
        origin.idempotency_key,
        origin.request_id,
    )
    .await?;
    let job = MoveJob {
        migration_id: record.id,
        request_id: Some(origin.request_id.to_owned()),
    };
    job.enqueue(&mut tx, Duration::ZERO)
        .await
        .map_err(MovesError::Queue)?;
    tx.commit().await?;
    tracing::info!(migration_id = %record.id, website_id = %request.website,
        request_id = origin.request_id, "move requested");
    Ok(record)
}

/// The move an earlier request with this key created, if it asked for the
/// same move; a different request under the same key is refused.
async fn earlier_move(
    mover: &Mover,
    key: Option<&str>,
    request: &MoveRequest,
) -> Result<Option<MoveRecord>, MovesError> {
    let Some(key) = key else { return Ok(None) };
    let mut conn = mover.control_pool().acquire().await?;
    let Some(record) = migrations::find_by_idempotency_key(&mut conn, key).await? else {
        return Ok(None);
    };
    if same_request(&record, request) {
        Ok(Some(record))
    } else {
        Err(MovesError::KeyReused {
            key: key.to_owned(),
            existing: record.id,
        })
    }
}

fn same_request(record: &MoveRecord, request: &MoveRequest) -> bool {
    record.website == request.website
        && record.target == request.target
        && record.keep_source == request.keep_source
        && record.requested_by.as_deref() == request.requested_by.as_ref().map(|e| e.as_str())
        && record.notes == request.notes
        && record.mode == request.mode
}
