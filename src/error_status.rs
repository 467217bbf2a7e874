//! How the move engine's and shard operations' errors answer over HTTP: one
//! mapping for the API (`api::error`) and the dashboard, so a page shows the
//! status and `code` a client would get.

use actix_web::http::StatusCode;

use crate::mover::MoveError;
use crate::moves::MovesError;
use crate::rebalance::RebalanceError;
use crate::shard_ops::ShardOpsError;

/// What to answer: a status with the error's own code and message, or one of
/// the two 5xx answers that reveal nothing of the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(StatusCode),
    /// 503 `database_unavailable`: retrying later may succeed.
    Unavailable,
    /// 500 `internal_error`: the cause goes to the log only.
    Internal,
}

pub fn of_move(error: &MoveError) -> Answer {
    match error {
        MoveError::UnknownWebsite(_) | MoveError::UnknownMigration(_) => {
            Answer::Status(StatusCode::NOT_FOUND)
        }
        MoveError::Busy { .. } => Answer::Status(StatusCode::CONFLICT),
        MoveError::Database { .. } | MoveError::FenceDrainTimeout { .. }
            if error.is_transient() =>
        {
            Answer::Unavailable
        }
        MoveError::Database { .. }
        | MoveError::CopyFormat(..)
        | MoveError::CleanupRefused(_)
        | MoveError::Previously { .. } => Answer::Internal,
        _ => Answer::Status(StatusCode::UNPROCESSABLE_ENTITY),
    }
}

/// Database failures answer exactly as the move engine's do (503 or 500).
pub fn of_shard_ops(error: &ShardOpsError) -> Answer {
    use ShardOpsError as E;
    let status = match error {
        E::Database { source, .. } if crate::db::is_transient(source) => {
            return Answer::Unavailable;
        }
        E::Database { .. } => return Answer::Internal,
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
    Answer::Status(status)
}

/// The answer to a use case's refusal, the same from the API and the dashboard.
pub fn of_moves<T: Answers>(error: &MovesError, failed: &'static str) -> T {
    let status = match error {
        MovesError::Refused(e) => return body(of_move(e), e, e.code(), e.one_line(), failed),
        MovesError::Database(e) => return database(e),
        MovesError::Queue(e) => {
            tracing::error!(error = %crate::db::logged(e), "enqueueing the job failed");
            return T::unavailable();
        }
        MovesError::UnknownMove(_) => StatusCode::NOT_FOUND,
        MovesError::Conflict { .. } => StatusCode::CONFLICT,
        MovesError::KeyReused { .. } | MovesError::InvalidRequester => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        MovesError::RequesterNotAllowed(_) => StatusCode::FORBIDDEN,
        MovesError::ShardUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    T::with_status(status, error.code(), error.one_line())
}

/// The answer to a rebalance plan's refusal, the same from the API and the dashboard.
pub fn of_rebalance<T: Answers>(error: &RebalanceError, failed: &'static str) -> T {
    use RebalanceError as E;
    let status = match error {
        E::Requester(e) => return of_moves(e, failed),
        E::Fleet(e) => return body(of_shard_ops(e), e, e.code(), e.one_line(), failed),
        E::Database(e) => return database(e),
        E::Plan(crate::rebalance::planner::PlanError::UnknownShard(_)) | E::UnknownPlan(_) => {
            StatusCode::NOT_FOUND
        }
        E::Plan(_) | E::Invalid(_) | E::NothingToMove => StatusCode::UNPROCESSABLE_ENTITY,
        E::PlanChanged | E::Conflict { .. } => StatusCode::CONFLICT,
    };
    T::with_status(status, error.code(), error.one_line())
}

/// A control-database failure: a unique violation is a 409 (a conflicting
/// record exists), a transient failure a 503, anything else a 500.
pub fn database<T: Answers>(error: &sqlx::Error) -> T {
    if let sqlx::Error::Database(db) = error
        && db.is_unique_violation()
    {
        return T::with_status(
            StatusCode::CONFLICT,
            "conflict",
            "a conflicting record already exists".into(),
        );
    }
    if crate::db::is_transient(error) {
        tracing::warn!(error = %crate::db::logged(error), "control database unavailable");
        T::unavailable()
    } else {
        tracing::error!(error = %crate::db::logged(error), "database error");
        T::internal()
    }
}

/// An error body a handler can answer with: the API's JSON error, the dashboard's page.
pub trait Answers: Sized {
    fn with_status(status: StatusCode, code: &'static str, message: String) -> Self;
    fn unavailable() -> Self;
    fn internal() -> Self;
}

/// The body for `answer`; 5xx causes go to the log, saying what `failed`.
pub fn body<T: Answers>(
    answer: Answer,
    error: &(dyn std::error::Error + 'static),
    code: &'static str,
    message: String,
    failed: &'static str,
) -> T {
    match answer {
        Answer::Unavailable => {
            tracing::warn!(error = %crate::db::logged(error), "service unavailable");
            T::unavailable()
        }
        Answer::Internal => {
            tracing::error!(error = %crate::db::logged(error), "{failed}");
            T::internal()
        }
        Answer::Status(status) => T::with_status(status, code, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Internal;

    impl Answers for Internal {
        fn with_status(_: StatusCode, _: &'static str, _: String) -> Self {
            Self
        }
        fn unavailable() -> Self {
            Self
        }
        fn internal() -> Self {
            Self
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading the registry")]
    struct Wrapped(#[source] sqlx::Error);

    #[test]
    fn a_5xx_cause_is_logged_by_code_and_constraint_without_the_row_its_detail_quotes() {
        let error = Wrapped(crate::db::fake::check_violation());
        let (_, logs) = crate::telemetry::captured(|| {
            body::<Internal>(Answer::Internal, &error, "x", String::new(), "page failed")
        });
        assert!(
            logs.contains("reading the registry: SQLSTATE 23514"),
            "{logs}"
        );
        assert!(!logs.contains("x@y.example"), "{logs}");
    }
}
