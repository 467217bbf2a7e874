//! The one search of moves — by website, status, shard (either end) and
//! requester, newest first, paged by id — for the API, the dashboard and shard
//! operations; the moves running now; and the queue's state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::{COLUMNS, MoveRecord, from_row};
use crate::domain::Status;
use crate::ids::{ShardName, WebsiteId};
use crate::sql::audited;

#[derive(Debug, Clone, Default)]
pub struct MoveFilter {
    pub website: Option<WebsiteId>,
    pub status: Option<Status>,
    /// Moves from or to this shard.
    pub shard: Option<ShardName>,
    /// Lower-cased, as requesters are stored.
    pub requested_by: Option<String>,
    /// Moves with an id below this one (the previous page's last id).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn list(
    conn: &mut PgConnection,
    filter: &MoveFilter,
) -> Result<Vec<MoveRecord>, sqlx::Error> {
    let rows = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations
          WHERE ($1::int8 IS NULL OR website_id = $1)
            AND ($2::text IS NULL OR status = $2)
            AND ($3::text IS NULL OR source_shard = $3 OR target_shard = $3)
            AND ($4::text IS NULL OR requested_by = $4)
            AND ($5::int8 IS NULL OR id < $5)
          ORDER BY id DESC LIMIT $6"
    )))
    .bind(filter.website.map(WebsiteId::get))
    .bind(filter.status.map(Status::as_str))
    .bind(filter.shard.as_ref().map(ShardName::as_str))
    .bind(filter.requested_by.as_deref())
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every move running now, oldest first.
pub async fn running(conn: &mut PgConnection) -> Result<Vec<MoveRecord>, sqlx::Error> {
    let rows = sqlx::query(audited(&format!(
        "SELECT {COLUMNS} FROM shardmover.migrations WHERE status = 'in_progress' ORDER BY id"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Moves waiting or running, and the oldest one still waiting.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Queue {
    pub pending: i64,
    pub in_progress: i64,
    pub oldest_pending_id: Option<i64>,
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

pub async fn queue(conn: &mut PgConnection) -> Result<Queue, sqlx::Error> {
    // Both counts come from the partial unique index of unfinished moves.
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending')::int8 AS pending,
                count(*) FILTER (WHERE status = 'in_progress')::int8 AS in_progress,
                (array_agg(id ORDER BY id) FILTER (WHERE status = 'pending'))[1] AS oldest_pending_id,
                min(created_at) FILTER (WHERE status = 'pending') AS oldest_pending_at
           FROM shardmover.migrations WHERE status IN ('pending', 'in_progress')",
    )
    .fetch_one(conn)
    .await
}
