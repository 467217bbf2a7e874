//! Websites per shard with shares, and whether they are imbalanced: the spread
//! between the largest and smallest share among shards that hold websites in
//! steady state (available, at_capacity, maintenance) exceeds the threshold.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::catalogue::states;
use super::{ShardOps, ShardOpsError};
use crate::control::registry;
use crate::shard_status::ShardStatus;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Distribution {
    pub total_websites: i64,
    pub shards: Vec<ShardShare>,
    /// Largest minus smallest share (0..1) among the balanced shards.
    pub spread: f64,
    pub threshold: f64,
    pub imbalanced: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShardShare {
    pub name: String,
    /// Null for a shard the registry names but the configuration does not.
    pub status: Option<String>,
    pub websites: i64,
    /// Of all websites, 0..100.
    pub percent: f64,
    pub capacity: Option<i64>,
    pub configured: bool,
}

/// Whether a shard in this status counts when judging balance.
fn balanced(status: ShardStatus) -> bool {
    matches!(
        status,
        ShardStatus::Available | ShardStatus::AtCapacity | ShardStatus::Maintenance
    )
}

impl ShardOps<'_> {
    pub async fn distribution(&self) -> Result<Distribution, ShardOpsError> {
        let mut conn = self.conn().await?;
        let states = states(&mut conn, self.settings())
            .await
            .map_err(ShardOpsError::control("reading the shard catalogue"))?;
        let mut counts: BTreeMap<String, i64> =
            registry::count_by_shard(&mut conn, &self.settings().tenancy)
                .await
                .map_err(ShardOpsError::control("counting websites"))?
                .into_iter()
                .collect();
        let total: i64 = counts.values().sum();
        let share = |n: i64| {
            if total > 0 {
                n as f64 / total as f64
            } else {
                0.0
            }
        };
        let mut shards = Vec::new();
        let mut balanced_shares = Vec::new();
        for (name, state) in &states {
            let websites = counts.remove(name.as_str()).unwrap_or(0);
            if balanced(state.status) {
                balanced_shares.push(share(websites));
            }
            shards.push(ShardShare {
                name: name.to_string(),
                status: Some(state.status.to_string()),
                websites,
                percent: round(share(websites) * 100.0),
                capacity: state.capacity,
                configured: true,
            });
        }
        for (name, websites) in counts {
            shards.push(ShardShare {
                name,
                status: None,
                websites,
                percent: round(share(websites) * 100.0),
                capacity: None,
                configured: false,
            });
        }
        let spread = spread(&balanced_shares);
        let threshold = self.settings().shard_ops.imbalance_threshold;
        Ok(Distribution {
            total_websites: total,
            shards,
            spread: round(spread),
            threshold,
            imbalanced: spread > threshold,
        })
    }
}

/// Largest minus smallest; 0 for fewer than two shards.
pub(crate) fn spread(shares: &[f64]) -> f64 {
    if shares.len() < 2 {
        return 0.0;
    }
    let max = shares.iter().copied().fold(f64::MIN, f64::max);
    let min = shares.iter().copied().fold(f64::MAX, f64::min);
    max - min
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_is_the_gap_between_largest_and_smallest_share() {
        assert_eq!(spread(&[0.5]), 0.0);
        assert!((spread(&[0.7, 0.3]) - 0.4).abs() < 1e-9);
        assert!((spread(&[0.4, 0.35, 0.25]) - 0.15).abs() < 1e-9);
    }
}
