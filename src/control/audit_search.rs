//! The dashboard's audit log: by website, person and day, newest first.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::audit_logs::AuditEntry;
use crate::ids::WebsiteId;

#[derive(Debug, Clone, Default)]
pub struct AuditSearch {
    pub website: Option<WebsiteId>,
    pub changed_by: Option<String>,
    /// Entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub until: Option<DateTime<Utc>>,
    pub before: Option<i64>,
    pub limit: i64,
}

pub async fn search(
    conn: &mut PgConnection,
    filter: &AuditSearch,
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
    .bind(filter.from)
    .bind(filter.until)
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(conn)
    .await
}
