//! The errors of shard operations, each with a stable code.

use crate::ids::{MoveId, WebsiteId};

#[derive(Debug, thiserror::Error)]
pub enum ShardOpsError {
    #[error("shard {0:?} is not configured")]
    UnknownShard(String),
    #[error("website {0} is not in the registry")]
    UnknownWebsite(WebsiteId),
    /// The target takes no more websites (admission's answer, as it gave it).
    #[error(transparent)]
    Refused(crate::admission::Refusal),
    #[error("shard {shard} cannot be reached to check it: {message}")]
    ShardUnreachable { shard: String, message: String },
    #[error(
        "website {website} already has rows on {shard} ({detail}); move it with POST /api/v1/migrations instead"
    )]
    HasRows {
        website: WebsiteId,
        shard: String,
        detail: String,
    },
    #[error("website {website} is being moved by migration {migration}")]
    MoveInProgress {
        website: WebsiteId,
        migration: MoveId,
    },
    #[error("website {0} changed shard meanwhile; try again")]
    Changed(WebsiteId),
    #[error("no available shard has room for a website")]
    NoShardAvailable,
    #[error("bulk operations are disabled by SHARD_BULK_OPS_ENABLED=false")]
    BulkDisabled,
    #[error("the confirmation token does not match the current plan; preview again")]
    PlanChanged,
    #[error("{0} website(s) in the plan cannot be assigned; remove them and preview again")]
    PlanHasRefusals(usize),
    #[error("{0}")]
    Invalid(String),
    #[error("{context}: {}", crate::db::error_message(source))]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
}

/// Shard operations only read the tenant's tables; their failures are the
/// control-or-shard database failures they already know.
impl From<crate::tenancy::TenancyError> for ShardOpsError {
    fn from(error: crate::tenancy::TenancyError) -> Self {
        use crate::tenancy::TenancyError as E;
        match error {
            E::Database { context, source } => Self::Database { context, source },
            other @ (E::ForeignKeyCycle(_) | E::Configuration(_)) => {
                Self::Invalid(other.one_line())
            }
        }
    }
}

impl ShardOpsError {
    /// A stable snake_case code for the API, the CLI and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownShard(_) => "unknown_shard",
            Self::UnknownWebsite(_) => "unknown_website",
            Self::Refused(refusal) => refusal.code(),
            Self::ShardUnreachable { .. } => "shard_unreachable",
            Self::HasRows { .. } => "website_has_rows",
            Self::MoveInProgress { .. } => "move_in_progress",
            Self::Changed(_) => "website_changed",
            Self::NoShardAvailable => "no_shard_available",
            Self::BulkDisabled => "feature_disabled",
            Self::PlanChanged => "plan_changed",
            Self::PlanHasRefusals(_) => "plan_has_refusals",
            Self::Invalid(_) => "invalid_request",
            Self::Database { source, .. } if crate::db::is_transient(source) => {
                "database_unavailable"
            }
            Self::Database { .. } => "database_error",
        }
    }

    /// Wraps a control-database error with what we were doing.
    pub(crate) fn control(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database {
            context: context.to_owned(),
            source,
        }
    }

    pub fn one_line(&self) -> String {
        self.to_string().replace('\n', "; ")
    }
}
