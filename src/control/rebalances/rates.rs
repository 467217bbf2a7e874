//! What recent completed moves cost, over the whole fleet and per (source,
//! target) shard pair: the median seconds of small moves (under 10,000 rows:
//! the fixed cost) and the rows per second of the others beyond that, over the
//! last 50 completed moves of each. Both read the same `recent` set through one
//! tail, so a pair's rate is measured exactly as the fleet's.

use sqlx::PgConnection;

use crate::sql::audited;

/// A measured rate; a part with no move to measure it is `None`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Measured {
    pub source_shard: String,
    pub target_shard: String,
    pub fixed_secs: Option<f64>,
    pub rows_per_sec: Option<f64>,
    /// Completed moves measured.
    pub moves: i64,
}

/// The completed moves whose duration is known.
const TIMED: &str = "status = 'completed' AND started_at IS NOT NULL AND finished_at > started_at";

/// The rate of each `(source, target)` group of `recent`.
const RATES_OF_RECENT: &str = "
fixed AS (
    SELECT source, target, count(*)::int8 AS moves,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) FILTER (WHERE rows < 10000) AS secs
      FROM recent GROUP BY 1, 2)
SELECT f.source AS source_shard, f.target AS target_shard, f.secs AS fixed_secs,
       (SELECT sum(r.rows) / NULLIF(sum(greatest(r.secs - coalesce(f.secs, 0), 0.001)), 0)
          FROM recent r
         WHERE r.source = f.source AND r.target = f.target AND r.rows >= 10000) AS rows_per_sec,
       f.moves
  FROM fixed f";

/// The fleet's rate over its last 50 completed moves (pair names empty).
pub async fn fleet_rate(conn: &mut PgConnection) -> Result<Measured, sqlx::Error> {
    let sql = format!(
        "WITH recent AS (
             SELECT ''::text AS source, ''::text AS target, rows_total::float8 AS rows,
                    extract(epoch FROM finished_at - started_at)::float8 AS secs
               FROM shardmover.migrations WHERE {TIMED} ORDER BY id DESC LIMIT 50),
         {RATES_OF_RECENT}"
    );
    let measured: Option<Measured> = sqlx::query_as(audited(&sql)).fetch_optional(conn).await?;
    Ok(measured.unwrap_or(Measured {
        source_shard: String::new(),
        target_shard: String::new(),
        fixed_secs: None,
        rows_per_sec: None,
        moves: 0,
    }))
}

/// Each pair's rate over its own last 50 completed moves; pairs without one are left out.
pub async fn pair_rates(
    conn: &mut PgConnection,
    pairs: &[(String, String)],
) -> Result<Vec<Measured>, sqlx::Error> {
    let (sources, targets): (Vec<&str>, Vec<&str>) = (pairs.iter())
        .map(|(s, t)| (s.as_str(), t.as_str()))
        .unzip();
    let sql = format!(
        "WITH pairs AS (SELECT DISTINCT * FROM unnest($1::text[], $2::text[]) AS p (source, target)),
         recent AS (
             SELECT p.source, p.target, m.rows, m.secs FROM pairs p
             CROSS JOIN LATERAL (
                 SELECT rows_total::float8 AS rows,
                        extract(epoch FROM finished_at - started_at)::float8 AS secs
                   FROM shardmover.migrations
                  WHERE source_shard = p.source AND target_shard = p.target AND {TIMED}
                  ORDER BY id DESC LIMIT 50) m),
         {RATES_OF_RECENT}"
    );
    sqlx::query_as(audited(&sql))
        .bind(&sources)
        .bind(&targets)
        .fetch_all(conn)
        .await
}
