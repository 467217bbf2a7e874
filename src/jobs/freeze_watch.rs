//! Every worker process watches for freezes whose mover is gone and lifts
//! their fences (`Mover::expire_abandoned_freezes`): a mover killed with its
//! fence up leaves the website's writes refused for about the freeze budget
//! and one tick, not until its job is delivered again.

use std::sync::Arc;
use std::time::Duration;

use crate::mover::Mover;

/// How often each process looks: one indexed query of the control database.
pub const EVERY: Duration = Duration::from_millis(500);

/// Watches every `EVERY` until `stop` is set.
pub async fn run(mover: Arc<Mover>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = mover.expire_abandoned_freezes().await {
            tracing::debug!(error = %e, "freeze watch failed; looking again shortly");
        }
    }
}
