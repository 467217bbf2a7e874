//! The `[shard_ops]` section: health-probe thresholds, placement and
//! distribution, and the shard connections of reads.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;

/// Health-probe thresholds, placement and distribution settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ShardOpsSettings {
    /// Seconds between background probes (`SHARD_HEALTH_CHECK_INTERVAL`).
    pub health_check_interval_secs: u64,
    /// Hard limit on one shard's probe, connect and queries included.
    pub probe_timeout_ms: u64,
    pub degraded_latency_ms: f64,
    pub unhealthy_latency_ms: f64,
    pub degraded_error_rate: f64,
    pub unhealthy_error_rate: f64,
    /// Recent probes the error rate is computed over.
    pub error_window: i64,
    /// A statement slower than this on average counts as slow (pg_stat_statements).
    pub slow_query_ms: f64,
    /// Largest spread of website shares before `imbalanced` (`SHARD_IMBALANCE_THRESHOLD`).
    pub imbalance_threshold: f64,
    /// Each shard's pool for everything but running moves: API and dashboard
    /// reads, shard operations, dry runs.
    pub read_connections_per_shard: u32,
    /// A rebalance plan starts no move touching a shard whose streaming
    /// replicas replay further behind than this (`pg_stat_replication`).
    pub max_replication_lag_secs: f64,
    /// ... nor one whose last probe counted more connections than this share
    /// of its `max_connections`.
    pub max_connections_used: f64,
    /// How often a worker process steps the live rebalance plans.
    pub rebalance_step_ms: u64,
}

impl Default for ShardOpsSettings {
    fn default() -> Self {
        Self {
            health_check_interval_secs: 30,
            probe_timeout_ms: 5000,
            degraded_latency_ms: 500.0,
            unhealthy_latency_ms: 2000.0,
            degraded_error_rate: 0.05,
            unhealthy_error_rate: 0.10,
            error_window: 20,
            slow_query_ms: 1000.0,
            imbalance_threshold: 0.2,
            read_connections_per_shard: 4,
            max_replication_lag_secs: 5.0,
            max_connections_used: 0.9,
            rebalance_step_ms: 1000,
        }
    }
}

impl ShardOpsSettings {
    pub fn interval(&self) -> Duration {
        Duration::from_secs(self.health_check_interval_secs.max(1))
    }

    pub fn probe_timeout(&self) -> Duration {
        Duration::from_millis(self.probe_timeout_ms.max(1))
    }

    /// A stored probe older than this no longer vouches for a shard.
    pub fn stale_after(&self) -> Duration {
        self.interval() * 3
    }

    /// `SHARD_HEALTH_CHECK_INTERVAL` (seconds) and `SHARD_IMBALANCE_THRESHOLD` (a fraction).
    pub(super) fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Ok(value) = std::env::var("SHARD_HEALTH_CHECK_INTERVAL") {
            self.health_check_interval_secs = value
                .trim()
                .parse()
                .map_err(|_| ConfigError::Env("SHARD_HEALTH_CHECK_INTERVAL", value))?;
        }
        if let Ok(value) = std::env::var("SHARD_IMBALANCE_THRESHOLD") {
            self.imbalance_threshold = value
                .trim()
                .parse()
                .map_err(|_| ConfigError::Env("SHARD_IMBALANCE_THRESHOLD", value))?;
        }
        Ok(())
    }
}
