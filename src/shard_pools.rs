//! Connection pools to the configured shards, two per shard, opened lazily so
//! an unreachable shard only fails the work that needs it. Running moves have
//! a pool of their own, sized so they never wait for a connection; everything
//! else (API and dashboard reads, shard operations, dry runs) shares a small
//! one, so a burst of statistics can slow only other reads.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::config::Settings;
use crate::db::{describe, lazy_pool, shard_options};
use crate::ids::ShardName;

/// Which of a shard's two pools a piece of work draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolUse {
    /// A running move (its preflight included).
    Move,
    /// Everything else.
    Read,
}

struct ShardPool {
    moves: PgPool,
    reads: PgPool,
    /// `host:port/database`, safe to print.
    location: String,
}

/// Cheap to clone (the API and dashboard make a `Mover` per request).
#[derive(Clone)]
pub struct ShardPools {
    pools: Arc<BTreeMap<ShardName, ShardPool>>,
}

impl ShardPools {
    pub fn new(settings: &Settings) -> Self {
        let (moves, reads) = (move_pool_size(settings), read_pool_size(settings));
        let timeout = settings.connect_timeout();
        let pools = settings
            .shards
            .iter()
            .map(|(name, shard)| {
                let name = ShardName::parse(name).expect("validated at load");
                let options = shard_options(shard, &name);
                let pool = ShardPool {
                    location: describe(&options),
                    moves: lazy_pool(options.clone(), moves, timeout),
                    reads: lazy_pool(options, reads, timeout),
                };
                (name, pool)
            })
            .collect();
        Self {
            pools: Arc::new(pools),
        }
    }

    /// The shard's pool for running moves.
    pub fn moves(&self, name: &ShardName) -> Option<&PgPool> {
        self.get(name, PoolUse::Move)
    }

    /// The shard's pool for everything that is not a running move.
    pub fn reads(&self, name: &ShardName) -> Option<&PgPool> {
        self.get(name, PoolUse::Read)
    }

    pub fn get(&self, name: &ShardName, use_: PoolUse) -> Option<&PgPool> {
        let pool = self.pools.get(name)?;
        Some(match use_ {
            PoolUse::Move => &pool.moves,
            PoolUse::Read => &pool.reads,
        })
    }

    /// `host:port/database` of the shard, safe to print.
    pub fn location(&self, name: &ShardName) -> Option<&str> {
        self.pools.get(name).map(|pool| pool.location.as_str())
    }
}

/// Every move a process runs at once (`worker.concurrency`) may hold
/// `engine.move_connections_per_shard` connections on the same shard, so an
/// acquire by a running move never waits for another move, nor for a read.
fn move_pool_size(settings: &Settings) -> u32 {
    let concurrency = u32::try_from(settings.worker.concurrency).unwrap_or(u32::MAX);
    concurrency
        .max(1)
        .saturating_mul(settings.engine.move_connections_per_shard.max(1))
}

fn read_pool_size(settings: &Settings) -> u32 {
    settings.shard_ops.read_connections_per_shard.max(1)
}

/// One connection from each pool, never holding one while waiting for the
/// other: two callers taking them in opposite orders (a dry run from A to B
/// and one from B to A) would otherwise each hold what the other waits for.
/// If the second is not free at once, the first goes back and the wait is for
/// the second; the whole gives up after the first pool's acquire timeout.
pub async fn acquire_both(
    first: &PgPool,
    second: &PgPool,
) -> Result<(PoolConnection<Postgres>, PoolConnection<Postgres>), sqlx::Error> {
    let deadline = Instant::now() + first.options().get_acquire_timeout();
    loop {
        let a = first.acquire().await?;
        if let Some(b) = second.try_acquire() {
            return Ok((a, b));
        }
        drop(a);
        let b = second.acquire().await?;
        if let Some(a) = first.try_acquire() {
            return Ok((a, b));
        }
        drop(b);
        if Instant::now() >= deadline {
            return Err(sqlx::Error::PoolTimedOut);
        }
    }
}
