//! The engine's, shard operations' and the database's errors as pages: the
//! same status and `code` the API answers (`api::error`), 5xx without the cause.

use actix_web::http::StatusCode;

use super::PageError;
use crate::error_status::{self, Answers};
use crate::mover::MoveError;
use crate::shard_ops::ShardOpsError;

/// The API's mapping (`error_status`), so a page shows the code a client would get.
impl From<MoveError> for PageError {
    fn from(error: MoveError) -> Self {
        let answer = error_status::of_move(&error);
        error_status::body(
            answer,
            &error,
            error.code(),
            error.one_line(),
            "page failed",
        )
    }
}

impl From<ShardOpsError> for PageError {
    fn from(error: ShardOpsError) -> Self {
        let answer = error_status::of_shard_ops(&error);
        error_status::body(
            answer,
            &error,
            error.code(),
            error.one_line(),
            "page failed",
        )
    }
}

impl Answers for PageError {
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

impl From<sqlx::Error> for PageError {
    fn from(error: sqlx::Error) -> Self {
        error_status::database(&error)
    }
}

impl From<crate::rebalance::RebalanceError> for PageError {
    fn from(error: crate::rebalance::RebalanceError) -> Self {
        error_status::of_rebalance(&error, "page failed")
    }
}

impl From<crate::moves::MovesError> for PageError {
    fn from(error: crate::moves::MovesError) -> Self {
        error_status::of_moves(&error, "page failed")
    }
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> Self {
        tracing::error!(error = ?error, "rendering a page failed");
        Self::internal()
    }
}
