//! `Idempotency-Key` on `POST /api/v1/migrations`: a repeat of the same request
//! is answered with the move the first one created; the same key with another
//! request is refused (422) rather than answered with a move it did not ask for.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;

use super::{ApiError, AppState};
use crate::control::migrations::{self, MigrationRecord};
use crate::mover::MoveRequest;

/// The key the caller sent, when it is usable (1 to 200 characters).
pub fn key(request: &HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get("idempotency-key")?
        .to_str()
        .ok()?
        .trim();
    (!value.is_empty() && value.len() <= 200).then(|| value.to_owned())
}

/// The move an earlier request with this key created, if it asked for the
/// same move; a different request under the same key is refused.
pub async fn earlier_move(
    state: &AppState,
    key: Option<&str>,
    request: &MoveRequest,
) -> Result<Option<MigrationRecord>, ApiError> {
    let Some(key) = key else { return Ok(None) };
    let mut conn = state.app.control_pool().acquire().await?;
    let Some(record) = migrations::find_by_idempotency_key(&mut conn, key).await? else {
        return Ok(None);
    };
    if same_request(&record, request) {
        Ok(Some(record))
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            format!(
                "Idempotency-Key {key:?} was used for a different request (move {}); use a new key",
                record.id
            ),
        ))
    }
}

fn same_request(record: &MigrationRecord, request: &MoveRequest) -> bool {
    record.website == request.website
        && record.target == request.target
        && record.keep_source == request.keep_source
        && record.requested_by == request.requested_by
        && record.notes == request.notes
        && record.mode == request.mode
}
