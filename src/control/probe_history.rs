//! A shard's recent health probes, newest first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Probe {
    pub state: String,
    pub connection_status: String,
    pub avg_query_ms: Option<f64>,
    pub active_connections: Option<i32>,
    pub error_message: Option<String>,
    pub checked_at: DateTime<Utc>,
}

pub async fn recent(
    conn: &mut PgConnection,
    shard: &str,
    limit: i64,
) -> Result<Vec<Probe>, sqlx::Error> {
    sqlx::query_as(
        "SELECT state, connection_status, avg_query_ms, active_connections, error_message, checked_at
           FROM shardmover.shard_health_checks
          WHERE shard_name = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(shard)
    .bind(limit)
    .fetch_all(conn)
    .await
}
