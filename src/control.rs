//! The control database: the tenant registry and shardmover's own records.

pub mod audit_logs;
pub mod bulk_assign_key;
pub mod metrics;
pub mod migrations;
pub mod notifications;
pub mod phase_history;
pub mod probe_history;
pub mod rebalances;
pub mod registry;
pub mod shard_catalogue;
pub mod shard_health;
pub mod shard_websites;
pub mod sign_outs;
pub mod sweeps;
pub mod tables;
