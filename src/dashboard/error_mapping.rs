//! The engine's, shard operations' and the database's errors as pages: the
//! same status and `code` the API answers (`api::error`), 5xx without the cause.

use actix_web::http::StatusCode;

use super::PageError;
use crate::mover::MoveError;
use crate::shard_ops::ShardOpsError;

/// The API's mapping (`api::error`), so a page shows the code a client would get.
impl From<MoveError> for PageError {
    fn from(error: MoveError) -> Self {
        let status = match &error {
            MoveError::UnknownWebsite(_) | MoveError::UnknownMigration(_) => StatusCode::NOT_FOUND,
            MoveError::Busy { .. } => StatusCode::CONFLICT,
            MoveError::Database { .. } | MoveError::FenceDrainTimeout { .. }
                if error.is_transient() =>
            {
                tracing::warn!(error = %error, "service unavailable");
                return Self::unavailable();
            }
            MoveError::Database { .. }
            | MoveError::CopyFormat(..)
            | MoveError::CleanupRefused(_)
            | MoveError::Previously { .. } => {
                tracing::error!(error = ?error, "page failed");
                return Self::internal();
            }
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, error.code(), error.one_line())
    }
}

impl From<ShardOpsError> for PageError {
    fn from(error: ShardOpsError) -> Self {
        use ShardOpsError as E;
        let error = match error {
            E::Database { context, source } => {
                return MoveError::Database { context, source }.into();
            }
            other => other,
        };
        let status = match &error {
            E::UnknownShard(_) | E::UnknownWebsite(_) => StatusCode::NOT_FOUND,
            E::HasRows { .. }
            | E::MoveInProgress { .. }
            | E::Changed(_)
            | E::PlanChanged
            | E::NoShardAvailable => StatusCode::CONFLICT,
            E::BulkDisabled => StatusCode::FORBIDDEN,
            E::ShardUnreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, error.code(), error.one_line())
    }
}

impl From<sqlx::Error> for PageError {
    fn from(error: sqlx::Error) -> Self {
        if crate::db::is_transient(&error) {
            tracing::warn!(error = %error, "control database unavailable");
            Self::unavailable()
        } else {
            tracing::error!(error = ?error, "database error");
            Self::internal()
        }
    }
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> Self {
        tracing::error!(error = ?error, "rendering a page failed");
        Self::internal()
    }
}
