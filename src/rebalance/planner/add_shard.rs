//! Add shard: websites move onto a new, empty shard that takes websites.
//!
//! By jump hash: the buckets are the other shards that accept websites or count
//! in balance, sorted by name, with the new shard appended last (bucket n). A
//! website moves iff `jump_hash(id, n + 1) == n`; jump hash only ever moves keys
//! into the new bucket, so no website moves between two old shards and about
//! 1/(n+1) of them move. When the new shard's name sorts after the others this
//! agrees with placement's tie-break (`tied[jump_hash(id, tied.len())]` over
//! the tied shards sorted by name): a website placement would now send to the
//! new shard is exactly one that moves.
//!
//! By capacity: the new shard fills up to the mean website count over the
//! balanced shards counting itself (rounded down), each next website taken
//! from the then most loaded shard, largest first, within its capacity.

use std::cmp::Reverse;

use super::fleet::{Fleet, largest_first};
use super::{AddBy, PlanError, Refusal, ShardSnapshot};
use crate::shard_ops::jump_hash::jump_hash;

pub(super) fn add_shard(
    fleet: &mut Fleet,
    shard: &str,
    by: AddBy,
) -> Result<Vec<Refusal>, PlanError> {
    let new = fleet
        .index(shard)
        .ok_or_else(|| PlanError::Invalid(format!("shard {shard} is not in the configuration")))?;
    if !fleet.shards[new].accepts {
        return Err(PlanError::Invalid(format!(
            "shard {shard} does not accept websites ({})",
            fleet.why_not(new)
        )));
    }
    if fleet.count(new) > 0 {
        return Err(PlanError::Invalid(format!(
            "shard {shard} already holds {} website(s); a new shard starts empty",
            fleet.count(new)
        )));
    }
    Ok(match by {
        AddBy::JumpHash => by_jump_hash(fleet, new),
        AddBy::Capacity => by_capacity(fleet, new),
    })
}

/// An old shard that is one of jump hash's buckets beside the new shard `new`.
pub(super) fn is_bucket(shard: &ShardSnapshot, new: &str) -> bool {
    shard.name != new && (shard.accepts || shard.balanced)
}

/// Jump hash over `buckets` old shards and the new one names the new one.
pub(super) fn hashes_to_new(website_id: i64, buckets: u32) -> bool {
    jump_hash(website_id as u64, buckets + 1) == buckets
}

fn by_jump_hash(fleet: &mut Fleet, new: usize) -> Vec<Refusal> {
    let name = fleet.name(new);
    let buckets: Vec<usize> = (0..fleet.shards.len())
        .filter(|&i| is_bucket(fleet.shards[i], name))
        .collect();
    let n = buckets.len() as u32;
    let mut chosen: Vec<usize> = buckets
        .iter()
        .flat_map(|&b| fleet.on(b))
        .filter(|&w| hashes_to_new(fleet.websites[w].website_id, n))
        .collect();
    chosen.sort_by(|&a, &b| largest_first(&fleet.websites[a], &fleet.websites[b]));
    let mut refusals = Vec::new();
    for w in chosen {
        if let Some(busy) = fleet.busy(w) {
            refusals.push(busy);
        } else if !fleet.takes(new) {
            refusals.push(no_room(fleet, new, w));
        } else {
            fleet.apply(w, new);
        }
    }
    refusals
}

fn by_capacity(fleet: &mut Fleet, new: usize) -> Vec<Refusal> {
    let givers: Vec<usize> = (0..fleet.shards.len())
        .filter(|&i| i != new && fleet.shards[i].balanced)
        .collect();
    let total: i64 = givers.iter().map(|&i| fleet.count(i)).sum();
    let target = total / (givers.len() as i64 + 1);
    let mut refusals = Vec::new();
    while fleet.count(new) < target {
        if !fleet.takes(new) {
            refusals.push(short(
                fleet,
                new,
                target,
                format!("it is {}", fleet.why_not(new)),
            ));
            break;
        }
        // The most loaded giver with a website free to move, if giving still narrows the gap.
        let giver = givers
            .iter()
            .copied()
            .filter(|&g| fleet.count(g) > fleet.count(new) + 1)
            .filter(|&g| fleet.on(g).iter().any(|&w| fleet.movable(w)))
            .min_by_key(|&g| (Reverse(fleet.count(g)), g));
        let Some(giver) = giver else {
            let why = "the websites that could still move are busy".to_string();
            refusals.push(short(fleet, new, target, why));
            break;
        };
        let website = fleet.on(giver).into_iter().find(|&w| fleet.movable(w));
        if let Some(w) = website {
            fleet.apply(w, new);
        }
    }
    refusals
}

fn no_room(fleet: &Fleet, new: usize, website: usize) -> Refusal {
    let id = fleet.websites[website].website_id;
    Refusal {
        website_id: Some(id),
        reason: format!("shard {} is {}", fleet.name(new), fleet.why_not(new)),
    }
}

fn short(fleet: &Fleet, new: usize, target: i64, why: String) -> Refusal {
    Refusal {
        website_id: None,
        reason: format!(
            "shard {} reaches {} websites, short of the mean of {target}: {why}",
            fleet.name(new),
            fleet.count(new)
        ),
    }
}
