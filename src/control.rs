//! The control database: the tenant registry and shardmover's own records.

pub mod audit_logs;
pub mod migrations;
pub mod notifications;
pub mod registry;
pub mod shard_catalogue;
pub mod shard_health;
pub mod state;
pub mod tables;

pub use state::{Phase, Status};
