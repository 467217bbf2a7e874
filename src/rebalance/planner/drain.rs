//! Drain: every website on one shard moves elsewhere, each to the shard
//! placement would choose for it at that point of the plan.
//!
//! Placement picks the most free capacity and breaks ties by jump hash. Every
//! unlimited shard ties, so a drain onto unlimited shards would follow the hash
//! alone and ignore load; among unlimited shards the fewest websites (after the
//! moves planned so far) wins first, and only then the jump hash.

use super::fleet::Fleet;
use super::{PlanError, Refusal};
use crate::shard_ops::jump_hash::jump_hash;

pub(super) fn drain(fleet: &mut Fleet, shard: &str) -> Result<Vec<Refusal>, PlanError> {
    let drained = fleet
        .index(shard)
        .ok_or_else(|| PlanError::UnknownShard(shard.to_string()))?;
    if fleet.shards.len() < 2 {
        return Err(PlanError::Invalid(format!(
            "shard {shard} is the only shard: there is nowhere to drain it to"
        )));
    }
    let mut refusals = Vec::new();
    for website in fleet.on(drained) {
        if let Some(busy) = fleet.busy(website) {
            refusals.push(busy);
            continue;
        }
        let id = fleet.websites[website].website_id;
        match choose(fleet, id, drained) {
            Some(target) => fleet.apply(website, target),
            None => refusals.push(Refusal {
                website_id: Some(id),
                reason: nowhere(fleet, id, drained),
            }),
        }
    }
    Ok(refusals)
}

/// Placement's choice for `website_id`, never `excluded`; `None` when no shard takes it.
pub(super) fn choose(fleet: &Fleet, website_id: i64, excluded: usize) -> Option<usize> {
    let free = |i: usize| fleet.free(i).unwrap_or(i64::MAX);
    let eligible: Vec<usize> = (0..fleet.shards.len())
        .filter(|&i| i != excluded && fleet.takes(i))
        .collect();
    let best = eligible.iter().map(|&i| free(i)).max()?;
    // Indices follow names, so `tied` is sorted by name as placement sorts it.
    let mut tied: Vec<usize> = eligible.into_iter().filter(|&i| free(i) == best).collect();
    if best == i64::MAX {
        let fewest = tied.iter().map(|&i| fleet.count(i)).min()?;
        tied.retain(|&i| fleet.count(i) == fewest);
    }
    Some(tied[jump_hash(website_id as u64, tied.len() as u32) as usize])
}

fn nowhere(fleet: &Fleet, website_id: i64, excluded: usize) -> String {
    let why: Vec<String> = (0..fleet.shards.len())
        .filter(|&i| i != excluded)
        .map(|i| format!("{} ({})", fleet.name(i), fleet.why_not(i)))
        .collect();
    format!("no shard can take website {website_id}: {}", why.join(", "))
}
