//! Online moves in `/metrics`: how long their freezes refused writes (a
//! histogram the freeze-over-budget alert reads) and the backlog of captured
//! changes of running moves. Both come from the control database, so every
//! process reports the same.

use sqlx::PgConnection;

use super::Exposition;
use crate::control::metrics;

/// Upper bounds (seconds) of the freeze histogram's buckets; 1 s is the
/// default `engine.freeze_budget_ms`, so the alert can read it exactly.
const FREEZE_BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub async fn render(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let freezes = metrics::freezes(conn, &FREEZE_BUCKETS).await?;
    let name = "shardmover_move_freeze_seconds";
    out.family(
        name,
        "histogram",
        "How long online moves refused the website's writes in their final freeze.",
    );
    let bucket = format!("{name}_bucket");
    for (le, n) in FREEZE_BUCKETS.iter().zip(&freezes.buckets) {
        out.sample(&bucket, &[("le", &le.to_string())], *n as f64);
    }
    out.sample(&bucket, &[("le", "+Inf")], freezes.count as f64);
    out.sample(&format!("{name}_sum"), &[], freezes.total_secs);
    out.sample(&format!("{name}_count"), &[], freezes.count as f64);

    let waiting = metrics::changes_waiting(conn).await?;
    let name = "shardmover_move_changes_waiting";
    out.family(
        name,
        "gauge",
        "Captured changes not yet replayed on the target, over running online moves.",
    );
    out.sample(name, &[], waiting as f64);
    Ok(())
}
