//! The dashboard's move lists: filtered by status, website, shard (either
//! end) and requester, newest first, paged by id; and the queue's state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::Status;
use crate::ids::{ShardName, WebsiteId};

/// One line of a move list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MoveLine {
    pub id: i64,
    pub website_id: i64,
    pub source_shard: String,
    pub target_shard: String,
    pub status: String,
    pub phase: String,
    pub rows_total: i64,
    pub rows_copied: i64,
    pub requested_by: Option<String>,
    pub error_code: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct MoveSearch {
    pub status: Option<Status>,
    pub website: Option<WebsiteId>,
    pub shard: Option<ShardName>,
    pub requested_by: Option<String>,
    /// Moves with an id below this one (the previous page's last id).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Newest first.
pub async fn search(
    conn: &mut PgConnection,
    filter: &MoveSearch,
) -> Result<Vec<MoveLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, website_id, source_shard, target_shard, status, phase, rows_total,
                rows_copied, requested_by, error_code, attempts, created_at, started_at, finished_at
           FROM shardmover.migrations
          WHERE ($1::text IS NULL OR status = $1)
            AND ($2::int8 IS NULL OR website_id = $2)
            AND ($3::text IS NULL OR source_shard = $3 OR target_shard = $3)
            AND ($4::text IS NULL OR requested_by = $4)
            AND ($5::int8 IS NULL OR id < $5)
          ORDER BY id DESC LIMIT $6",
    )
    .bind(filter.status.map(Status::as_str))
    .bind(filter.website.map(WebsiteId::get))
    .bind(filter.shard.as_ref().map(ShardName::as_str))
    .bind(filter.requested_by.as_deref())
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(conn)
    .await
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

/// Every move running now, oldest first.
pub async fn running(conn: &mut PgConnection) -> Result<Vec<MoveLine>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, website_id, source_shard, target_shard, status, phase, rows_total,
                rows_copied, requested_by, error_code, attempts, created_at, started_at, finished_at
           FROM shardmover.migrations WHERE status = 'in_progress' ORDER BY id",
    )
    .fetch_all(conn)
    .await
}
