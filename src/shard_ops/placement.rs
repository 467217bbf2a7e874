//! Placement: the recommended shard for a new website is the `available` shard
//! with the most free capacity (no limit counts as most); ties are broken by a
//! jump consistent hash of the website id, so the answer is stable. Never a
//! shard that is full, not available, not configured, or last probed UNHEALTHY.

use serde::Serialize;
use utoipa::ToSchema;

use super::jump_hash::jump_hash;
use super::{ShardOps, ShardOpsError, ShardView};
use crate::ids::WebsiteId;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recommendation {
    pub website_id: Option<i64>,
    pub shard: String,
    pub location: String,
    /// Null: no limit.
    pub free_capacity: Option<i64>,
    pub reason: String,
    /// Every shard and why it was or was not eligible.
    pub candidates: Vec<Candidate>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    pub shard: String,
    pub eligible: bool,
    pub free_capacity: Option<i64>,
    /// Why not, when not eligible.
    pub reason: Option<String>,
}

pub(crate) fn ineligibility(shard: &ShardView) -> Option<String> {
    if !shard.configured {
        return Some("not configured".into());
    }
    if let Some(plan) = shard.drained_by_rebalance {
        return Some(format!("being drained by rebalance {plan}"));
    }
    if !shard.status.accepts_websites() {
        return Some(format!("status {}", shard.status));
    }
    if shard.free_capacity == Some(0) {
        return Some("full".into());
    }
    if !shard.accepts_websites {
        return Some("UNHEALTHY".into());
    }
    None
}

/// Picks among the eligible shards; `None` when there is none.
pub(crate) fn choose(shards: &[ShardView], website: Option<WebsiteId>) -> Option<&ShardView> {
    let free = |s: &ShardView| s.free_capacity.unwrap_or(i64::MAX);
    let eligible: Vec<&ShardView> = shards
        .iter()
        .filter(|s| ineligibility(s).is_none())
        .collect();
    let best = eligible.iter().map(|s| free(s)).max()?;
    let mut tied: Vec<&ShardView> = eligible.into_iter().filter(|s| free(s) == best).collect();
    tied.sort_by(|a, b| a.name.cmp(&b.name));
    let key = website.map_or(0, |w| w.get() as u64);
    Some(tied[jump_hash(key, tied.len() as u32) as usize])
}

impl ShardOps<'_> {
    /// Probes shards whose stored health is missing or stale before deciding.
    pub async fn recommend(
        &self,
        website: Option<WebsiteId>,
    ) -> Result<Recommendation, ShardOpsError> {
        self.health(false, false).await?;
        let shards = self.list().await?;
        let candidates = shards
            .iter()
            .map(|s| {
                let reason = ineligibility(s);
                Candidate {
                    shard: s.name.clone(),
                    eligible: reason.is_none(),
                    free_capacity: s.free_capacity,
                    reason,
                }
            })
            .collect();
        let chosen = choose(&shards, website).ok_or(ShardOpsError::NoShardAvailable)?;
        Ok(Recommendation {
            website_id: website.map(WebsiteId::get),
            shard: chosen.name.clone(),
            location: chosen.location.clone(),
            free_capacity: chosen.free_capacity,
            reason: "available, healthy, most free capacity (ties: jump hash of the website id)"
                .into(),
            candidates,
        })
    }
}
