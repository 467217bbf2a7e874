//! One configuration scheme: `config/default.toml`, then an optional file, then
//! `SHARDMOVER__SECTION__KEY` environment overrides; a key no setting reads is
//! refused rather than ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

use crate::ids::ShardName;
use crate::shard_status::ShardStatus;

mod flags;
mod key_path;
mod known_keys;
mod load;
mod mail;
mod shard_ops;
#[cfg(test)]
mod tests;
mod unknown_keys;
mod validate;

pub use flags::FeatureFlags;
pub use mail::{MailSettings, TlsMode};
pub use shard_ops::ShardOpsSettings;
pub use unknown_keys::{Origin, UnknownKey};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    #[serde(default)]
    pub shards: BTreeMap<String, ShardSettings>,
    pub tenancy: TenancySettings,
    /// Health probes, placement and distribution (`[shard_ops]`).
    #[serde(default)]
    pub shard_ops: ShardOpsSettings,
    pub engine: EngineSettings,
    pub log: LogSettings,
    pub api: ApiSettings,
    pub worker: WorkerSettings,
    pub mail: MailSettings,
    /// Read from the environment (`SHARD_*_ENABLED`, `TENANT_ADMIN_EMAILS`), not files.
    #[serde(skip)]
    pub flags: FeatureFlags,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiSettings {
    pub bind: String,
    /// `SHARD_API_TOKEN` overrides it. Without a token every `/api/v1` call is refused.
    pub token: Option<SecretString>,
    /// Where people reach the API; links in notices point here.
    pub public_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Moves one worker process runs at once (of different websites).
    pub concurrency: usize,
    /// Attempts per move before a transient failure becomes final.
    pub max_attempts: u32,
    /// The workers' own control-database pool, apart from the API's
    /// (`database.max_connections`), so neither starves the other.
    pub control_connections: u32,
    /// How often a worker says it is alive.
    pub heartbeat_secs: u64,
    /// Beats a worker may miss before its jobs go back to the queue.
    pub missed_heartbeats: usize,
}

impl WorkerSettings {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }

    /// How long after a worker's death its jobs return to the queue.
    pub fn orphan_window(&self) -> Duration {
        self.heartbeat() * self.missed_heartbeats as u32
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// Secret: URLs may carry passwords; `SecretString` keeps them out of `Debug`.
    pub url: SecretString,
    pub max_connections: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShardSettings {
    pub url: SecretString,
    #[serde(default)]
    pub status: ShardStatus,
    pub capacity: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TenancySettings {
    pub key_column: String,
    pub registry_table: String,
    pub registry_id_column: String,
    pub registry_shard_column: String,
    pub default_shard: Option<String>,
    pub schemas: Vec<String>,
    pub exclude_tables: Vec<String>,
    /// Tables whose tenant key column has another name (`table = "column"`).
    #[serde(default)]
    pub key_columns: BTreeMap<String, String>,
    /// Relations the application never declared as foreign keys: the child's
    /// rows belong to whichever website owns the parent row they point at.
    #[serde(default)]
    pub relations: Vec<RelationSettings>,
}

/// One `[[tenancy.relations]]` entry.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RelationSettings {
    /// The child table, `schema.table` or `table`.
    pub table: String,
    /// The child's columns that point at the parent.
    pub columns: Vec<String>,
    /// The parent: a tenant table or another related table.
    pub parent: String,
    /// Default: the parent's primary key.
    #[serde(default)]
    pub parent_columns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    pub batch_rows: u32,
    pub delete_batch_rows: u32,
    pub fence_drain_timeout_secs: u64,
    pub fence_lock_timeout_ms: u64,
    pub sort_memory: String,
    /// Longest the website's writes may be frozen at the end of an online move.
    pub freeze_budget_ms: u64,
    /// The hard bound of a freeze: a mover that cannot cut over by then lifts
    /// its fence and catches up again; any worker lifts the fence of a mover
    /// that died with it up (see `jobs::freeze_watch`).
    pub freeze_limit_ms: u64,
    /// Online moves: verify each table as it is copied, from the copy's own
    /// snapshot, instead of rehashing every row in catch-up (see default.toml).
    pub verify_while_copying: bool,
    /// How long an online move may catch up before it gives up (transiently).
    pub catch_up_timeout_secs: u64,
    /// Captured changes replayed per target transaction.
    pub catch_up_batch: u32,
    /// Connections one running move may hold on one shard at once; each shard's
    /// pool for moves holds `worker.concurrency` times this (see `shard_pools`).
    pub move_connections_per_shard: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: invalid shard name {0:?}: {1}")]
    ShardName(String, String),
    #[error("configuration: {0}")]
    Mail(String),
    #[error("configuration: {key} is not a valid Postgres URL")]
    Url { key: String },
    #[error("configuration: {0}={1:?} is not a number")]
    Env(&'static str, String),
    #[error("configuration: {key} {reason}")]
    Invalid { key: String, reason: String },
    #[error("configuration: {}", unknown_keys::describe(.0))]
    UnknownKeys(Vec<UnknownKey>),
}

impl Settings {
    pub fn shard(&self, name: &ShardName) -> Option<&ShardSettings> {
        self.shards.get(name.as_str())
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.database.connect_timeout_secs)
    }
}

/// Parses a Postgres URL; `db` adds what every connection of ours carries.
pub fn parse_url(url: &SecretString, key: &str) -> Result<PgConnectOptions, ConfigError> {
    url.expose_secret().parse().map_err(|_| ConfigError::Url {
        key: key.to_owned(),
    })
}
