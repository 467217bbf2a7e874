//! Which websites a plan must size before it is planned. Measuring a website
//! reads all its rows, so a plan sizes only those whose sizes can change what
//! it decides: a drain the drained shard's websites, a list the listed ones, a
//! jump-hash add_shard those the hash sends to the new shard (the order of the
//! moves, and so which of them a full shard refuses, follows their sizes). The
//! other plans weigh every website — balance compares loads and picks the
//! largest that fits, add_shard by capacity takes each giver's largest — so
//! they size them all. A website left unsized never moves and never decides a
//! refusal; it only counts towards its shard's load before and after.

use std::collections::HashSet;

use super::add_shard::{hashes_to_new, is_bucket};
use super::{AddBy, Kind, ShardSnapshot};

/// The websites to size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sizing {
    All,
    Only(HashSet<i64>),
}

impl Sizing {
    pub fn includes(&self, website_id: i64) -> bool {
        match self {
            Sizing::All => true,
            Sizing::Only(ids) => ids.contains(&website_id),
        }
    }
}

/// What `kind` needs sized, given the shards and where the registry places
/// each website (`(website_id, shard)`).
pub fn needed(kind: &Kind, shards: &[ShardSnapshot], placed: &[(i64, String)]) -> Sizing {
    let on = |pick: &dyn Fn(i64, &str) -> bool| {
        let ids = placed.iter().filter(|(id, shard)| pick(*id, shard));
        Sizing::Only(ids.map(|(id, _)| *id).collect())
    };
    match kind {
        Kind::Drain { shard } => on(&|_, on| on == shard),
        Kind::List { moves } => {
            let listed: HashSet<i64> = moves.iter().map(|m| m.website_id).collect();
            on(&|id, _| listed.contains(&id))
        }
        Kind::AddShard {
            shard: new,
            by: AddBy::JumpHash,
        } => {
            let buckets: HashSet<&str> = (shards.iter())
                .filter(|s| is_bucket(s, new))
                .map(|s| s.name.as_str())
                .collect();
            let n = buckets.len() as u32;
            on(&|id, on| buckets.contains(on) && hashes_to_new(id, n))
        }
        Kind::AddShard {
            by: AddBy::Capacity,
            ..
        }
        | Kind::Balance { .. } => Sizing::All,
    }
}
