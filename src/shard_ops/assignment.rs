//! Assignment of a website that has no rows yet (a new tenant) straight onto a
//! shard: the registry update and its audit entry commit together. A website
//! with rows anywhere must be moved instead.

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{ShardOps, ShardOpsError};
use crate::control::{audit_logs, migrations, registry};
use crate::ids::{ShardName, WebsiteId};

#[derive(Debug, Clone)]
pub struct AssignRequest {
    pub website: WebsiteId,
    pub target: String,
    pub requested_by: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Assignment {
    pub website_id: i64,
    pub old_shard: Option<String>,
    pub new_shard: String,
    /// False when the website was already there (nothing written).
    pub changed: bool,
    pub audit_log_id: Option<i64>,
}

impl ShardOps<'_> {
    /// Validated like a move (configured, available, room, not UNHEALTHY), then
    /// refused if the website has rows on any shard or a move under way.
    pub async fn assign(&self, request: &AssignRequest) -> Result<Assignment, ShardOpsError> {
        let target = self.shard(&request.target)?;
        let current = self.registered_shard(request.website).await?;
        if current.as_deref() == Some(target.as_str()) {
            return Ok(Assignment {
                website_id: request.website.get(),
                old_shard: current,
                new_shard: target.to_string(),
                changed: false,
                audit_log_id: None,
            });
        }
        self.health(false, false).await?;
        let mut tx = self
            .control()
            .begin()
            .await
            .map_err(ShardOpsError::control("connecting to the control database"))?;
        self.admit(&mut tx, &target, 1, true, true).await?;
        let id = self
            .assign_in(&mut tx, request, &target, current.as_deref())
            .await?;
        // With the registry row locked, so no move or assignment can slip in:
        // the window for an application's first write on the old shard is
        // only what is left until the commit.
        self.ensure_no_rows(request.website).await?;
        tx.commit()
            .await
            .map_err(ShardOpsError::control("saving the assignment"))?;
        tracing::info!(website_id = %request.website, shard = %target, "website assigned");
        Ok(Assignment {
            website_id: request.website.get(),
            old_shard: current,
            new_shard: target.to_string(),
            changed: true,
            audit_log_id: Some(id),
        })
    }

    /// Updates the registry row (if it still says `expected`) and writes the
    /// audit entry, on the caller's transaction.
    pub(crate) async fn assign_in(
        &self,
        tx: &mut PgConnection,
        request: &AssignRequest,
        target: &ShardName,
        expected: Option<&str>,
    ) -> Result<i64, ShardOpsError> {
        let tenancy = &self.settings().tenancy;
        let website = request.website;
        let locked = registry::lock_shard_of(tx, tenancy, website)
            .await
            .map_err(ShardOpsError::control("reading the tenant registry"))?
            .ok_or(ShardOpsError::UnknownWebsite(website))?;
        if locked.shard() != expected {
            return Err(ShardOpsError::Changed(website));
        }
        if let Some(active) = migrations::find_active(tx, website)
            .await
            .map_err(ShardOpsError::control("reading moves"))?
        {
            return Err(ShardOpsError::MoveInProgress {
                website,
                migration: active.id,
            });
        }
        if !registry::assign(tx, tenancy, website, expected, target)
            .await
            .map_err(ShardOpsError::control("updating the tenant registry"))?
        {
            return Err(ShardOpsError::Changed(website));
        }
        audit_logs::insert_assignment(
            tx,
            website,
            expected,
            target.as_str(),
            request.requested_by.as_deref(),
            request.notes.as_deref(),
        )
        .await
        .map_err(ShardOpsError::control("writing the audit log"))
    }

    /// The website's shard (`None`: none yet), or `unknown_website`. Reads
    /// without a lock: `assign_in` locks the row and checks it again.
    pub(crate) async fn registered_shard(
        &self,
        website: WebsiteId,
    ) -> Result<Option<String>, ShardOpsError> {
        let mut conn = self.conn().await?;
        registry::lookup(&mut conn, &self.settings().tenancy, website)
            .await
            .map_err(ShardOpsError::control("reading the tenant registry"))?
            .map(registry::Registration::into_shard)
            .ok_or(ShardOpsError::UnknownWebsite(website))
    }
}
