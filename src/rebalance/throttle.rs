//! Whether a plan may start a move touching a shard now, read from the shard's
//! own signals: its last health probe (DEGRADED or UNHEALTHY, connections
//! against `max_connections`) and its streaming replicas' replay lag, read
//! from `pg_stat_replication` on the shard itself (no replicas, no lag). Each
//! answer is asked once per step and says why, in words an operator can act on.

use std::collections::HashMap;

use crate::app::App;
use crate::control::shard_health::{self, HealthState};
use crate::ids::ShardName;

/// One step's answers, each shard asked once.
pub struct Throttle<'a> {
    app: &'a App,
    answers: HashMap<String, Option<String>>,
}

impl<'a> Throttle<'a> {
    pub fn new(app: &'a App) -> Self {
        Self {
            app,
            answers: HashMap::new(),
        }
    }

    /// Why no new move may touch `shard` now, if anything stands in the way.
    pub async fn why_wait(&mut self, shard: &str) -> Option<String> {
        if let Some(answer) = self.answers.get(shard) {
            return answer.clone();
        }
        let answer = match self.health(shard).await {
            Some(why) => Some(why),
            None => self.replication_lag(shard).await,
        };
        self.answers.insert(shard.to_owned(), answer.clone());
        answer
    }

    async fn health(&self, shard: &str) -> Option<String> {
        let settings = &self.app.settings().shard_ops;
        let mut conn = match self.app.control_pool().acquire().await {
            Ok(conn) => conn,
            Err(_) => return Some("the control database is unavailable".into()),
        };
        let latest = shard_health::latest(&mut conn, &[shard.to_owned()]).await;
        let report = match latest {
            Ok(reports) => reports.into_iter().next()?,
            Err(_) => return Some("the control database is unavailable".into()),
        };
        if report.is_stale(settings.stale_after()) {
            return None;
        }
        if matches!(report.state, HealthState::Degraded | HealthState::Unhealthy) {
            return Some(format!("{shard} {}", report.state.as_str()));
        }
        let (Some(active), Some(max)) = (report.active_connections, report.max_connections) else {
            return None;
        };
        let limit = (f64::from(max) * settings.max_connections_used).floor() as i32;
        (active > limit).then(|| format!("{shard} connections {active} > {limit} of {max}"))
    }

    async fn replication_lag(&self, shard: &str) -> Option<String> {
        let settings = &self.app.settings().shard_ops;
        let name = ShardName::parse(shard).ok()?;
        let pool = self.app.shards.reads(&name)?;
        // `state` is NULL for a role that may not read replication statistics.
        let query = sqlx::query_as::<_, (i64, i64, f64)>(
            "SELECT count(*)::int8, count(*) FILTER (WHERE state IS NULL)::int8,
                    coalesce(max(extract(epoch FROM replay_lag)), 0)::float8
               FROM pg_stat_replication",
        )
        .fetch_one(pool);
        let answer = tokio::time::timeout(settings.probe_timeout(), query).await;
        let (replicas, hidden, lag) = match answer {
            Ok(Ok(row)) => row,
            Ok(Err(e)) => {
                return Some(format!(
                    "{shard} unreachable: {}",
                    crate::db::error_message(&e)
                ));
            }
            Err(_) => return Some(format!("{shard} did not answer within the probe timeout")),
        };
        let max = settings.max_replication_lag_secs;
        if hidden > 0 {
            return Some(format!(
                "{shard} replication lag unknown: its {replicas} replicas are hidden from the mover's role (grant it pg_read_all_stats)"
            ));
        }
        (lag > max).then(|| format!("{shard} replication lag {lag:.0} s > {max:.0} s"))
    }
}
