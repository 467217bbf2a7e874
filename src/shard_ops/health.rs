//! Health: probes every shard in parallel, each under a hard timeout, stores the
//! results in the control database and answers from there, so every process
//! sees the same state and one hanging shard never slows the others.

use std::collections::BTreeMap;

use chrono::Utc;
use futures_util::future::join_all;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::probe::{self, Measurements};
use super::{ShardOps, ShardOpsError};
use crate::config::ShardOpsSettings;
use crate::control::shard_health::{self, HealthReport, HealthState};
use crate::ids::ShardName;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthView {
    /// `host:port/database`; never credentials.
    pub location: String,
    #[serde(flatten)]
    pub report: HealthReport,
    /// Older than three check intervals: it no longer vouches for the shard.
    pub stale: bool,
}

/// HEALTHY, DEGRADED or UNHEALTHY from latency and recent error rate.
pub fn classify(avg_query_ms: Option<f64>, error_rate: f64, s: &ShardOpsSettings) -> HealthState {
    let Some(latency) = avg_query_ms else {
        return HealthState::Unhealthy;
    };
    if latency > s.unhealthy_latency_ms || error_rate > s.unhealthy_error_rate {
        HealthState::Unhealthy
    } else if latency >= s.degraded_latency_ms || error_rate >= s.degraded_error_rate {
        HealthState::Degraded
    } else {
        HealthState::Healthy
    }
}

impl ShardOps<'_> {
    /// The newest stored probe of each configured shard.
    pub(crate) async fn stored_health(
        &self,
        conn: &mut PgConnection,
    ) -> Result<BTreeMap<ShardName, HealthView>, ShardOpsError> {
        let shards: Vec<String> = self.settings().shards.keys().cloned().collect();
        let reports = shard_health::latest(conn, &shards)
            .await
            .map_err(ShardOpsError::control("reading shard health"))?;
        Ok(reports
            .into_iter()
            .filter_map(|report| {
                let name = ShardName::parse(&report.shard).ok()?;
                self.settings().shard(&name)?;
                Some((name, self.health_view(report)))
            })
            .collect())
    }

    fn health_view(&self, report: HealthReport) -> HealthView {
        HealthView {
            location: self.location(&ShardName::parse(&report.shard).expect("stored by us")),
            stale: report.is_stale(self.settings().shard_ops.stale_after()),
            report,
        }
    }

    /// A fresh UNHEALTHY probe keeps websites off the shard.
    pub(crate) fn vouches_unhealthy(&self, health: &HealthView) -> bool {
        !health.stale && health.report.state == HealthState::Unhealthy
    }

    /// Probes the shards now, in parallel, and stores the results.
    pub async fn probe(&self, names: &[ShardName]) -> Result<Vec<HealthView>, ShardOpsError> {
        let settings = &self.settings().shard_ops;
        let probes = names.iter().map(|name| {
            let shard = self.settings().shard(name).expect("configured");
            let options = crate::db::shard_options(shard, name);
            probe::measure(options, settings.probe_timeout(), settings.slow_query_ms)
        });
        let results = join_all(probes).await;
        let mut conn = self.conn().await?;
        let mut views = Vec::with_capacity(names.len());
        for (name, result) in names.iter().zip(results) {
            let report = self.report(&mut conn, name, result).await?;
            shard_health::insert(&mut conn, &report)
                .await
                .map_err(ShardOpsError::control("storing shard health"))?;
            if report.state != HealthState::Healthy {
                tracing::warn!(shard = %name, state = report.state.as_str(), error = report.error_message.as_deref().unwrap_or(""), "shard not healthy");
            }
            views.push(self.health_view(report));
        }
        Ok(views)
    }

    async fn report(
        &self,
        conn: &mut PgConnection,
        name: &ShardName,
        result: Result<Measurements, probe::Failure>,
    ) -> Result<HealthReport, ShardOpsError> {
        let settings = &self.settings().shard_ops;
        let (failures, total) =
            shard_health::recent_failures(conn, name.as_str(), settings.error_window - 1)
                .await
                .map_err(ShardOpsError::control("reading shard health"))?;
        let failed = i64::from(result.is_err());
        let error_rate = (failures + failed) as f64 / (total + 1) as f64;
        Ok(match result {
            Ok(m) => HealthReport {
                shard: name.to_string(),
                state: classify(Some(m.avg_query_ms), error_rate, settings),
                connection_status: "connected".into(),
                avg_query_ms: Some(m.avg_query_ms),
                active_connections: Some(m.active_connections),
                max_connections: Some(m.max_connections),
                database_size: Some(m.database_size),
                cache_hit_rate: m.cache_hit_rate,
                index_hit_rate: m.index_hit_rate,
                slow_queries_count: m.slow_queries.as_ref().ok().copied(),
                slow_queries_note: m.slow_queries.err(),
                error_rate,
                error_message: None,
                checked_at: Utc::now(),
            },
            Err(failure) => HealthReport {
                shard: name.to_string(),
                state: HealthState::Unhealthy,
                connection_status: failure.status.into(),
                avg_query_ms: None,
                active_connections: None,
                max_connections: None,
                database_size: None,
                cache_hit_rate: None,
                index_hit_rate: None,
                slow_queries_count: None,
                slow_queries_note: None,
                error_rate,
                error_message: Some(failure.message),
                checked_at: Utc::now(),
            },
        })
    }

    /// Every configured shard's health: stored, or probed now with `refresh`
    /// (or when a shard has never been probed, or `stale_ok` is false and it is stale).
    pub async fn health(
        &self,
        refresh: bool,
        stale_ok: bool,
    ) -> Result<BTreeMap<ShardName, HealthView>, ShardOpsError> {
        let mut stored = {
            let mut conn = self.conn().await?;
            self.stored_health(&mut conn).await?
        };
        let due: Vec<ShardName> = self
            .configured()
            .into_iter()
            .filter(|name| match stored.get(name) {
                None => true,
                Some(h) => refresh || (!stale_ok && h.stale),
            })
            .collect();
        for view in self.probe(&due).await? {
            let name = ShardName::parse(&view.report.shard).expect("stored by us");
            stored.insert(name, view);
        }
        Ok(stored)
    }

    /// One shard's health (probed now with `refresh`).
    pub async fn shard_health(
        &self,
        name: &str,
        refresh: bool,
    ) -> Result<HealthView, ShardOpsError> {
        let name = self.shard(name)?;
        if refresh {
            return Ok(self.probe(std::slice::from_ref(&name)).await?.remove(0));
        }
        let mut conn = self.conn().await?;
        if let Some(view) = self.stored_health(&mut conn).await?.remove(&name) {
            return Ok(view);
        }
        drop(conn);
        Ok(self.probe(std::slice::from_ref(&name)).await?.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_split_healthy_degraded_and_unhealthy() {
        let s = ShardOpsSettings::default();
        assert_eq!(classify(Some(3.0), 0.0, &s), HealthState::Healthy);
        assert_eq!(classify(Some(600.0), 0.0, &s), HealthState::Degraded);
        assert_eq!(classify(Some(3.0), 0.07, &s), HealthState::Degraded);
        assert_eq!(classify(Some(2500.0), 0.0, &s), HealthState::Unhealthy);
        assert_eq!(classify(Some(3.0), 0.2, &s), HealthState::Unhealthy);
        assert_eq!(classify(None, 0.0, &s), HealthState::Unhealthy);
    }
}
