//! Settings refused at start-up, each refusal naming its key: a zero batch
//! would make cleanup loop forever (a zero catch-up batch or freeze budget
//! would stall every online move), a zero pool would wait forever, a default
//! shard nobody configured would send new websites nowhere.

use super::{ConfigError, Settings, parse_url};
use crate::ids::ShardName;

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        parse_url(&self.database.url, "database.url")?;
        for (name, shard) in &self.shards {
            ShardName::parse(name).map_err(|e| ConfigError::ShardName(name.clone(), e))?;
            parse_url(&shard.url, &format!("shards.{name}.url"))?;
        }
        if self.mail.enabled() {
            self.mail
                .sender()
                .map_err(|e| ConfigError::Mail(e.to_string()))?;
        }
        self.validate_numbers()?;
        if let Some(default) = &self.tenancy.default_shard
            && !self.shards.contains_key(default)
        {
            return Err(invalid(
                "tenancy.default_shard",
                format!("names {default:?}, which is not among the configured shards"),
            ));
        }
        Ok(())
    }

    fn validate_numbers(&self) -> Result<(), ConfigError> {
        let positive: [(&str, u64); 16] = [
            ("engine.catch_up_batch", self.engine.catch_up_batch.into()),
            ("engine.freeze_budget_ms", self.engine.freeze_budget_ms),
            (
                "engine.catch_up_timeout_secs",
                self.engine.catch_up_timeout_secs,
            ),
            (
                "database.max_connections",
                self.database.max_connections.into(),
            ),
            (
                "database.connect_timeout_secs",
                self.database.connect_timeout_secs,
            ),
            ("engine.batch_rows", self.engine.batch_rows.into()),
            (
                "engine.delete_batch_rows",
                self.engine.delete_batch_rows.into(),
            ),
            (
                "engine.move_connections_per_shard",
                self.engine.move_connections_per_shard.into(),
            ),
            ("worker.concurrency", self.worker.concurrency as u64),
            ("worker.max_attempts", self.worker.max_attempts.into()),
            (
                "worker.control_connections",
                self.worker.control_connections.into(),
            ),
            ("worker.heartbeat_secs", self.worker.heartbeat_secs),
            (
                "worker.missed_heartbeats",
                self.worker.missed_heartbeats as u64,
            ),
            (
                "shard_ops.health_check_interval_secs",
                self.shard_ops.health_check_interval_secs,
            ),
            (
                "shard_ops.probe_timeout_ms",
                self.shard_ops.probe_timeout_ms,
            ),
            (
                "shard_ops.read_connections_per_shard",
                self.shard_ops.read_connections_per_shard.into(),
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(invalid(key, "must be at least 1"));
        }
        if self.engine.freeze_limit_ms < self.engine.freeze_budget_ms {
            return Err(invalid(
                "engine.freeze_limit_ms",
                "must be at least engine.freeze_budget_ms",
            ));
        }
        if self.shard_ops.error_window < 1 {
            return Err(invalid("shard_ops.error_window", "must be at least 1"));
        }
        let rates = [
            (
                "shard_ops.degraded_error_rate",
                self.shard_ops.degraded_error_rate,
            ),
            (
                "shard_ops.unhealthy_error_rate",
                self.shard_ops.unhealthy_error_rate,
            ),
            (
                "shard_ops.imbalance_threshold",
                self.shard_ops.imbalance_threshold,
            ),
        ];
        if let Some((key, _)) = rates.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
            return Err(invalid(key, "must be a fraction between 0 and 1"));
        }
        Ok(())
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}
