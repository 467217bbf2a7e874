//! The fleet as the planner sees it: every shard with whether it may receive
//! websites (placement's rule) and whether it counts in balance arithmetic,
//! every website with its size and whether it is free to move now. Only the
//! websites the plan needs are measured (`planner::needed`); the others carry
//! an estimate, which shows only in the loads before and after.

use std::collections::{HashMap, HashSet};

use super::RebalanceError;
use super::planner::{self, Kind, ShardSnapshot, Sizing, WebsiteSize};
use crate::app::App;
use crate::control::rebalances;
use crate::shard_ops::{ShardOps, ineligibility};
use crate::shard_status::ShardStatus;

pub struct Fleet {
    pub shards: Vec<ShardSnapshot>,
    pub websites: Vec<WebsiteSize>,
    /// Websites whose sizes are estimates, not measured.
    pub estimated: HashSet<i64>,
}

/// The fleet as `kind` needs it: every website measured under `Sizing::All`.
pub async fn snapshot(app: &App, kind: &Kind) -> Result<Fleet, RebalanceError> {
    let ops = ShardOps::new(app);
    let views = ops.list().await?;
    let shards: Vec<ShardSnapshot> = views
        .iter()
        .filter(|v| v.configured)
        .map(|v| {
            let why_not = ineligibility(v);
            ShardSnapshot {
                name: v.name.clone(),
                accepts: why_not.is_none(),
                balanced: matches!(
                    v.status,
                    ShardStatus::Available | ShardStatus::AtCapacity | ShardStatus::Maintenance
                ),
                capacity: v.capacity,
                why_not,
            }
        })
        .collect();
    let busy = busy_websites(app).await?;
    let placed = ops.placed().await?;
    let measure = match planner::needed(kind, &shards, &placed) {
        Sizing::All => None,
        Sizing::Only(ids) => Some(ids),
    };
    let sizes = ops.website_sizes(&placed, measure.as_ref()).await?;
    let estimated = (sizes.iter())
        .filter(|s| s.estimated)
        .map(|s| s.website.get())
        .collect();
    let websites = (sizes.into_iter())
        .map(|s| WebsiteSize {
            website_id: s.website.get(),
            shard: s.shard,
            rows: s.rows,
            bytes: s.bytes,
            busy: busy.get(&s.website.get()).cloned(),
        })
        .collect();
    Ok(Fleet {
        shards,
        websites,
        estimated,
    })
}

/// Websites that cannot join a plan now, with why.
async fn busy_websites(app: &App) -> Result<HashMap<i64, String>, RebalanceError> {
    let mut conn = app.control_pool().acquire().await?;
    let mut busy: HashMap<i64, String> = rebalances::unfinished_moves(&mut conn)
        .await?
        .into_iter()
        .map(|(website, id)| (website, format!("move {id} of this website is unfinished")))
        .collect();
    for (website, plan) in rebalances::websites_in_live_plans(&mut conn).await? {
        busy.insert(website, format!("already in rebalance {plan}"));
    }
    Ok(busy)
}
