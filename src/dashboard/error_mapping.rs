//! The engine's, shard operations' and the database's errors as pages: the
//! same status and `code` the API answers (`api::error`), 5xx without the cause.

use super::PageError;
use crate::error_status::{self, Answer};
use crate::mover::MoveError;
use crate::shard_ops::ShardOpsError;

/// The API's mapping (`error_status`), so a page shows the code a client would get.
impl From<MoveError> for PageError {
    fn from(error: MoveError) -> Self {
        let answer = error_status::of_move(&error);
        Self::answer(answer, &error, error.code(), error.one_line())
    }
}

impl From<ShardOpsError> for PageError {
    fn from(error: ShardOpsError) -> Self {
        let answer = error_status::of_shard_ops(&error);
        Self::answer(answer, &error, error.code(), error.one_line())
    }
}

impl PageError {
    /// The page for an engine or shard-operations error; 5xx causes go to the log.
    fn answer(
        answer: Answer,
        error: &(dyn std::error::Error + 'static),
        code: &'static str,
        message: String,
    ) -> Self {
        match answer {
            Answer::Unavailable => {
                tracing::warn!(error = %error, "service unavailable");
                Self::unavailable()
            }
            Answer::Internal => {
                tracing::error!(error = ?error, "page failed");
                Self::internal()
            }
            Answer::Status(status) => Self::new(status, code, message),
        }
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
