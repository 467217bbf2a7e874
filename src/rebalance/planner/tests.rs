//! Fixtures for the planner's tests: a shard or a website in one call, so each
//! test reads as the fleet it sets up.

use super::*;

mod add_shard;
mod balance;
mod drain;
mod listed;
mod properties;
mod sizing;

/// An available shard without a limit.
pub(super) fn open(name: &str) -> ShardSnapshot {
    ShardSnapshot {
        name: name.into(),
        accepts: true,
        balanced: true,
        capacity: None,
        why_not: None,
    }
}

/// An available shard that holds at most `capacity` websites.
pub(super) fn capped(name: &str, capacity: i64) -> ShardSnapshot {
    ShardSnapshot {
        capacity: Some(capacity),
        ..open(name)
    }
}

/// A shard that counts in balance but takes no websites, for `why`.
pub(super) fn closed(name: &str, why: &str) -> ShardSnapshot {
    ShardSnapshot {
        accepts: false,
        why_not: Some(why.into()),
        ..open(name)
    }
}

pub(super) fn site(website_id: i64, shard: &str, rows: i64, bytes: i64) -> WebsiteSize {
    WebsiteSize {
        website_id,
        shard: shard.into(),
        rows,
        bytes,
        busy: None,
    }
}

/// `count` websites on `shard` with ids from `first`, each a little larger than the last.
pub(super) fn sites(first: i64, count: i64, shard: &str) -> Vec<WebsiteSize> {
    (first..first + count)
        .map(|id| site(id, shard, id, 100 * id))
        .collect()
}

pub(super) fn busy(website: WebsiteSize, why: &str) -> WebsiteSize {
    WebsiteSize {
        busy: Some(why.into()),
        ..website
    }
}

/// The shard's websites once the plan is done.
pub(super) fn count_after(plan: &Arithmetic, shard: &str) -> i64 {
    load_after(plan, shard).websites
}

pub(super) fn load_after<'a>(plan: &'a Arithmetic, shard: &str) -> &'a ShardLoad {
    plan.after
        .iter()
        .find(|l| l.shard == shard)
        .expect("a shard of the snapshot")
}

pub(super) fn moved_ids(plan: &Arithmetic) -> Vec<i64> {
    plan.moves.iter().map(|m| m.website_id).collect()
}
