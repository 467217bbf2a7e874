//! Steps the live plans, in every worker process. Each plan is stepped by the
//! process holding its lease (a row update, not a held connection); a process
//! keeps the lease while it lives and renews it every step, and one killed
//! mid-plan is replaced once its lease lapses. The moves themselves run as
//! ordinary move jobs on any worker, so a plan survives any process dying.

use std::time::Duration;

use crate::control::rebalances;
use crate::mover::Mover;

/// How long a lease outlives the last step of the process holding it.
pub const LEASE: Duration = Duration::from_secs(10);

/// Steps every live plan this process holds or can take; returns how many.
pub async fn step_all(mover: &Mover, owner: &str) -> Result<usize, anyhow::Error> {
    let plans = {
        let mut conn = mover.control_pool().acquire().await?;
        rebalances::lease_live(&mut conn, owner, LEASE.as_secs_f64()).await?
    };
    for plan in &plans {
        if let Err(error) = super::step::step(mover, plan).await {
            tracing::warn!(rebalance_id = plan.id, error = %crate::db::logged(&error),
                "rebalance step failed; trying again at the next step");
        }
    }
    Ok(plans.len())
}

/// Steps the live plans every `shard_ops.rebalance_step_ms` until `stop` is set.
pub async fn run(
    mover: std::sync::Arc<Mover>,
    owner: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = Duration::from_millis(mover.settings().shard_ops.rebalance_step_ms.max(50));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(error) = step_all(&mover, &owner).await {
            tracing::warn!(error = %crate::db::logged(error.as_ref()), "stepping rebalance plans failed; trying again");
        }
    }
}
