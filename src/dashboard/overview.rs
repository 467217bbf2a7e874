//! The overview: every shard with status, health, latency, connections, size,
//! websites against capacity and labels; the distribution; the queue; moves
//! running now with their progress.

use actix_web::{HttpResponse, web};
use minijinja::context;
use serde::Serialize;

use super::access::Feature;
use super::moves::Line;
use super::{Dashboard, PageError, Session};
use crate::control::migrations;
use crate::shard_ops::{ShardOps, ShardView};

/// A shard as the overview draws it.
#[derive(Debug, Serialize)]
struct ShardRow {
    #[serde(flatten)]
    shard: ShardView,
    /// Websites as a share of capacity, 0..100; null without a limit.
    fill_percent: Option<f64>,
}

pub async fn page(
    dashboard: web::Data<Dashboard>,
    session: Session,
) -> Result<HttpResponse, PageError> {
    dashboard.require(Feature::Admin)?;
    let ops = ShardOps::new(&dashboard.app);
    // Probes only shards that were never probed; answers come from stored probes.
    ops.health(false, true).await?;
    let shards: Vec<ShardRow> = ops
        .list()
        .await?
        .into_iter()
        .map(|shard| ShardRow {
            fill_percent: shard.capacity.map(|c| {
                if c == 0 {
                    100.0
                } else {
                    (shard.websites as f64 * 100.0 / c as f64).min(100.0)
                }
            }),
            shard,
        })
        .collect();
    let distribution = ops.distribution().await?;
    let mut conn = dashboard.app.control_pool().acquire().await?;
    let queue = migrations::queue(&mut conn).await?;
    let running: Vec<Line> = migrations::running(&mut conn)
        .await?
        .into_iter()
        .map(Line::from)
        .collect();
    let values = context! { nav => "overview", shards, distribution, queue, running };
    super::render::page(&dashboard, &session, "overview.html", values)
}
