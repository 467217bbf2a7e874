//! Repository for `shardmover.audit_logs`: every shard change of a website.
//! Entries for moves are written with the move and follow its status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::ids::WebsiteId;

#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub website_id: i64,
    pub old_shard_name: Option<String>,
    pub new_shard_name: String,
    pub changed_by_email: Option<String>,
    pub status: String,
    pub notes: Option<String>,
    pub migration_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub website: Option<WebsiteId>,
    pub changed_by: Option<String>,
    /// Entries with an id below this one (the previous page's last id).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Entries at or after `from` and before `until` (the dashboard's days).
#[derive(Debug, Clone, Copy, Default)]
pub struct Period {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Newest first.
pub async fn list(
    conn: &mut PgConnection,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    list_in(conn, filter, Period::default()).await
}

/// `list` within `period`.
pub async fn list_in(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    period: Period,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, website_id, old_shard_name, new_shard_name, changed_by_email, status, notes,
                migration_id, created_at, updated_at
           FROM shardmover.audit_logs
          WHERE ($1::int8 IS NULL OR website_id = $1)
            AND ($2::text IS NULL OR changed_by_email = $2)
            AND ($3::timestamptz IS NULL OR created_at >= $3)
            AND ($4::timestamptz IS NULL OR created_at < $4)
            AND ($5::int8 IS NULL OR id < $5)
          ORDER BY id DESC LIMIT $6",
    )
    .bind(filter.website.map(WebsiteId::get))
    .bind(filter.changed_by.as_deref())
    .bind(period.from)
    .bind(period.until)
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(conn)
    .await
}

/// Records a plain assignment (no move, no rows): completed at once.
pub async fn insert_assignment(
    conn: &mut PgConnection,
    website: WebsiteId,
    old_shard: Option<&str>,
    new_shard: &str,
    changed_by: Option<&str>,
    notes: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO shardmover.audit_logs
            (website_id, old_shard_name, new_shard_name, changed_by_email, status, notes)
         VALUES ($1, $2, $3, $4, 'completed', $5) RETURNING id",
    )
    .bind(website.get())
    .bind(old_shard)
    .bind(new_shard)
    .bind(changed_by)
    .bind(notes)
    .fetch_one(conn)
    .await
}
