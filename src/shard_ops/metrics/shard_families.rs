//! Per-shard families, from the catalogue and each shard's stored probe (no
//! shard is contacted at scrape time).

use super::Exposition;
use crate::control::shard_health::HealthState;
use crate::shard_ops::ShardView;

/// A gauge with one sample per shard that has a value: name, help, value.
type Gauge = (&'static str, &'static str, fn(&ShardView) -> Option<f64>);

const CATALOGUE: [Gauge; 3] = [
    (
        "shardmover_shard_websites",
        "Websites the registry places on the shard.",
        |s| Some(s.websites as f64),
    ),
    (
        "shardmover_shard_capacity",
        "Website capacity of the shard (absent: no limit).",
        |s| s.capacity.map(|c| c as f64),
    ),
    (
        "shardmover_shard_configured",
        "1 when the shard is configured; 0 for a catalogue row whose shard left the configuration.",
        |s| Some(f64::from(u8::from(s.configured))),
    ),
];

const PROBE: [Gauge; 3] = [
    (
        "shardmover_shard_query_latency_seconds",
        "Average round trip at the latest probe.",
        |s| Some(s.health.as_ref()?.report.avg_query_ms? / 1000.0),
    ),
    (
        "shardmover_shard_database_size_bytes",
        "Database size at the latest probe.",
        |s| Some(s.health.as_ref()?.report.database_size? as f64),
    ),
    (
        "shardmover_shard_last_probe_timestamp_seconds",
        "When the shard was last probed.",
        |s| Some(s.health.as_ref()?.report.checked_at.timestamp_millis() as f64 / 1000.0),
    ),
];

pub(super) fn render(shards: &[ShardView], out: &mut Exposition) {
    gauges(shards, &CATALOGUE, out);
    status(shards, out);
    health(shards, out);
    gauges(shards, &PROBE, out);
}

fn gauges(shards: &[ShardView], gauges: &[Gauge], out: &mut Exposition) {
    for (name, help, value) in gauges {
        out.family(name, "gauge", help);
        for s in shards {
            if let Some(value) = value(s) {
                out.sample(name, &[("shard", &s.name)], value);
            }
        }
    }
}

fn status(shards: &[ShardView], out: &mut Exposition) {
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
}

fn health(shards: &[ShardView], out: &mut Exposition) {
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
}
