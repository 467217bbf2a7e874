//! What a use case on a move can answer besides success. Each variant has a
//! stable `code` and one HTTP answer (`web::Failure`), so the API and
//! the dashboard say the same thing for the same refusal.

use crate::ids::{MoveId, ShardName};
use crate::mover::MoveError;

#[derive(Debug, thiserror::Error)]
pub enum MovesError {
    /// The engine refused (busy website, unknown shard, a full target, ...).
    #[error(transparent)]
    Refused(#[from] MoveError),
    #[error("migration {0} does not exist")]
    UnknownMove(MoveId),
    /// The move is in a state that does not allow this (409).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(
        "Idempotency-Key {key:?} was used for a different request (move {existing}); use a new key"
    )]
    KeyReused { key: String, existing: MoveId },
    #[error("requested_by must be an email address")]
    InvalidRequester,
    #[error("{0} is not in TENANT_ADMIN_EMAILS")]
    RequesterNotAllowed(String),
    /// A shard the use case needs did not answer.
    #[error("shard {0} is unavailable; retry later")]
    ShardUnavailable(ShardName),
    #[error("queueing the job: {0}")]
    Queue(#[source] sqlx::Error),
    #[error("control database: {0}")]
    Database(#[from] sqlx::Error),
}

impl MovesError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(e) => e.code(),
            Self::UnknownMove(_) => "unknown_migration",
            Self::Conflict { code, .. } => code,
            Self::KeyReused { .. } => "idempotency_key_reused",
            Self::InvalidRequester => "invalid_requested_by",
            Self::RequesterNotAllowed(_) => "requester_not_allowed",
            Self::ShardUnavailable(_) => "shard_unavailable",
            Self::Queue(_) | Self::Database(_) => "database_unavailable",
        }
    }

    pub fn one_line(&self) -> String {
        match self {
            Self::Refused(e) => e.one_line(),
            other => other.to_string().replace('\n', "; "),
        }
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
