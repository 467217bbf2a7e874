//! `/metrics`: computed from the control database at scrape time, so any API
//! process answers for all of them — moves by status, rows copied, move
//! durations, queue depth and age, and each shard's stored health and size.

mod exposition;
mod shard_families;

use sqlx::{PgConnection, Row};

pub use exposition::{CONTENT_TYPE, Exposition};

use super::{ShardOps, ShardOpsError};

/// Upper bounds (seconds) of the move-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 9] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 43200.0];
const STATUSES: [&str; 5] = ["pending", "in_progress", "completed", "failed", "cancelled"];

impl ShardOps<'_> {
    pub async fn metrics(&self) -> Result<String, ShardOpsError> {
        let mut out = Exposition::default();
        let shards = self.list().await?;
        let mut conn = self.conn().await?;
        moves(&mut conn, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        durations(&mut conn, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        queue(&mut conn, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        notices(&mut conn, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        shard_families::render(&shards, &mut out);
        Ok(out.finish())
    }
}

async fn moves(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE started_at IS NOT NULL)::int8 AS started,
                count(*) FILTER (WHERE status = 'pending')::int8 AS pending,
                count(*) FILTER (WHERE status = 'in_progress')::int8 AS in_progress,
                count(*) FILTER (WHERE status = 'completed')::int8 AS completed,
                count(*) FILTER (WHERE status = 'failed')::int8 AS failed,
                count(*) FILTER (WHERE status = 'cancelled')::int8 AS cancelled,
                (SELECT coalesce(sum(rows_copied), 0)::int8 FROM shardmover.migration_tables) AS rows
           FROM shardmover.migrations",
    )
    .fetch_one(conn)
    .await?;
    let get = |col: &str| row.try_get::<i64, _>(col).map(|v| v as f64);
    out.family(
        "shardmover_moves_started_total",
        "counter",
        "Moves that began running.",
    );
    out.sample("shardmover_moves_started_total", &[], get("started")?);
    for (name, status) in [
        ("shardmover_moves_completed_total", "completed"),
        ("shardmover_moves_failed_total", "failed"),
        ("shardmover_moves_cancelled_total", "cancelled"),
    ] {
        out.family(name, "counter", &format!("Moves that ended {status}."));
        out.sample(name, &[], get(status)?);
    }
    out.family("shardmover_moves", "gauge", "Moves by current status.");
    for status in STATUSES {
        out.sample("shardmover_moves", &[("status", status)], get(status)?);
    }
    out.family(
        "shardmover_rows_copied_total",
        "counter",
        "Rows copied by all moves.",
    );
    out.sample("shardmover_rows_copied_total", &[], get("rows")?);
    Ok(())
}

async fn durations(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
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
    .bind(DURATION_BUCKETS.to_vec())
    .fetch_all(conn)
    .await?;
    let name = "shardmover_move_duration_seconds";
    out.family(
        name,
        "histogram",
        "Run time of finished moves, by final status.",
    );
    for row in rows {
        let status: String = row.try_get("status")?;
        let buckets: Vec<i64> = row.try_get("buckets")?;
        let count = row.try_get::<i64, _>("n")?;
        for (le, n) in DURATION_BUCKETS.iter().zip(&buckets) {
            let le = le.to_string();
            out.sample(
                &format!("{name}_bucket"),
                &[("status", &status), ("le", &le)],
                *n as f64,
            );
        }
        let labels = [("status", status.as_str())];
        out.sample(
            &format!("{name}_bucket"),
            &[labels[0], ("le", "+Inf")],
            count as f64,
        );
        out.sample(&format!("{name}_sum"), &labels, row.try_get("total")?);
        out.sample(&format!("{name}_count"), &labels, count as f64);
    }
    Ok(())
}

/// Queue, waiting, running, age of the oldest due waiting job.
type QueueRow = (String, i64, i64, f64);
/// Name, help, and the value of one row.
type QueueFamily = (&'static str, &'static str, fn(&QueueRow) -> f64);

async fn queue(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let rows: Vec<QueueRow> = sqlx::query_as(
        "SELECT job_type,
                count(*) FILTER (WHERE status IN ('Pending', 'Queued'))::int8,
                count(*) FILTER (WHERE status = 'Running')::int8,
                coalesce(extract(epoch FROM now() - min(run_at)
                    FILTER (WHERE status IN ('Pending', 'Queued') AND run_at <= now())), 0)::float8
           FROM apalis.jobs GROUP BY job_type ORDER BY job_type",
    )
    .fetch_all(conn)
    .await?;
    let families: [QueueFamily; 3] = [
        (
            "shardmover_queue_depth",
            "Jobs waiting (pending or queued), by queue.",
            |r| r.1 as f64,
        ),
        ("shardmover_queue_running", "Jobs running, by queue.", |r| {
            r.2 as f64
        }),
        (
            "shardmover_queue_oldest_pending_age_seconds",
            "Age of the oldest due job still waiting, by queue (0 when none).",
            |r| r.3,
        ),
    ];
    for (name, help, value) in families {
        out.family(name, "gauge", help);
        for row in &rows {
            out.sample(name, &[("queue", &row.0)], value(row));
        }
    }
    Ok(())
}

/// Email notices by delivery status: `failed` ones were given up and need a person.
async fn notices(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT s.status, count(n.id)::int8
           FROM unnest(ARRAY['pending', 'sent', 'failed']) AS s(status)
           LEFT JOIN shardmover.notifications n USING (status)
          GROUP BY s.status ORDER BY s.status",
    )
    .fetch_all(conn)
    .await?;
    let name = "shardmover_notifications";
    out.family(name, "gauge", "Move notices by delivery status.");
    for (status, count) in counts {
        out.sample(name, &[("status", &status)], count as f64);
    }
    Ok(())
}
