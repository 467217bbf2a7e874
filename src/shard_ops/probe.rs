//! One shard's probe on its own connection, under one hard timeout that covers
//! connecting and every query: a shard that accepts and never answers costs
//! exactly the timeout.

use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Row};

/// Round trips averaged into `avg_query_ms`.
const PINGS: u32 = 3;

#[derive(Debug, Clone)]
pub(crate) struct Measurements {
    pub avg_query_ms: f64,
    pub active_connections: i32,
    pub max_connections: i32,
    pub database_size: i64,
    pub cache_hit_rate: Option<f64>,
    pub index_hit_rate: Option<f64>,
    /// The count, or why there is none.
    pub slow_queries: Result<i64, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// `timeout` or `error`.
    pub status: &'static str,
    pub message: String,
}

pub(crate) async fn measure(
    options: PgConnectOptions,
    timeout: Duration,
    slow_query_ms: f64,
) -> Result<Measurements, Failure> {
    match tokio::time::timeout(timeout, run(options, slow_query_ms)).await {
        Ok(Ok(measurements)) => Ok(measurements),
        Ok(Err(e)) => Err(Failure {
            status: "error",
            // sqlx's messages name host and port at most, never the password.
            message: crate::db::error_message(&e),
        }),
        Err(_) => Err(Failure {
            status: "timeout",
            message: format!("no answer within {} ms", timeout.as_millis()),
        }),
    }
}

async fn run(options: PgConnectOptions, slow_query_ms: f64) -> Result<Measurements, sqlx::Error> {
    let mut conn = PgConnection::connect_with(&options).await?;
    let started = Instant::now();
    for _ in 0..PINGS {
        sqlx::query("SELECT 1").execute(&mut conn).await?;
    }
    let avg_query_ms = started.elapsed().as_secs_f64() * 1000.0 / f64::from(PINGS);
    let row = sqlx::query(
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())::int4 AS active,
                current_setting('max_connections')::int4 AS max,
                pg_database_size(current_database())::int8 AS size,
                (SELECT blks_hit::float8 / nullif(blks_hit + blks_read, 0)
                   FROM pg_stat_database WHERE datname = current_database()) AS cache_hit,
                (SELECT sum(idx_blks_hit)::float8 / nullif(sum(idx_blks_hit + idx_blks_read), 0)
                   FROM pg_statio_user_indexes) AS index_hit,
                EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS statements",
    )
    .fetch_one(&mut conn)
    .await?;
    let slow_queries = if row.try_get("statements")? {
        slow_queries(&mut conn, slow_query_ms).await
    } else {
        Err("pg_stat_statements is not installed on this shard".into())
    };
    let measurements = Measurements {
        avg_query_ms,
        active_connections: row.try_get("active")?,
        max_connections: row.try_get("max")?,
        database_size: row.try_get("size")?,
        cache_hit_rate: row.try_get("cache_hit")?,
        index_hit_rate: row.try_get("index_hit")?,
        slow_queries,
    };
    let _ = conn.close().await;
    Ok(measurements)
}

/// Statements of this database averaging over the threshold; the extension may
/// be created but not loaded, which is an answer too.
async fn slow_queries(conn: &mut PgConnection, slow_query_ms: f64) -> Result<i64, String> {
    sqlx::query_scalar(
        "SELECT count(*)::int8 FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND mean_exec_time > $1",
    )
    .bind(slow_query_ms)
    .fetch_one(conn)
    .await
    .map_err(|e| {
        format!(
            "pg_stat_statements cannot be read: {}",
            crate::db::error_message(&e)
        )
    })
}
