//! The fleet as the planner sees it: every shard with whether it may receive
//! websites (placement's rule) and whether it counts in balance arithmetic,
//! every website with its size and whether it is free to move now.

use std::collections::HashMap;

use super::RebalanceError;
use super::planner::{ShardSnapshot, WebsiteSize};
use crate::app::App;
use crate::control::rebalances;
use crate::shard_ops::{ShardOps, ineligibility};
use crate::shard_status::ShardStatus;

pub struct Fleet {
    pub shards: Vec<ShardSnapshot>,
    pub websites: Vec<WebsiteSize>,
}

pub async fn snapshot(app: &App) -> Result<Fleet, RebalanceError> {
    let ops = ShardOps::new(app);
    let views = ops.list().await?;
    let shards = views
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
    let websites = ops
        .website_sizes()
        .await?
        .into_iter()
        .map(|s| WebsiteSize {
            website_id: s.website.get(),
            shard: s.shard,
            rows: s.rows,
            bytes: s.bytes,
            busy: busy.get(&s.website.get()).cloned(),
        })
        .collect();
    Ok(Fleet { shards, websites })
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
