//! Connection pools to the configured shards, one per shard, opened lazily so an
//! unreachable shard only fails the work that needs it.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlx::PgPool;

use crate::config::{Settings, ShardSettings};
use crate::db::{describe, lazy_pool, shard_options};
use crate::ids::ShardName;

/// Connections per shard: a copy holds one on each side, plus verify and progress.
const POOL_SIZE: u32 = 6;

/// Cheap to clone (the API and dashboard make a `Mover` per request).
#[derive(Clone)]
pub struct ShardPools {
    pools: Arc<BTreeMap<ShardName, (PgPool, String)>>,
}

impl ShardPools {
    pub fn new(settings: &Settings) -> Self {
        let pools = settings
            .shards
            .iter()
            .map(|(name, shard): (&String, &ShardSettings)| {
                let name = ShardName::parse(name).expect("validated at load");
                let options = shard_options(shard, &name);
                let location = describe(&options);
                let pool = lazy_pool(options, POOL_SIZE, settings.connect_timeout());
                (name, (pool, location))
            })
            .collect();
        Self {
            pools: Arc::new(pools),
        }
    }

    pub fn get(&self, name: &ShardName) -> Option<&PgPool> {
        self.pools.get(name).map(|(pool, _)| pool)
    }

    /// `host:port/database` of the shard, safe to print.
    pub fn location(&self, name: &ShardName) -> Option<&str> {
        self.pools.get(name).map(|(_, location)| location.as_str())
    }
}
