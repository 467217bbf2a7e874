//! What a plan's use cases answer besides success, each with a stable `code`.

use super::planner::PlanError;
use crate::moves::MovesError;
use crate::shard_ops::ShardOpsError;

#[derive(Debug, thiserror::Error)]
pub enum RebalanceError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Invalid(String),
    #[error("the plan changed since its preview; preview it again and confirm the new plan")]
    PlanChanged,
    #[error("the plan has no move to make")]
    NothingToMove,
    #[error("rebalance {0} does not exist")]
    UnknownPlan(i64),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(transparent)]
    Requester(#[from] MovesError),
    #[error(transparent)]
    Fleet(#[from] ShardOpsError),
    #[error("control database: {0}")]
    Database(#[from] sqlx::Error),
}

impl RebalanceError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Plan(PlanError::UnknownShard(_)) => "unknown_shard",
            Self::Plan(_) | Self::Invalid(_) => "invalid_plan",
            Self::PlanChanged => "plan_changed",
            Self::NothingToMove => "nothing_to_move",
            Self::UnknownPlan(_) => "unknown_rebalance",
            Self::Conflict { code, .. } => code,
            Self::Requester(e) => e.code(),
            Self::Fleet(e) => e.code(),
            Self::Database(_) => "database_unavailable",
        }
    }

    pub fn one_line(&self) -> String {
        self.to_string().replace('\n', "; ")
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}
