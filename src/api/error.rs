//! The API's one error type: the web layer's mapping (`web::Failure`) rendered
//! as `{"error": {"code", "message"}}` with its status.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::web::Failure;

#[derive(Debug)]
pub struct ApiError(Failure);

/// Anything the web layer maps answers with the same status and `code` here.
impl<E> From<E> for ApiError
where
    Failure: From<E>,
{
    fn from(error: E) -> Self {
        Self(Failure::from(error))
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Failure::new(status, code, message).into()
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Failure::bad_request(message.into()).into()
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Failure::not_found(code, message).into()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.0.status)
            .json(json!({"error": {"code": self.0.code, "message": self.0.message}}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_is_logged_by_code_and_constraint_without_the_row_its_detail_quotes() {
        let (answer, logs) =
            crate::telemetry::captured(|| ApiError::from(crate::db::fake::check_violation()));
        assert_eq!(answer.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            logs.contains("SQLSTATE 23514, table users, constraint users_email_check"),
            "{logs}"
        );
        assert!(!logs.contains("x@y.example"), "{logs}");
    }
}
