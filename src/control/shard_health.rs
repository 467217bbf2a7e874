//! Repository for `shardmover.shard_health_checks`: the newest probe per shard
//! is what every process answers with; older ones give the error rate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthState {
    Healthy,
    Degraded,
    Unhealthy,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "HEALTHY",
            Self::Degraded => "DEGRADED",
            Self::Unhealthy => "UNHEALTHY",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "HEALTHY" => Self::Healthy,
            "DEGRADED" => Self::Degraded,
            _ => Self::Unhealthy,
        }
    }
}

/// One probe of one shard, as stored and as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    pub shard: String,
    pub state: HealthState,
    /// `connected`, `timeout` or `error`.
    pub connection_status: String,
    pub avg_query_ms: Option<f64>,
    pub active_connections: Option<i32>,
    pub max_connections: Option<i32>,
    /// Bytes.
    pub database_size: Option<i64>,
    pub cache_hit_rate: Option<f64>,
    pub index_hit_rate: Option<f64>,
    /// Null when pg_stat_statements is not installed; `slow_queries_note` says why.
    pub slow_queries_count: Option<i64>,
    pub slow_queries_note: Option<String>,
    /// Failed probes among the recent ones (`shard_ops.error_window`).
    pub error_rate: f64,
    pub error_message: Option<String>,
    pub checked_at: DateTime<Utc>,
}

impl HealthReport {
    pub fn reachable(&self) -> bool {
        self.connection_status == "connected"
    }

    /// Older than `stale_after`: no longer vouches for the shard's state.
    pub fn is_stale(&self, stale_after: std::time::Duration) -> bool {
        let age = (Utc::now() - self.checked_at).to_std().unwrap_or_default();
        age > stale_after
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    shard_name: String,
    state: String,
    connection_status: String,
    avg_query_ms: Option<f64>,
    active_connections: Option<i32>,
    max_connections: Option<i32>,
    database_size: Option<i64>,
    cache_hit_rate: Option<f64>,
    index_hit_rate: Option<f64>,
    slow_queries_count: Option<i64>,
    slow_queries_note: Option<String>,
    error_rate: f64,
    error_message: Option<String>,
    checked_at: DateTime<Utc>,
}

impl From<Row> for HealthReport {
    fn from(r: Row) -> Self {
        Self {
            shard: r.shard_name,
            state: HealthState::parse(&r.state),
            connection_status: r.connection_status,
            avg_query_ms: r.avg_query_ms,
            active_connections: r.active_connections,
            max_connections: r.max_connections,
            database_size: r.database_size,
            cache_hit_rate: r.cache_hit_rate,
            index_hit_rate: r.index_hit_rate,
            slow_queries_count: r.slow_queries_count,
            slow_queries_note: r.slow_queries_note,
            error_rate: r.error_rate,
            error_message: r.error_message,
            checked_at: r.checked_at,
        }
    }
}

/// The newest probe of each of `shards` that has one: one index lookup per
/// shard, as probes of the last day are kept and this runs on every move request.
pub async fn latest(
    conn: &mut PgConnection,
    shards: &[String],
) -> Result<Vec<HealthReport>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.shard_name, c.state, c.connection_status, c.avg_query_ms,
                c.active_connections, c.max_connections, c.database_size, c.cache_hit_rate,
                c.index_hit_rate, c.slow_queries_count, c.slow_queries_note, c.error_rate,
                c.error_message, c.checked_at
           FROM unnest($1::text[]) AS s(name)
           CROSS JOIN LATERAL (
                SELECT * FROM shardmover.shard_health_checks h
                 WHERE h.shard_name = s.name ORDER BY h.id DESC LIMIT 1) AS c
          ORDER BY c.shard_name",
    )
    .bind(shards)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(HealthReport::from).collect())
}

/// Failed and total probes among the shard's newest `window` probes.
pub async fn recent_failures(
    conn: &mut PgConnection,
    shard: &str,
    window: i64,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE NOT reachable)::int8, count(*)::int8 FROM (
            SELECT reachable FROM shardmover.shard_health_checks
             WHERE shard_name = $1 ORDER BY id DESC LIMIT $2) recent",
    )
    .bind(shard)
    .bind(window.max(0))
    .fetch_one(conn)
    .await
}

/// Stores a probe and forgets probes older than a day.
pub async fn insert(conn: &mut PgConnection, r: &HealthReport) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO shardmover.shard_health_checks
            (shard_name, state, connection_status, reachable, avg_query_ms, active_connections,
             max_connections, database_size, cache_hit_rate, index_hit_rate, slow_queries_count,
             slow_queries_note, error_rate, error_message, checked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&r.shard)
    .bind(r.state.as_str())
    .bind(&r.connection_status)
    .bind(r.reachable())
    .bind(r.avg_query_ms)
    .bind(r.active_connections)
    .bind(r.max_connections)
    .bind(r.database_size)
    .bind(r.cache_hit_rate)
    .bind(r.index_hit_rate)
    .bind(r.slow_queries_count)
    .bind(&r.slow_queries_note)
    .bind(r.error_rate)
    .bind(&r.error_message)
    .bind(r.checked_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM shardmover.shard_health_checks
          WHERE shard_name = $1 AND checked_at < now() - interval '1 day'",
    )
    .bind(&r.shard)
    .execute(conn)
    .await?;
    Ok(())
}
