//! `/metrics`: computed from the control database at scrape time, so any API
//! process answers for all of them — moves by status, rows copied, move
//! durations, online moves' freezes and backlog, queue depth and age, rebalance
//! plans, and each shard's stored health and size.

mod exposition;
mod online_families;
mod rebalance_families;
mod shard_families;

use sqlx::PgConnection;

pub use exposition::{CONTENT_TYPE, Exposition};

use super::{ShardOps, ShardOpsError};
use crate::control::metrics::{self, QueueRow};
use crate::domain::Status;

/// Upper bounds (seconds) of the move-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 9] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 10800.0, 43200.0];

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
        let budget_ms = self.settings().engine.freeze_budget_ms;
        online_families::render(&mut conn, budget_ms, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        queue(&mut conn, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        notices(&mut conn, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        rebalance_families::render(&mut conn, &mut out)
            .await
            .map_err(ShardOpsError::control("reading metrics"))?;
        shard_families::render(&shards, &mut out);
        Ok(out.finish())
    }
}

async fn moves(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let by_status = metrics::moves_by_status(conn).await?;
    let count = |status: Status| {
        by_status
            .iter()
            .find(|(s, _)| s == status.as_str())
            .map_or(0.0, |(_, n)| *n as f64)
    };
    let (started, rows_copied) = metrics::started_and_rows_copied(conn).await?;
    out.family(
        "shardmover_moves_started_total",
        "counter",
        "Moves that began running.",
    );
    out.sample("shardmover_moves_started_total", &[], started as f64);
    for (name, status) in [
        ("shardmover_moves_completed_total", Status::Completed),
        ("shardmover_moves_failed_total", Status::Failed),
        ("shardmover_moves_cancelled_total", Status::Cancelled),
    ] {
        out.family(name, "counter", &format!("Moves that ended {status}."));
        out.sample(name, &[], count(status));
    }
    out.family("shardmover_moves", "gauge", "Moves by current status.");
    for status in Status::ALL {
        out.sample(
            "shardmover_moves",
            &[("status", status.as_str())],
            count(*status),
        );
    }
    out.family(
        "shardmover_rows_copied_total",
        "counter",
        "Rows copied by all moves.",
    );
    out.sample("shardmover_rows_copied_total", &[], rows_copied as f64);
    Ok(())
}

async fn durations(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let rows = metrics::durations(conn, &DURATION_BUCKETS).await?;
    let name = "shardmover_move_duration_seconds";
    out.family(
        name,
        "histogram",
        "Run time of finished moves, by final status.",
    );
    for row in rows {
        let status = row.status;
        let count = row.count;
        for (le, n) in DURATION_BUCKETS.iter().zip(&row.buckets) {
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
        out.sample(&format!("{name}_sum"), &labels, row.total_secs);
        out.sample(&format!("{name}_count"), &labels, count as f64);
    }
    Ok(())
}

/// Name, help, and the value of one row.
type QueueFamily = (&'static str, &'static str, fn(&QueueRow) -> f64);

async fn queue(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let rows = metrics::queues(conn).await?;
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
    let counts = metrics::notices_by_status(conn).await?;
    let name = "shardmover_notifications";
    out.family(name, "gauge", "Move notices by delivery status.");
    for (status, count) in counts {
        out.sample(name, &[("status", &status)], count as f64);
    }
    Ok(())
}
