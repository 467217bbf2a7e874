//! Every error the API and the dashboard answer with, mapped once: the move
//! engine's, the use cases', shard operations', rebalance plans' and the control
//! database's. A unique violation is a 409 (a conflicting record exists); 5xx
//! answers say nothing of the cause, whose whole chain goes to the log.

use std::fmt;

use actix_web::http::StatusCode;

use crate::mover::MoveError;
use crate::moves::MovesError;
use crate::rebalance::RebalanceError;
use crate::shard_ops::ShardOpsError;

/// What to answer: a status, a stable snake_case `code` and a message.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(error: impl fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", error.to_string())
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 503 `database_unavailable`: retrying later may succeed.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the control database is unavailable; retry later",
        )
    }

    /// 500 `internal_error`: the cause goes to the log only.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; see the server log",
        )
    }

    /// The answer `kind` calls for; a 5xx logs `error`'s chain instead of showing it.
    fn of(
        kind: Kind,
        error: &(dyn std::error::Error + 'static),
        code: &'static str,
        message: String,
    ) -> Self {
        match kind {
            Kind::Unavailable => {
                tracing::warn!(error = %crate::db::logged(error), "service unavailable");
                Self::unavailable()
            }
            Kind::Internal => {
                tracing::error!(error = %crate::db::logged(error), "request failed");
                Self::internal()
            }
            Kind::Status(status) => Self::new(status, code, message),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A status with the error's own code and message, or one of the two 5xx
/// answers that reveal nothing of the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Status(StatusCode),
    Unavailable,
    Internal,
}

fn of_move(error: &MoveError) -> Failure {
    let kind = match error {
        MoveError::UnknownWebsite(_) | MoveError::UnknownMigration(_) => {
            Kind::Status(StatusCode::NOT_FOUND)
        }
        MoveError::Busy { .. } => Kind::Status(StatusCode::CONFLICT),
        MoveError::Database { .. } | MoveError::FenceDrainTimeout { .. }
            if error.is_transient() =>
        {
            Kind::Unavailable
        }
        MoveError::Database { .. }
        | MoveError::CopyFormat(..)
        | MoveError::CleanupRefused(_)
        | MoveError::Previously { .. } => Kind::Internal,
        _ => Kind::Status(StatusCode::UNPROCESSABLE_ENTITY),
    };
    Failure::of(kind, error, error.code(), error.one_line())
}

/// Database failures answer exactly as the move engine's do (503 or 500).
fn of_shard_ops(error: &ShardOpsError) -> Failure {
    use ShardOpsError as E;
    let status = match error {
        E::Database { source, .. } if crate::db::is_transient(source) => Kind::Unavailable,
        E::Database { .. } => Kind::Internal,
        E::UnknownShard(_) | E::UnknownWebsite(_) => Kind::Status(StatusCode::NOT_FOUND),
        E::HasRows { .. }
        | E::MoveInProgress { .. }
        | E::Changed(_)
        | E::PlanChanged
        | E::NoShardAvailable => Kind::Status(StatusCode::CONFLICT),
        E::BulkDisabled => Kind::Status(StatusCode::FORBIDDEN),
        E::ShardUnreachable { .. } => Kind::Status(StatusCode::SERVICE_UNAVAILABLE),
        _ => Kind::Status(StatusCode::UNPROCESSABLE_ENTITY),
    };
    Failure::of(status, error, error.code(), error.one_line())
}

fn of_moves(error: &MovesError) -> Failure {
    let status = match error {
        MovesError::Refused(e) => return of_move(e),
        MovesError::Database(e) => return of_database(e),
        MovesError::Queue(e) => {
            tracing::error!(error = %crate::db::logged(e), "enqueueing the job failed");
            return Failure::unavailable();
        }
        MovesError::UnknownMove(_) => StatusCode::NOT_FOUND,
        MovesError::Conflict { .. } => StatusCode::CONFLICT,
        MovesError::KeyReused { .. } | MovesError::InvalidRequester => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        MovesError::RequesterNotAllowed(_) => StatusCode::FORBIDDEN,
        MovesError::ShardUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    Failure::new(status, error.code(), error.one_line())
}

fn of_rebalance(error: &RebalanceError) -> Failure {
    use RebalanceError as E;
    let status = match error {
        E::Requester(e) => return of_moves(e),
        E::Fleet(e) => return of_shard_ops(e),
        E::Database(e) => return of_database(e),
        E::Plan(crate::rebalance::planner::PlanError::UnknownShard(_)) | E::UnknownPlan(_) => {
            StatusCode::NOT_FOUND
        }
        E::Plan(_) | E::Invalid(_) | E::NothingToMove => StatusCode::UNPROCESSABLE_ENTITY,
        E::PlanChanged | E::Conflict { .. } => StatusCode::CONFLICT,
    };
    Failure::new(status, error.code(), error.one_line())
}

/// A control-database failure: a unique violation is a 409 (a conflicting
/// record exists), a transient failure a 503, anything else a 500.
fn of_database(error: &sqlx::Error) -> Failure {
    if let sqlx::Error::Database(db) = error
        && db.is_unique_violation()
    {
        return Failure::new(
            StatusCode::CONFLICT,
            "conflict",
            "a conflicting record already exists",
        );
    }
    if crate::db::is_transient(error) {
        tracing::warn!(error = %crate::db::logged(error), "control database unavailable");
        Failure::unavailable()
    } else {
        tracing::error!(error = %crate::db::logged(error), "database error");
        Failure::internal()
    }
}

impl From<MoveError> for Failure {
    fn from(error: MoveError) -> Self {
        of_move(&error)
    }
}

impl From<MovesError> for Failure {
    fn from(error: MovesError) -> Self {
        of_moves(&error)
    }
}

impl From<ShardOpsError> for Failure {
    fn from(error: ShardOpsError) -> Self {
        of_shard_ops(&error)
    }
}

impl From<RebalanceError> for Failure {
    fn from(error: RebalanceError) -> Self {
        of_rebalance(&error)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        of_database(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the registry")]
    struct Wrapped(#[source] sqlx::Error);

    #[test]
    fn a_5xx_cause_is_logged_by_code_and_constraint_without_the_row_its_detail_quotes() {
        let error = Wrapped(crate::db::fake::check_violation());
        let (answer, logs) =
            crate::telemetry::captured(|| Failure::of(Kind::Internal, &error, "x", String::new()));
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            logs.contains("reading the registry: SQLSTATE 23514"),
            "{logs}"
        );
        assert!(!logs.contains("x@y.example"), "{logs}");
    }
}
