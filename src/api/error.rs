//! The API's one error type: `{"error": {"code", "message"}}` with the right
//! status. 5xx bodies say nothing of the cause; the whole chain goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::mover::MoveError;
use crate::shard_ops::ShardOpsError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the control database is unavailable; retry later",
        )
    }

    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; see the server log",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .json(json!({"error": {"code": self.code, "message": self.message}}))
    }
}

impl From<MoveError> for ApiError {
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
                tracing::error!(error = ?error, "request failed");
                return Self::internal();
            }
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self::new(status, error.code(), error.one_line())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            return Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "a conflicting record already exists",
            );
        }
        if crate::db::is_transient(&error) {
            tracing::warn!(error = %error, "control database unavailable");
            Self::unavailable()
        } else {
            tracing::error!(error = ?error, "database error");
            Self::internal()
        }
    }
}

impl From<ShardOpsError> for ApiError {
    fn from(error: ShardOpsError) -> Self {
        use ShardOpsError as E;
        // Database failures answer exactly as the move engine's do (503 or 500).
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
