//! Repository for `shardmover.audit_logs`: every shard change of a website.
//! Entries for moves are written with the move and follow its status.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::ids::WebsiteId;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
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

/// Newest first (the dashboard's `audit_search` adds a date range).
pub async fn list(
    conn: &mut PgConnection,
    filter: &AuditFilter,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let search = super::audit_search::AuditSearch {
        website: filter.website,
        changed_by: filter.changed_by.clone(),
        before: filter.before,
        limit: filter.limit,
        ..Default::default()
    };
    super::audit_search::search(conn, &search).await
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
