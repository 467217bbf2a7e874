//! Per-shard families, from the catalogue and each shard's stored probe (no
//! shard is contacted at scrape time).

use super::Exposition;
use crate::control::shard_health::HealthState;
use crate::shard_ops::ShardView;

pub(super) fn render(shards: &[ShardView], out: &mut Exposition) {
    out.family(
        "shardmover_shard_websites",
        "gauge",
        "Websites the registry places on the shard.",
    );
    for s in shards {
        out.sample(
            "shardmover_shard_websites",
            &[("shard", &s.name)],
            s.websites as f64,
        );
    }
    out.family(
        "shardmover_shard_capacity",
        "gauge",
        "Website capacity of the shard (absent: no limit).",
    );
    for s in shards.iter().filter(|s| s.capacity.is_some()) {
        let capacity = s.capacity.unwrap_or_default() as f64;
        out.sample("shardmover_shard_capacity", &[("shard", &s.name)], capacity);
    }
    out.family(
        "shardmover_shard_configured",
        "gauge",
        "1 when the shard is configured; 0 for a catalogue row whose shard left the configuration.",
    );
    for s in shards {
        let configured = f64::from(u8::from(s.configured));
        out.sample(
            "shardmover_shard_configured",
            &[("shard", &s.name)],
            configured,
        );
    }
    out.family(
        "shardmover_shard_status",
        "gauge",
        "1 for the shard's catalogue status.",
    );
    for s in shards {
        out.sample(
            "shardmover_shard_status",
            &[("shard", &s.name), ("status", s.status.as_str())],
            1.0,
        );
    }
    out.family(
        "shardmover_shard_health",
        "gauge",
        "1 for the shard's state at its latest probe.",
    );
    for s in shards {
        for state in [
            HealthState::Healthy,
            HealthState::Degraded,
            HealthState::Unhealthy,
        ] {
            let now = s.health.as_ref().map(|h| h.report.state);
            let value = if now == Some(state) { 1.0 } else { 0.0 };
            out.sample(
                "shardmover_shard_health",
                &[("shard", &s.name), ("state", state.as_str())],
                value,
            );
        }
    }
    let probed = || shards.iter().filter_map(|s| Some((s, s.health.as_ref()?)));
    out.family(
        "shardmover_shard_query_latency_seconds",
        "gauge",
        "Average round trip at the latest probe.",
    );
    for (s, h) in probed() {
        if let Some(ms) = h.report.avg_query_ms {
            out.sample(
                "shardmover_shard_query_latency_seconds",
                &[("shard", &s.name)],
                ms / 1000.0,
            );
        }
    }
    out.family(
        "shardmover_shard_database_size_bytes",
        "gauge",
        "Database size at the latest probe.",
    );
    for (s, h) in probed() {
        if let Some(bytes) = h.report.database_size {
            out.sample(
                "shardmover_shard_database_size_bytes",
                &[("shard", &s.name)],
                bytes as f64,
            );
        }
    }
    out.family(
        "shardmover_shard_last_probe_timestamp_seconds",
        "gauge",
        "When the shard was last probed.",
    );
    for (s, h) in probed() {
        let at = h.report.checked_at.timestamp_millis() as f64 / 1000.0;
        out.sample(
            "shardmover_shard_last_probe_timestamp_seconds",
            &[("shard", &s.name)],
            at,
        );
    }
}
