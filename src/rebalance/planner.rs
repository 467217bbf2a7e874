//! The arithmetic of a fleet rebalance plan (issue 19): given the shards and
//! the websites with their sizes, which websites move where, which cannot and
//! why, and what every shard holds before and after. Pure — no database, no
//! async — so every rule here is tested without a shard in sight.

use serde::{Deserialize, Serialize};

mod add_shard;
mod balance;
mod band;
mod drain;
mod fleet;
mod listed;
mod needed;
mod shortfall;
#[cfg(test)]
mod tests;

use fleet::Fleet;
pub use needed::{Sizing, needed};

/// One shard as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSnapshot {
    pub name: String,
    /// May receive websites: configured, status available, not UNHEALTHY (placement's rule).
    pub accepts: bool,
    /// Counts in balance arithmetic (available, at_capacity or maintenance).
    pub balanced: bool,
    /// Most websites it may hold; `None` is no limit.
    pub capacity: Option<i64>,
    /// When it does not accept: why (e.g. "status maintenance", "UNHEALTHY", "full").
    pub why_not: Option<String>,
}

/// One website and its size.
#[derive(Debug, Clone, PartialEq)]
pub struct WebsiteSize {
    pub website_id: i64,
    pub shard: String,
    pub rows: i64,
    pub bytes: i64,
    /// Why it cannot move now (an unfinished move, or in another plan).
    pub busy: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Websites,
    Rows,
    Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddBy {
    JumpHash,
    Capacity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    Drain { shard: String },
    Balance { by: Measure, threshold: f64 },
    AddShard { shard: String, by: AddBy },
    List { moves: Vec<ListedMove> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedMove {
    pub website_id: i64,
    pub target_shard: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedMove {
    pub website_id: i64,
    pub source_shard: String,
    pub target_shard: String,
    pub rows: i64,
    pub bytes: i64,
}

/// A website that will not move, or (`website_id: None`) a goal the plan misses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    pub website_id: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardLoad {
    pub shard: String,
    pub websites: i64,
    pub rows: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arithmetic {
    pub moves: Vec<PlannedMove>,
    pub refusals: Vec<Refusal>,
    /// Every shard of the snapshot, by name.
    pub before: Vec<ShardLoad>,
    /// The same shards once the planned moves are done.
    pub after: Vec<ShardLoad>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("unknown shard {0}")]
    UnknownShard(String),
    #[error("{0}")]
    Invalid(String),
}

/// Plans `kind` over the snapshot. Websites on shards the snapshot does not
/// name count on no shard's load; they move only when a list names them.
pub fn plan(
    kind: &Kind,
    shards: &[ShardSnapshot],
    websites: &[WebsiteSize],
) -> Result<Arithmetic, PlanError> {
    let mut fleet = Fleet::new(shards, websites);
    let refusals = match kind {
        Kind::Drain { shard } => drain::drain(&mut fleet, shard)?,
        Kind::Balance { by, threshold } => balance::balance(&mut fleet, *by, *threshold)?,
        Kind::AddShard { shard, by } => add_shard::add_shard(&mut fleet, shard, *by)?,
        Kind::List { moves } => listed::listed(&mut fleet, moves)?,
    };
    // A list is the operator's order; every other plan moves the largest first.
    let keep_order = matches!(kind, Kind::List { .. });
    Ok(fleet.finish(refusals, keep_order))
}
