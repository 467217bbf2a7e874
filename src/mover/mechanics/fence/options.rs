//! How a change to a shard's fence lists waits for the table locks it needs:
//! how long one try may queue, when the move gives up for now, and the pause
//! between tries.

use std::time::Duration;

use crate::config::Settings;

/// How the fence is changed on a shard.
#[derive(Debug, Clone)]
pub struct FenceOptions {
    /// The key column of tables guarded by releases that did not record theirs.
    pub key_column: String,
    /// Longest one try may queue for the table locks; writers of those tables
    /// wait behind it, so this bounds the pause other tenants can see.
    pub lock_timeout: Duration,
    /// Tries go on this long before the move gives up (transiently) for now.
    pub give_up_after: Duration,
}

impl FenceOptions {
    /// The options the settings give.
    pub fn of(settings: &Settings) -> Self {
        let engine = &settings.engine;
        Self {
            key_column: settings.tenancy.key_column.clone(),
            lock_timeout: Duration::from_millis(engine.fence_lock_timeout_ms),
            give_up_after: Duration::from_secs(engine.fence_drain_timeout_secs),
        }
    }
}

/// The pause between tries: one to four lock timeouts, at random, so that
/// fences on several shards (or moves) do not retry in step.
pub(super) fn jittered(lock_timeout: Duration) -> Duration {
    let noise = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos() % 1000);
    lock_timeout.mul_f64(1.0 + 3.0 * f64::from(noise) / 1000.0)
}
