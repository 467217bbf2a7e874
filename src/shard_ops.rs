//! Shard operations: the catalogue (status, capacity, labels), health probes,
//! statistics, distribution, placement, and assignment of websites that have
//! no rows yet. Every answer is computed from the control database (or the
//! shards themselves) so all API and worker processes agree.

mod admission;
mod assignment;
mod bulk;
mod catalogue;
pub mod checker;
mod distribution;
mod error;
mod fleet_sizes;
mod health;
pub mod jump_hash;
pub mod metrics;
mod placement;
mod probe;
mod row_counts;
mod size_estimates;
mod statistics;
mod tenant_rows;
mod website;

use sqlx::PgPool;

pub use assignment::{AssignRequest, Assignment};
pub use bulk::{BulkItem, BulkPlan, BulkRequest};
pub use catalogue::{ShardDetail, ShardUpdate, ShardView};
pub use distribution::{Distribution, ShardShare};
pub use error::ShardOpsError;
pub use fleet_sizes::Sized;
pub use health::HealthView;
pub(crate) use placement::ineligibility;
pub use placement::{Candidate, Recommendation};
pub use row_counts::RowCounts;
pub use statistics::{ShardStatistics, TableRows, TableSize};
pub use website::WebsiteView;

use crate::app::App;
use crate::config::Settings;
use crate::ids::ShardName;

/// Shard operations over the application's settings, control pool and shard pools.
pub struct ShardOps<'a> {
    app: &'a App,
}

impl<'a> ShardOps<'a> {
    pub fn new(app: &'a App) -> Self {
        Self { app }
    }

    fn settings(&self) -> &Settings {
        &self.app.settings
    }

    fn control(&self) -> &PgPool {
        &self.app.control
    }

    /// Configured shards, by name.
    fn configured(&self) -> Vec<ShardName> {
        self.settings()
            .shards
            .keys()
            .map(|name| ShardName::parse(name).expect("validated at load"))
            .collect()
    }

    /// The configured shard of that name, or `unknown_shard`.
    fn shard(&self, name: &str) -> Result<ShardName, ShardOpsError> {
        ShardName::parse(name)
            .ok()
            .filter(|n| self.settings().shard(n).is_some())
            .ok_or_else(|| ShardOpsError::UnknownShard(name.to_owned()))
    }

    /// `host:port/database` of a configured shard, never credentials.
    fn location(&self, name: &ShardName) -> String {
        self.app.shards.location(name).unwrap_or("").to_owned()
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, ShardOpsError> {
        self.control()
            .acquire()
            .await
            .map_err(ShardOpsError::control("connecting to the control database"))
    }
}
