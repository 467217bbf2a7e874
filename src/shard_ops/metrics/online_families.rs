//! Online moves in `/metrics`: how long their freezes refused writes (a
//! histogram of every freeze, whether it ended in the cutover, a thaw, a
//! rollback or the freeze watcher), how many overran the
//! `engine.freeze_budget_ms` they were held to (the counter the
//! freeze-over-budget alert reads, so it follows the configured budget), how
//! each ended, and the
//! backlog of captured changes of running moves. All come from the control
//! database, so every process reports the same.

use sqlx::PgConnection;

use super::Exposition;
use crate::control::metrics;

/// Upper bounds (seconds) of the freeze histogram's buckets.
const FREEZE_BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

pub async fn render(
    conn: &mut PgConnection,
    budget_ms: u64,
    out: &mut Exposition,
) -> Result<(), sqlx::Error> {
    let budget_secs = budget_ms as f64 / 1000.0;
    let freezes = metrics::freezes(conn, &FREEZE_BUCKETS).await?;
    let name = "shardmover_move_freeze_seconds";
    out.family(
        name,
        "histogram",
        "How long online moves refused the website's writes in a freeze, however it ended.",
    );
    let bucket = format!("{name}_bucket");
    for (le, n) in FREEZE_BUCKETS.iter().zip(&freezes.buckets) {
        out.sample(&bucket, &[("le", &le.to_string())], *n as f64);
    }
    out.sample(&bucket, &[("le", "+Inf")], freezes.count as f64);
    out.sample(&format!("{name}_sum"), &[], freezes.total_secs);
    out.sample(&format!("{name}_count"), &[], freezes.count as f64);

    let name = "shardmover_move_freezes_over_budget_total";
    out.family(
        name,
        "counter",
        "Online moves' freezes that lasted longer than the engine.freeze_budget_ms they were held to.",
    );
    out.sample(name, &[], freezes.over_budget as f64);
    let name = "shardmover_move_freezes_total";
    out.family(
        name,
        "counter",
        "Online moves' freezes by how they ended: cutover, thaw (went back to catching up), rollback, or expired (lifted for a mover that was gone).",
    );
    for (ended_by, n) in &freezes.ended_by {
        out.sample(name, &[("ended_by", ended_by)], *n as f64);
    }
    let name = "shardmover_freeze_budget_seconds";
    out.family(name, "gauge", "engine.freeze_budget_ms, in seconds.");
    out.sample(name, &[], budget_secs);

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
