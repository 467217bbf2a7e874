//! One website: where it lives, its rows there, and its history of moves and
//! assignments.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::statistics::TableRows;
use super::tenant_rows::rows_on;
use super::{ShardOps, ShardOpsError};
use crate::control::audit_logs::{self, AuditEntry, AuditFilter};
use crate::control::migrations::{self, MoveFilter};
use crate::ids::{ShardName, WebsiteId};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebsiteView {
    pub website_id: i64,
    /// Null when the registry names no shard and there is no default.
    pub shard: Option<String>,
    pub location: Option<String>,
    /// Its rows per tenant table on that shard; null with `rows_error` if unreadable.
    pub rows: Option<Vec<TableRows>>,
    pub rows_error: Option<String>,
    pub active_migration_id: Option<i64>,
    /// Newest first (at most 50).
    pub migrations: Vec<MoveSummary>,
    /// Every shard change, moves and assignments, newest first (at most 50).
    pub history: Vec<AuditEntry>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MoveSummary {
    pub id: i64,
    pub source_shard: String,
    pub target_shard: String,
    pub status: String,
    pub phase: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl ShardOps<'_> {
    pub async fn website(&self, website: WebsiteId) -> Result<WebsiteView, ShardOpsError> {
        let shard = self.registered_shard(website).await?;
        let mut conn = self.conn().await?;
        let filter = MoveFilter {
            website: Some(website),
            limit: 50,
            ..Default::default()
        };
        let moves = migrations::list(&mut conn, &filter)
            .await
            .map_err(ShardOpsError::control("reading moves"))?;
        let audit = AuditFilter {
            website: Some(website),
            limit: 50,
            ..Default::default()
        };
        let history = audit_logs::list(&mut conn, &audit)
            .await
            .map_err(ShardOpsError::control("reading the audit log"))?;
        drop(conn);
        let configured = shard
            .as_deref()
            .and_then(|s| ShardName::parse(s).ok())
            .filter(|s| self.settings().shard(s).is_some());
        let (rows, rows_error) = match &configured {
            Some(name) => self.rows_of(name, website).await,
            None => (
                None,
                shard
                    .as_ref()
                    .map(|s| format!("shard {s:?} is not configured")),
            ),
        };
        Ok(WebsiteView {
            website_id: website.get(),
            location: configured.as_ref().map(|s| self.location(s)),
            shard,
            rows,
            rows_error,
            active_migration_id: moves
                .iter()
                .find(|m| !m.status.is_final())
                .map(|m| m.id.get()),
            migrations: moves
                .iter()
                .map(|m| MoveSummary {
                    id: m.id.get(),
                    source_shard: m.source.to_string(),
                    target_shard: m.target.to_string(),
                    status: m.status.to_string(),
                    phase: m.phase.to_string(),
                    created_at: m.created_at,
                    finished_at: m.finished_at,
                })
                .collect(),
            history,
        })
    }

    async fn rows_of(
        &self,
        shard: &ShardName,
        website: WebsiteId,
    ) -> (Option<Vec<TableRows>>, Option<String>) {
        let pool = self
            .app
            .shards
            .reads(shard)
            .expect("configured shards have pools");
        let timeout = self.settings().shard_ops.probe_timeout() * 2;
        match tokio::time::timeout(timeout, rows_on(pool, &self.settings().tenancy, website)).await
        {
            Ok(Ok(rows)) => (
                Some(
                    rows.into_iter()
                        .map(|(name, rows)| TableRows { name, rows })
                        .collect(),
                ),
                None,
            ),
            Ok(Err(e)) => (None, Some(e.one_line())),
            Err(_) => (
                None,
                Some(format!("no answer within {} ms", timeout.as_millis())),
            ),
        }
    }
}
