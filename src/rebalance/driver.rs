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

/// Steps the live plans when a move ends or a plan changes (the control
/// database's `shardmover_rebalance` notification), and at least every
/// `shard_ops.rebalance_step_ms`, until `stop` is set. Small websites move in
/// a fraction of a second, so waiting for the next poll to start the next move
/// would cost a plan more than its moves.
pub async fn run(
    mover: std::sync::Arc<Mover>,
    owner: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let every = Duration::from_millis(mover.settings().shard_ops.rebalance_step_ms.max(50));
    let mut listener = None;
    loop {
        if listener.is_none() {
            listener = listen(mover.control_pool()).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            woke = woken(&mut listener) => if !woke { listener = None },
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(error) = step_all(&mover, &owner).await {
            tracing::warn!(error = %crate::db::logged(error.as_ref()), "stepping rebalance plans failed; trying again");
        }
    }
}

const CHANNEL: &str = "shardmover_rebalance";

async fn listen(pool: &sqlx::PgPool) -> Option<sqlx::postgres::PgListener> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await.ok()?;
    listener.listen(CHANNEL).await.ok()?;
    Some(listener)
}

/// Waits for a notification; false when the listener failed (the poll goes on,
/// and the next turn listens again). Without a listener, waits for ever.
async fn woken(listener: &mut Option<sqlx::postgres::PgListener>) -> bool {
    match listener {
        Some(listener) => listener.recv().await.is_ok(),
        None => std::future::pending().await,
    }
}
