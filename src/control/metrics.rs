//! The queries behind `/metrics`: moves by status, rows copied, move
//! durations, online moves' freezes and backlog, queue depth and age (apalis's `jobs`), notices by status.

use sqlx::{PgConnection, Row};

use crate::domain::NoticeStatus;

/// Moves per stored status.
pub async fn moves_by_status(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*)::int8 FROM shardmover.migrations GROUP BY status")
        .fetch_all(conn)
        .await
}

/// Moves that began running, and rows copied by all moves.
pub async fn started_and_rows_copied(conn: &mut PgConnection) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE started_at IS NOT NULL)::int8 AS started,
                (SELECT coalesce(sum(rows_copied), 0)::int8 FROM shardmover.migration_tables) AS rows
           FROM shardmover.migrations",
    )
    .fetch_one(conn)
    .await?;
    Ok((row.try_get("started")?, row.try_get("rows")?))
}

/// Finished moves of one final status: how many, their total run time, and
/// how many took at most each bucket's bound.
pub struct Durations {
    pub status: String,
    pub count: i64,
    pub total_secs: f64,
    pub buckets: Vec<i64>,
}

pub async fn durations(
    conn: &mut PgConnection,
    bounds: &[f64],
) -> Result<Vec<Durations>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH d AS (SELECT status, extract(epoch FROM finished_at - started_at)::float8 AS secs
                      FROM shardmover.migrations
                     WHERE finished_at IS NOT NULL AND started_at IS NOT NULL),
              per AS (SELECT status, count(*)::int8 AS n, coalesce(sum(secs), 0)::float8 AS total
                        FROM d GROUP BY status),
              cum AS (SELECT d.status, u.i, count(*) FILTER (WHERE d.secs <= u.b)::int8 AS c
                        FROM d CROSS JOIN unnest($1::float8[]) WITH ORDINALITY AS u(b, i)
                       GROUP BY d.status, u.i)
         SELECT per.status, per.n, per.total, array_agg(cum.c ORDER BY cum.i) AS buckets
           FROM per JOIN cum USING (status)
          GROUP BY per.status, per.n, per.total ORDER BY per.status",
    )
    .bind(bounds.to_vec())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Durations {
                status: row.try_get("status")?,
                count: row.try_get("n")?,
                total_secs: row.try_get("total")?,
                buckets: row.try_get("buckets")?,
            })
        })
        .collect()
}

/// Ended freezes of online moves, however each ended: how many, their total
/// length, how many overran the budget recorded with them, how many lasted at
/// most each bucket's bound (seconds), and how many ended each way.
pub struct Freezes {
    pub count: i64,
    pub total_secs: f64,
    pub over_budget: i64,
    pub buckets: Vec<i64>,
    pub ended_by: Vec<(String, i64)>,
}

/// Every kept freeze (`shardmover.freezes`), bucketed by `bounds` (seconds).
pub async fn freezes(conn: &mut PgConnection, bounds: &[f64]) -> Result<Freezes, sqlx::Error> {
    let row = sqlx::query(
        "WITH f AS (SELECT extract(epoch FROM ended_at - started_at)::float8 AS secs,
                           (budget_ms / 1000.0)::float8 AS budget, ended_by
                      FROM shardmover.freezes)
         SELECT (SELECT count(*)::int8 FROM f) AS n,
                (SELECT coalesce(sum(secs), 0)::float8 FROM f) AS total,
                (SELECT count(*)::int8 FROM f WHERE f.secs > f.budget) AS over_budget,
                array(SELECT (SELECT count(*) FROM f WHERE f.secs <= u.b)::int8
                        FROM unnest($1::float8[]) WITH ORDINALITY AS u(b, i) ORDER BY u.i) AS buckets,
                array(SELECT e FROM unnest($2::text[]) e ORDER BY e) AS ends,
                array(SELECT (SELECT count(*) FROM f WHERE f.ended_by = e)::int8
                        FROM unnest($2::text[]) e ORDER BY e) AS ended",
    )
    .bind(bounds.to_vec())
    .bind(FREEZE_ENDS)
    .fetch_one(conn)
    .await?;
    let ends: Vec<String> = row.try_get("ends")?;
    let ended: Vec<i64> = row.try_get("ended")?;
    Ok(Freezes {
        count: row.try_get("n")?,
        total_secs: row.try_get("total")?,
        over_budget: row.try_get("over_budget")?,
        buckets: row.try_get("buckets")?,
        ended_by: ends.into_iter().zip(ended).collect(),
    })
}

/// Every way a freeze ends, so each is reported even while zero.
const FREEZE_ENDS: [&str; 4] = ["cutover", "expired", "rollback", "thaw"];

/// Captured changes not yet replayed, summed over running moves.
pub async fn changes_waiting(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(changes_waiting), 0)::int8
           FROM shardmover.migrations WHERE status = $1",
    )
    .bind(crate::domain::Status::InProgress.as_str())
    .fetch_one(conn)
    .await
}

/// Queue, waiting, running, age of the oldest due waiting job.
pub type QueueRow = (String, i64, i64, f64);

pub async fn queues(conn: &mut PgConnection) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT job_type,
                count(*) FILTER (WHERE status IN ('Pending', 'Queued'))::int8,
                count(*) FILTER (WHERE status = 'Running')::int8,
                coalesce(extract(epoch FROM now() - min(run_at)
                    FILTER (WHERE status IN ('Pending', 'Queued') AND run_at <= now())), 0)::float8
           FROM apalis.jobs GROUP BY job_type ORDER BY job_type",
    )
    .fetch_all(conn)
    .await
}

/// Notices per delivery status, every status listed (zero when none).
pub async fn notices_by_status(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.status, count(n.id)::int8
           FROM unnest($1::text[]) AS s(status)
           LEFT JOIN shardmover.notifications n USING (status)
          GROUP BY s.status ORDER BY s.status",
    )
    .bind(
        NoticeStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await
}
