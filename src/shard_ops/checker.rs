//! The background health checker: probes every shard each interval and stores
//! the results for every process. Several processes may run it; one that finds
//! fresh probes from another skips its turn.

use chrono::Utc;
use tokio::sync::watch;

use super::ShardOps;
use crate::app::App;

pub async fn run(app: App, mut stopped: watch::Receiver<bool>) {
    let interval = app.settings().shard_ops.interval();
    loop {
        let ops = ShardOps::new(&app);
        if let Err(e) = probe_if_due(&ops).await {
            tracing::warn!(error = %e.one_line(), "shard health check failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
    }
}

/// Probes unless every shard was probed within most of an interval.
async fn probe_if_due(ops: &ShardOps<'_>) -> Result<(), super::ShardOpsError> {
    let due_age = ops.settings().shard_ops.interval().mul_f64(0.8);
    let stored = {
        let mut conn = ops.conn().await?;
        ops.stored_health(&mut conn).await?
    };
    let fresh = ops.configured().iter().all(|name| {
        stored.get(name).is_some_and(|h| {
            (Utc::now() - h.report.checked_at)
                .to_std()
                .unwrap_or_default()
                < due_age
        })
    });
    if !fresh {
        ops.probe(&ops.configured()).await?;
    }
    Ok(())
}
