//! The move engine's one error type. Each variant knows whether a retry may help.

use crate::ids::{MoveId, ShardName, WebsiteId};

#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error("website {0} is not in the registry")]
    UnknownWebsite(WebsiteId),
    #[error("shard {0:?} is not configured")]
    UnknownShard(String),
    #[error("website {website} already lives on shard {shard}")]
    SameShard {
        website: WebsiteId,
        shard: ShardName,
    },
    /// The target takes no more websites (admission's answer, as it gave it).
    #[error(transparent)]
    Refused(crate::admission::Refusal),
    #[error("website {website} now lives on {actual}, not on {expected} where this move started")]
    SourceChanged {
        website: WebsiteId,
        expected: ShardName,
        actual: String,
    },
    #[error(
        "table {0} has no primary key and no unique index over NOT NULL columns; shardmover \
         needs one to copy, resume and verify it (add a primary key, or such a unique index)"
    )]
    NoPrimaryKey(String),
    #[error("foreign keys form a cycle between tenant tables {0}; such tables cannot be ordered")]
    ForeignKeyCycle(String),
    #[error("tenant schema differs between source and target: {0}")]
    SchemaMismatch(String),
    /// The configured tenancy names what the catalogue does not have.
    #[error("{0}")]
    TenancyConfiguration(String),
    /// Rows the move would not copy point at rows it would delete.
    #[error("{0}")]
    UnmovedReferences(String),
    /// The website's rows on the target point at rows the target lacks.
    #[error("foreign keys broken on the target: {0}")]
    DanglingReferences(String),
    #[error(
        "{table}: {count} primary key(s) of website {website} already exist on the target, e.g. {sample}"
    )]
    KeyCollision {
        table: String,
        website: WebsiteId,
        count: i64,
        sample: String,
    },
    #[error(
        "catch-up did not converge in {seconds}s: {waiting} captured changes still wait and the \
         freeze budget allows {fits}; the move stops for now and is retried (raise engine.freeze_budget_ms, \
         move when writes are quieter, or use --mode offline)"
    )]
    CatchUpTimeout {
        seconds: u64,
        waiting: i64,
        fits: i64,
    },
    #[error(
        "for {seconds}s the source shard {shard} held locks the freeze's fence would wait behind \
         ({sessions}: autovacuum, VACUUM, CREATE INDEX or DDL on the tenant tables); the move \
         did not freeze and is retried"
    )]
    FenceBlocked {
        shard: ShardName,
        seconds: u64,
        sessions: String,
    },
    #[error("the target already holds rows of website {website}: {detail}")]
    TargetNotEmpty { website: WebsiteId, detail: String },
    #[error("checksum mismatch in {table}: {detail}")]
    ChecksumMismatch { table: String, detail: String },
    #[error("website {website} is already being moved by migration {existing}")]
    Busy {
        website: WebsiteId,
        existing: MoveId,
    },
    #[error("migration {0} does not exist")]
    UnknownMigration(MoveId),
    #[error("the move was cancelled")]
    Cancelled,
    #[error(
        "the process is shutting down; the move stopped at a checkpoint and resumes on the next attempt"
    )]
    Interrupted,
    #[error(
        "transactions that began before the fence are still open on {shard} after {seconds}s (pids {pids})"
    )]
    FenceDrainTimeout {
        shard: ShardName,
        seconds: u64,
        pids: String,
    },
    #[error(
        "the freeze could not cut over within engine.freeze_limit_ms ({limit_ms} ms); the fence is lifted and the move catches up again"
    )]
    FreezeOverLimit { limit_ms: u64 },
    #[error(
        "shardmover's database role lacks privileges it needs (see the README's \"Roles and privileges\"): {0}"
    )]
    MissingPrivileges(String),
    #[error("the source rows cannot be deleted: {0}")]
    CleanupRefused(String),
    #[error("the move cannot be rolled back: {0}")]
    RollbackRefused(String),
    /// A newer attempt owns the move (this one's lock session died, say): this
    /// attempt must stop touching both shards and the move's record.
    #[error(
        "attempt {attempt} of migration {migration} no longer owns the move; a newer attempt does"
    )]
    LostOwnership { migration: MoveId, attempt: i32 },
    #[error("unexpected COPY data from {0}: {1}")]
    CopyFormat(String, String),
    /// An error recorded by an earlier attempt, replayed when resuming its rollback.
    #[error("{message}")]
    Previously { code: String, message: String },
    #[error("{context}: {}", crate::db::error_message(source))]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
}

impl MoveError {
    /// A stable snake_case code for logs, the API and the CLI.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownWebsite(_) => "unknown_website",
            Self::UnknownShard(_) => "unknown_shard",
            Self::SameShard { .. } => "same_shard",
            // One code for the move's API, whatever the reason.
            Self::Refused(_) => "shard_not_available",
            Self::SourceChanged { .. } => "source_changed",
            Self::NoPrimaryKey(_) => "missing_primary_key",
            Self::ForeignKeyCycle(_) => "foreign_key_cycle",
            Self::SchemaMismatch(_) => "schema_mismatch",
            Self::TenancyConfiguration(_) => "tenancy_configuration",
            Self::UnmovedReferences(_) => "unmoved_references",
            Self::DanglingReferences(_) => "dangling_references",
            Self::KeyCollision { .. } => "key_collision",
            Self::CatchUpTimeout { .. } => "catch_up_timeout",
            Self::FenceBlocked { .. } => "fence_blocked",
            Self::TargetNotEmpty { .. } => "target_not_empty",
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
            Self::Busy { .. } => "move_in_progress",
            Self::UnknownMigration(_) => "unknown_migration",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
            Self::FenceDrainTimeout { .. } => "fence_drain_timeout",
            Self::FreezeOverLimit { .. } => "freeze_over_limit",
            Self::MissingPrivileges(_) => "missing_privileges",
            Self::CleanupRefused(_) => "cleanup_refused",
            Self::RollbackRefused(_) => "rollback_refused",
            Self::LostOwnership { .. } => "lost_ownership",
            Self::CopyFormat(..) => "copy_format",
            Self::Previously { .. } => "failed",
            Self::Database { source, .. } if crate::db::is_transient(source) => {
                "database_unavailable"
            }
            Self::Database { .. } => "database_error",
        }
    }

    /// Transient failures leave the move resumable; permanent ones roll it back.
    /// Losing ownership is benign: the move goes on under its newer attempt.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database { source, .. } => crate::db::is_transient(source),
            Self::FenceDrainTimeout { .. }
            | Self::FreezeOverLimit { .. }
            | Self::CatchUpTimeout { .. }
            | Self::FenceBlocked { .. }
            | Self::Busy { .. }
            | Self::Interrupted
            | Self::LostOwnership { .. } => true,
            _ => false,
        }
    }

    /// The message on one line, for terminals and email subjects.
    pub fn one_line(&self) -> String {
        self.to_string().replace('\n', "; ")
    }
}

/// Attaches what we were doing to a database error.
impl From<crate::tenancy::TenancyError> for MoveError {
    fn from(error: crate::tenancy::TenancyError) -> Self {
        use crate::tenancy::TenancyError as E;
        match error {
            E::ForeignKeyCycle(tables) => Self::ForeignKeyCycle(tables),
            E::Configuration(message) => Self::TenancyConfiguration(message),
            E::Database { context, source } => Self::Database { context, source },
        }
    }
}

/// A target's refusal, as admission gave it (the API's `shard_not_available`).
impl From<crate::admission::Refusal> for MoveError {
    fn from(refusal: crate::admission::Refusal) -> Self {
        use crate::admission::Refusal as R;
        match refusal {
            R::UnknownShard(name) => Self::UnknownShard(name),
            R::Database { context, source } => Self::Database {
                context: context.to_owned(),
                source,
            },
            refused => Self::Refused(refused),
        }
    }
}

pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, MoveError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, MoveError> {
        self.map_err(|source| MoveError::Database {
            context: what(),
            source,
        })
    }
}
