//! The API's one error type: `{"error": {"code", "message"}}` with the right
//! status. 5xx bodies say nothing of the cause; the whole chain goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::error_status::{self, Answers};
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
        let answer = error_status::of_move(&error);
        error_status::body(
            answer,
            &error,
            error.code(),
            error.one_line(),
            "request failed",
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        error_status::database(&error)
    }
}

impl From<crate::rebalance::RebalanceError> for ApiError {
    fn from(error: crate::rebalance::RebalanceError) -> Self {
        error_status::of_rebalance(&error, "request failed")
    }
}

impl From<crate::moves::MovesError> for ApiError {
    fn from(error: crate::moves::MovesError) -> Self {
        error_status::of_moves(&error, "request failed")
    }
}

impl From<ShardOpsError> for ApiError {
    fn from(error: ShardOpsError) -> Self {
        let answer = error_status::of_shard_ops(&error);
        error_status::body(
            answer,
            &error,
            error.code(),
            error.one_line(),
            "request failed",
        )
    }
}

impl Answers for ApiError {
    fn with_status(status: StatusCode, code: &'static str, message: String) -> Self {
        Self::new(status, code, message)
    }

    fn unavailable() -> Self {
        Self::unavailable()
    }

    fn internal() -> Self {
        Self::internal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_is_logged_by_code_and_constraint_without_the_row_its_detail_quotes() {
        let (answer, logs) =
            crate::telemetry::captured(|| ApiError::from(crate::db::fake::check_violation()));
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            logs.contains("SQLSTATE 23514, table users, constraint users_email_check"),
            "{logs}"
        );
        assert!(!logs.contains("x@y.example"), "{logs}");
    }
}
