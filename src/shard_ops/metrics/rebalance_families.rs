//! Fleet plans in `/metrics`: the moves of live plans by state, live plans by
//! state, and the longest a running plan has gone without progress (the
//! stalled-rebalance alert reads it; a plan waiting for its window is not stalled).

use sqlx::PgConnection;

use super::Exposition;
use crate::control::rebalances;

pub async fn render(conn: &mut PgConnection, out: &mut Exposition) -> Result<(), sqlx::Error> {
    let by_state = rebalances::count_by_state(conn).await?;
    let name = "shardmover_rebalance_moves";
    out.family(name, "gauge", "Moves of live rebalance plans by state.");
    for state in ["waiting", "running", "completed", "failed", "cancelled"] {
        let n = by_state
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n);
        out.sample(name, &[("state", state)], n as f64);
    }
    let (plans, stalled_secs) = rebalances::live_summary(conn).await?;
    let name = "shardmover_rebalances";
    out.family(name, "gauge", "Live rebalance plans by state.");
    for state in rebalances::LIVE {
        let n = plans
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n);
        out.sample(name, &[("state", state)], n as f64);
    }
    let name = "shardmover_rebalance_stalled_seconds";
    out.family(
        name,
        "gauge",
        "Longest time a running rebalance plan has made no progress (0 when none runs).",
    );
    out.sample(name, &[], stalled_secs);
    Ok(())
}
